"""Which files an element made from ``path=`` may read.

An app that builds ``cl.File(path=...)`` from a user's or a model's words must not let
them show any file of the server. A path is read only when all of these hold, after
symbolic links and ``..`` are followed:

- it is inside one of the folders elements may read (``Settings.element_folders``: by
  default the app's ``public/`` folder and the system's temporary folder);
- no part of it below that folder is hidden (a name starting with ``.``: ``.env``,
  ``.git``, ``.ssh``), and its name does not end with ``.env``;
- it is none of lightchat's own state, whatever folders are configured: the state folder
  (``.lightchat``: the secret that signs cookies, the database), the SQLite database and
  its journal files wherever ``database_url`` puts them, and the upload store; compared by
  path and by file identity, so a hard link elsewhere does not open them either;
- a file of the upload store is read only when it is one of this chat's own files (a file
  its user uploaded, or one the app already showed in it), known by its storage key.

The file is then opened without following a link in its last part and checked to be a
regular file, so a link swapped in after the check is not followed.

A refusal raises ``ElementPathError`` with a short message that names no path of the
server (it is shown in the chat); the paths go to the server's log.

Layer 3 beside the file storage: the standard library, the settings and the errors only.
"""

from __future__ import annotations

import logging
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from lightchat.config.settings import Settings
from lightchat.errors import ElementPathError

__all__ = ["OUTSIDE", "PROTECTED", "ElementFiles"]

logger = logging.getLogger("lightchat")

#: What the chat shows for a path outside the folders elements may read.
OUTSIDE = (
    "This file is outside the folders elements may read, so it is not shown. "
    "Put it in the app's public/ folder, pass its bytes as content=, or add its folder "
    "to LIGHTCHAT_ELEMENT_DIRS (the server's log names the file)."
)
#: What the chat shows for a hidden file or one of lightchat's own.
PROTECTED = (
    "This file is hidden or belongs to lightchat itself (its secret, database or stored "
    "files), so no element may show it (the server's log names the file)."
)

_SQLITE_URL = re.compile(r"sqlite(?:\+\w+)?:///(?P<path>[^?]+)", re.IGNORECASE)
_JOURNALS = ("", "-wal", "-shm", "-journal")


@dataclass(frozen=True, slots=True)
class ElementFiles:
    """The rules for one app: where elements may read, and what they never read.

    >>> rules = ElementFiles.for_settings(Settings(app_dir="/srv/app"), store=None)
    >>> [str(folder) for folder in rules.folders][0]
    '/srv/app/public'
    """

    folders: tuple[Path, ...]
    protected: tuple[Path, ...]
    store: Path | None

    @classmethod
    def for_settings(cls, settings: Settings, *, store: Path | None) -> ElementFiles:
        """The rules for these settings; ``store`` is the upload store's folder, if local."""
        protected = [settings.state_dir()]
        database = _sqlite_path(settings.database_url)
        if database is not None:
            protected += [database.with_name(database.name + end) for end in _JOURNALS]
        if store is not None:
            store = store.resolve()
            protected.append(store)
        return cls(settings.element_folders(), tuple(protected), store)

    def read(self, path: str | os.PathLike[str], own_key: Callable[[str], bool]) -> bytes:
        """The bytes of ``path`` if elements may read it; ``own_key(key)`` tells whether a
        file of the upload store belongs to the chat. Raises ``ElementPathError`` for a
        refused path, ``FileNotFoundError`` for a missing file in an allowed place."""
        resolved = Path(path).resolve()  # links followed and ".." gone; may not exist
        refusal = self._refusal(resolved, own_key)
        if refusal is not None:
            logger.warning(
                "An element's path=%r was refused (it is %s): %s",
                os.fspath(path),
                resolved,
                "outside the folders elements may read" if refusal is OUTSIDE else "protected",
            )
            raise ElementPathError(refusal)
        try:
            fd = os.open(resolved, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        except FileNotFoundError:
            logger.warning("An element's path=%r names no file (%s)", os.fspath(path), resolved)
            raise FileNotFoundError("No file is at this element's path=.") from None
        except OSError as exc:
            logger.warning("An element's path=%r could not be opened: %s", os.fspath(path), exc)
            raise ElementPathError("This element's path= is not a file that can be read.") from None
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise ElementPathError("This element's path= is not a file.")
        if info.st_nlink > 1 and self._is_protected_file(info):
            os.close(fd)
            logger.warning("An element's path=%r is a link to lightchat's state", path)
            raise ElementPathError(PROTECTED)
        with os.fdopen(fd, "rb") as file:
            return file.read()

    def _refusal(self, resolved: Path, own_key: Callable[[str], bool]) -> str | None:
        if self.store is not None and resolved.is_relative_to(self.store):
            key = resolved.relative_to(self.store).as_posix()
            return None if own_key(key) else PROTECTED
        if any(resolved.is_relative_to(place) for place in self.protected):
            return PROTECTED
        folder = next((f for f in self.folders if resolved.is_relative_to(f)), None)
        if folder is None:
            return OUTSIDE
        if _hidden(resolved.relative_to(folder).parts):
            return PROTECTED
        return None

    def _is_protected_file(self, info: os.stat_result) -> bool:
        """True when the opened file is one of lightchat's own under another name (a hard
        link); the store's files are checked by their place, not here."""
        for place in self.protected:
            if place == self.store:
                continue
            for candidate in _files_of(place):
                try:
                    other = candidate.stat()
                except OSError:
                    continue
                if (other.st_dev, other.st_ino) == (info.st_dev, info.st_ino):
                    return True
        return False


def _hidden(parts: Iterable[str]) -> bool:
    return any(part.startswith(".") or part.endswith(".env") for part in parts)


def _files_of(place: Path) -> Iterable[Path]:
    """The file at ``place``, or the files directly in it (the state folder: the secret,
    the database and its journals)."""
    if place.is_dir():
        try:
            return [child for child in place.iterdir() if child.is_file()]
        except OSError:
            return []
    return [place]


def _sqlite_path(url: str) -> Path | None:
    """The file of a SQLite database URL (None for another database or in memory).

    >>> _sqlite_path("sqlite+aiosqlite:////srv/data/chat.db")
    PosixPath('/srv/data/chat.db')
    """
    found = _SQLITE_URL.match(url.strip())
    if found is None or found["path"] in ("", ":memory:"):
        return None
    return Path(found["path"]).resolve()
