"""The UI's languages: translation files, and the language each request is answered in.

The texts the default UI shows live in ``lightchat/translations/<lang>.json``: one flat
object from a key (``"composer.send"``) to the text, English being the source. A text may
hold placeholders in braces (``"Remove {name}"``), filled in when it is used. An app's own
``translations/<lang>.json`` (in its folder) is merged over the packaged file of that
language, so it can change any text, or add a language of its own; a key a file lacks
falls back to English.

Each request is answered in the language its ``Accept-Language`` header prefers among those
there are (quality values honoured; ``fr-CH`` falls back to ``fr``, ``zh-TW`` to ``zh-CN``),
else English. ``Languages`` (``lightchat.http.middleware.language``) keeps the header in
``ACCEPT_LANGUAGE``
for the request, so everything rendered for it (a page, an htmx answer, or the events of a
stream, which belongs to one browser) speaks that browser's language.

Texts the server sends without a template (a refusal from a middleware, a ``problem()``
notice) come from the same files: ``Languages`` also keeps the app's ``Translations`` in
``TRANSLATIONS``, and ``say`` / ``notice`` look them up for the request being answered.
Since such answers, and every page, differ by language, ``Languages`` adds
``Vary: Accept-Language`` to every HTML and plain-text answer, so no cache hands a French
page to a German browser.
"""

from __future__ import annotations

import difflib
import json
import re
from contextvars import ContextVar
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

DEFAULT = "en"
"""The source language, and the one used when the browser asks for none there is."""

RTL = frozenset({"ar", "fa", "he", "ur", "ps", "yi", "dv", "ku", "sd", "ug"})
"""Primary language subtags written right to left."""

ACCEPT_LANGUAGE: ContextVar[str] = ContextVar("lightchat_accept_language", default="")
"""The ``Accept-Language`` header of the request being answered ("" outside a request)."""

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_TAG = re.compile(r"^[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*$")
MAX_HEADER_CHARS = 1000

_SAME_TEXTS = {
    "zh-hk": "zh-TW",  # Hong Kong and Macau write Traditional Chinese, as Taiwan does
    "zh-mo": "zh-TW",
    "zh-hant": "zh-TW",
    "zh-hant-tw": "zh-TW",
    "zh-hant-hk": "zh-TW",
    "zh-hans": "zh-CN",
    "iw": "he",  # Hebrew's former tag, which some systems still send
}
"""Tags whose texts are another tag's file, beyond what their primary language gives."""


def placeholders(text: str) -> set[str]:
    """The names of the placeholders in a text (``{name}``)."""
    return set(_PLACEHOLDER.findall(text))


