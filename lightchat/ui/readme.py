"""The app's readme: ``lightchat.md`` beside the app, one file per language if it likes.

The readme is the page the header's "Readme" button opens. Its files sit in the app's
folder: ``lightchat.md`` for everyone, ``lightchat_fr-FR.md`` (or ``lightchat_fr.md``) for
browsers that prefer French, and so on. Chainlit's names (``chainlit.md``,
``chainlit_fr-FR.md``) work too, when the folder has no ``lightchat*.md`` file.

Each request gets the file of the first language its ``Accept-Language`` header names that
has one (``fr-CH`` takes ``lightchat_fr-CH.md``, else ``lightchat_fr.md``, else another
French one such as ``lightchat_fr-FR.md``), else ``lightchat.md``. A file that is empty (or
only white space) means "no readme", as in Chainlit: the button is not shown.

The readme is written by the app's author, but it goes through the same safe markdown
renderer as messages (raw HTML is escaped). The folder is listed again only when its
modification time changes, and a file is read and rendered again only when its own does,
so a page view costs a ``stat`` or two, not a read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lightchat.ui.i18n import ACCEPT_LANGUAGE, parse_accept_language
from lightchat.ui.markdown import render_markdown

FAMILIES = ("lightchat", "chainlit")
"""The readme's file names, without ``.md``, in order of preference."""

MAX_README_BYTES = 1024 * 1024
"""A larger readme file is cut to this size."""


@dataclass(frozen=True, slots=True)
class _Rendered:
    stamp: tuple[int, int]  # modification time and size when it was read
    html: str


class Readme:
    """Finds and renders an app's readme files (see the module docstring).

    ``images`` and ``math`` are passed to the markdown renderer, as for messages.
    """

    def __init__(self, app_dir: str | Path, *, images: bool = True, math: bool = False) -> None:
        self.folder = Path(app_dir)
        self.images = images
        self.math = math
        self._listed: tuple[int, dict[str, Path]] | None = None
        self._rendered: dict[Path, _Rendered] = {}

    def _files(self) -> dict[str, Path]:
        """The readme files there are, by language tag in lower case ("" for the default)."""
        try:
            stamp = self.folder.stat().st_mtime_ns
        except OSError:
            return {}
        if self._listed is not None and self._listed[0] == stamp:
            return self._listed[1]
        names: dict[str, dict[str, Path]] = {family: {} for family in FAMILIES}
        try:
            entries = list(os.scandir(self.folder))
        except OSError:
            entries = []
        for entry in entries:
            stem, dot, suffix = entry.name.rpartition(".")
            if not dot or suffix.lower() != "md" or not entry.is_file():
                continue
            for family in FAMILIES:
                if stem == family:
                    names[family][""] = Path(entry.path)
                elif stem.startswith(family + "_") and len(stem) > len(family) + 1:
                    names[family][stem[len(family) + 1 :].lower()] = Path(entry.path)
        found = next((names[family] for family in FAMILIES if names[family]), {})
        self._listed = (stamp, found)
        return found

    def path(self, header: str | None = None) -> Path | None:
        """The readme file for an ``Accept-Language`` header (the current request's by
        default), or None when there is none."""
        files = self._files()
        if not files:
            return None
        wanted = ACCEPT_LANGUAGE.get() if header is None else header
        for tag in parse_accept_language(wanted):
            lower = tag.lower()
            primary = lower.split("-")[0]
            if lower in files:
                return files[lower]
            if primary in files:
                return files[primary]
            for key in sorted(files):
                if key.split("-")[0] == primary and key:
                    return files[key]
        return files.get("")

    def html(self, header: str | None = None) -> str | None:
        """The readme for an ``Accept-Language`` header (the current request's by default)
        as safe HTML; None when there is none, or its file is empty."""
        path = self.path(header)
        if path is None:
            return None
        try:
            info = path.stat()
        except OSError:
            return None
        stamp = (info.st_mtime_ns, info.st_size)
        cached = self._rendered.get(path)
        if cached is None or cached.stamp != stamp:
            try:
                with path.open("rb") as file:
                    text = file.read(MAX_README_BYTES).decode("utf-8", errors="replace")
            except OSError:
                return None
            html = render_markdown(text, images=self.images, math=self.math) if text.strip() else ""
            cached = _Rendered(stamp, html)
            self._rendered[path] = cached
        return cached.html or None