def parse_accept_language(header: str) -> list[str]:
    """The language tags of an ``Accept-Language`` header, most wanted first (q=0 left out)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header[:MAX_HEADER_CHARS].split(",")):
        tag, _, params = part.strip().partition(";")
        tag = tag.strip()
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if tag == "*" or not _TAG.match(tag) or not quality > 0:
            continue
        ranked.append((-quality, index, tag))
    return [tag for _, _, tag in sorted(ranked)]


def _read(path: Path) -> dict[str, str]:
    data = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a translation file holds one JSON object")
    return {str(key): str(value) for key, value in data.items()}


def packaged() -> dict[str, dict[str, str]]:
    """The packaged translations, by language tag (each caller's own copy to change)."""
    return {tag: dict(texts) for tag, texts in _packaged().items()}


@lru_cache(maxsize=1)
def _packaged() -> dict[str, dict[str, str]]:
    """The packaged files, read and parsed once per process: every app built in it (each
    ``Renderer`` has its ``Translations``) starts from the same texts."""
    found: dict[str, dict[str, str]] = {}
    folder = resources.files("lightchat") / "translations"
    for entry in folder.iterdir():
        if entry.name.endswith(".json"):
            data = json.loads(entry.read_text(encoding="utf-8"))
            found[entry.name.removesuffix(".json")] = {str(k): str(v) for k, v in data.items()}
    return found


class Translations:
    """The texts of every language there is: the packaged ones, with the app's merged over."""

    def __init__(self, app_dir: str | Path | None = None) -> None:
        self.texts = packaged()
        # The server's notices by their packaged English text (what the code raises), so
        # an app's file can change a notice in any language, English included.
        self._notice_keys = {
            value: key for key, value in self.texts[DEFAULT].items() if key.startswith("notice.")
        }
        if app_dir is not None:
            folder = Path(app_dir, "translations")
            if folder.is_dir():
                for path in sorted(folder.glob("*.json")):
                    tag = path.stem
                    self.texts[tag] = {**self.texts.get(tag, {}), **_read(path)}
        self.english = self.texts[DEFAULT]
        self._by_lower = {tag.lower(): tag for tag in self.texts}
        self._by_primary: dict[str, str] = {}
        for tag in sorted(self.texts, key=lambda t: (t.count("-"), t)):
            self._by_primary.setdefault(tag.split("-")[0].lower(), tag)
        for other, tag in _SAME_TEXTS.items():
            if tag in self.texts:
                self._by_lower.setdefault(other, tag)
        self.choose = lru_cache(maxsize=256)(self._choose)

    @property
    def languages(self) -> list[str]:
        """The language tags there are."""
        return sorted(self.texts)

    def _choose(self, header: str) -> str:
        """The language to answer an ``Accept-Language`` header in."""
        for tag in parse_accept_language(header):
            lower = tag.lower()
            if lower in self._by_lower:
                return self._by_lower[lower]
            primary = self._by_primary.get(lower.split("-")[0])
            if primary is not None:
                return primary
        return DEFAULT

    def text(self, language: str, key: str, **values: Any) -> str:
        """One text in a language (English when that language lacks it; the key when no
        language has it), its placeholders filled in from ``values``."""
        found = self.texts.get(language, self.english).get(key)
        if found is None:
            found = self.english.get(key, key)
        if values:
            found = _PLACEHOLDER.sub(
                lambda match: str(values.get(match.group(1), match.group(0))), found
            )
        return found

    def current(self) -> str:
        """The language of the request being answered."""
        return self.choose(ACCEPT_LANGUAGE.get())

    def t(self, key: str, **values: Any) -> str:
        """A text in the language of the request being answered."""
        return self.text(self.current(), key, **values)

    def direction(self, language: str | None = None) -> str:
        """``rtl`` or ``ltr``: how a language is written (the current one by default)."""
        tag = language if language is not None else self.current()
        return "rtl" if tag.split("-")[0].lower() in RTL else "ltr"

    def notice(self, text: str) -> str:
        """``text`` in the current language when it is the English text of a ``notice.*``
        key, else ``text`` unchanged.

        The server's fixed notices (``HTTPException`` details, refusals) are written in
        English where they are raised, which keeps them readable in the code and in logs;
        they are translated here, where they are sent. Any other text (an app's own, or one
        with values filled in) is sent as it is.
        """
        key = self._notice_keys.get(text)
        return text if key is None else self.t(key)

    def script_texts(self, language: str | None = None) -> str:
        """The texts that ``lightchat.js`` shows (keys ``js.*``), as JSON."""
        tag = language if language is not None else self.current()
        keys = [key for key in self.english if key.startswith("js.")]
        return json.dumps({key[3:]: self.text(tag, key) for key in keys}, ensure_ascii=False)


TRANSLATIONS: ContextVar[Translations | None] = ContextVar("lightchat_translations", default=None)
"""The app's translations while one of its requests is answered (set by ``Languages``)."""


@lru_cache(maxsize=1)
def _packaged_translations() -> Translations:
    return Translations()


def current_translations() -> Translations:
    """The translations of the app answering the request (the packaged ones outside one)."""
    found = TRANSLATIONS.get()
    return found if found is not None else _packaged_translations()


def say(key: str, **values: Any) -> str:
    """A text in the language of the request being answered, for code without a template
    (middleware, error answers)."""
    return current_translations().t(key, **values)


def notice(text: str) -> str:
    """A fixed English notice in the language of the request being answered (see
    ``Translations.notice``)."""
    return current_translations().notice(text)


def lint_translations(app_dir: str | Path) -> tuple[int, list[str]]:
    """Check an app's ``translations/*.json`` against the packaged English texts: each is a
    JSON object of strings, every key is one lightchat knows (an unknown one is most likely
    a typo, and would never show), and each text has its English text's placeholders.
    Returns how many files were read, and the problems found (one line each)."""
    english = _packaged()[DEFAULT]
    folder = Path(app_dir, "translations")
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    problems: list[str] = []
    for path in files:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            problems.append(f"{path}: not readable JSON ({exc})")
            continue
        if not isinstance(data, dict):
            problems.append(f"{path}: not a JSON object of texts")
            continue
        for key, text in data.items():
            if key not in english:
                close = difflib.get_close_matches(key, english, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                problems.append(f"{path}: unknown key {key!r}{hint}")
            elif not isinstance(text, str):
                problems.append(f"{path}: {key!r} is not a string")
            elif placeholders(text) != placeholders(english[key]):
                wanted = ", ".join(sorted(f"{{{n}}}" for n in placeholders(english[key])))
                problems.append(
                    f"{path}: {key!r} must use the placeholders {wanted or '(none)'}, "
                    "as the English text does"
                )
    return len(files), problems
