"""Translations: the files, the language each request gets, and pages in that language."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from importlib import resources
from pathlib import Path

import httpx
import pytest

from lightchat import LightChat, Message, Settings
from lightchat.domain.events import Entry, MessageData, MessageEvent
from lightchat.domain.transcript import Transcript
from lightchat.ui.i18n import ACCEPT_LANGUAGE, Translations, parse_accept_language, placeholders
from lightchat.ui.render import Renderer
from lightchat.ui.stream_view import StreamView
from tests.helpers import Serve

LANGUAGES = [
    "en", "fr", "de", "es", "pt", "ja", "zh-CN", "ar", "bn", "da", "el", "gu", "he", "hi",
    "it", "kn", "ko", "ml", "mr", "nl", "ta", "te", "zh-TW",
]  # fmt: skip


def _file(tag: str) -> dict[str, str]:
    path = resources.files("lightchat") / "translations" / f"{tag}.json"
    data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return data


# -- the files ------------------------------------------------------------------------------


def test_every_language_ships() -> None:
    assert sorted(Translations().languages) == sorted(LANGUAGES)


@pytest.mark.parametrize("tag", LANGUAGES[1:])
def test_a_language_has_exactly_the_english_keys_and_placeholders(tag: str) -> None:
    english = _file("en")
    other = _file(tag)
    assert set(other) == set(english)
    for key, text in english.items():
        assert placeholders(other[key]) == placeholders(text), key
        assert other[key].strip(), key


def test_templates_use_only_known_keys() -> None:
    import re

    english = _file("en")
    folder = resources.files("lightchat") / "templates"
    used: set[str] = set()
    for entry in folder.iterdir():
        if entry.name.endswith(".html"):
            used |= set(re.findall(r'\bt\("([\w.]+)"', entry.read_text(encoding="utf-8")))
    assert used
    assert used - set(english) == set()


# -- choosing the language ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "chosen"),
    [
        ("", "en"),
        ("fr", "fr"),
        ("fr-CH, fr;q=0.9, en;q=0.8", "fr"),
        ("fr-CH", "fr"),
        ("en-US,en;q=0.9", "en"),
        ("de;q=0.2, ja;q=0.8", "ja"),
        ("sv, es;q=0.5", "es"),
        ("pt-BR", "pt"),
        ("zh-CN", "zh-CN"),
        ("zh-cn", "zh-CN"),
        ("zh", "zh-CN"),
        ("ar-EG", "ar"),
        ("fr;q=0, de", "de"),
        ("sv, fi", "en"),
        ("*", "en"),
        ("fr;q=oops, de;q=0.5", "de"),
        ("garbage;;;,,", "en"),
    ],
)
def test_accept_language_picks_a_language(header: str, chosen: str) -> None:
    assert Translations().choose(header) == chosen


def test_quality_values_order_the_tags() -> None:
    assert parse_accept_language("a;q=0.1, b, c;q=0.5, d;q=0") == ["b", "c", "a"]


def test_text_falls_back_to_english_and_fills_placeholders() -> None:
    translations = Translations()
    assert translations.text("fr", "composer.send") == "Envoyer"
    assert translations.text("fr", "js.remove_file", name="a.txt") == "Retirer a.txt"
    assert translations.text("xx", "composer.send") == "Send"
    assert translations.text("fr", "no.such.key") == "no.such.key"
    assert translations.direction("ar") == "rtl"
    assert translations.direction("fr") == "ltr"


def test_an_app_file_overrides_one_text_and_can_add_a_language(tmp_path: Path) -> None:
    folder = tmp_path / "translations"
    folder.mkdir()
    (folder / "fr.json").write_text('{"composer.send": "Go !"}', encoding="utf-8")
    (folder / "sv.json").write_text('{"composer.send": "Skicka"}', encoding="utf-8")
    translations = Translations(tmp_path)
    assert translations.text("fr", "composer.send") == "Go !"
    assert translations.text("fr", "composer.stop") == "Arrêter"
    assert translations.choose("sv-SE") == "sv"
    assert translations.text("sv", "composer.send") == "Skicka"
    assert translations.text("sv", "composer.stop") == "Stop"


def test_a_stream_renders_in_the_language_it_was_opened_with() -> None:
    renderer = Renderer(Settings(name="Bot", edit=False), "v1")
    done = MessageData(id="m1", author="Bot", type="assistant_message", content="hi")
    reset = ACCEPT_LANGUAGE.set("de-DE,de;q=0.9")
    try:
        view = StreamView(renderer, Transcript(), base="", chat_url="/chat/c1", interval=0.1)
        chunks = view.feed([Entry(1, MessageEvent(done))], now=0.0)
    finally:
        ACCEPT_LANGUAGE.reset(reset)
    assert '<span class="lc-sr">Kopieren</span></button>' in "".join(c.data for c in chunks)


# -- pages ----------------------------------------------------------------------------------


class Names(HTMLParser):
    """The html element's attributes, and the accessible names given by aria-label."""

    def __init__(self) -> None:
        super().__init__()
        self.html: dict[str, str | None] = {}
        self.labels: set[str] = set()
        self.buttons: list[str] = []
        self._in_button = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "html":
            self.html = found
        if found.get("aria-label"):
            self.labels.add(str(found["aria-label"]))
        if tag == "button":
            self._in_button = True
            self.buttons.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "button":
            self._in_button = False

    def handle_data(self, data: str) -> None:
        if self._in_button:
            self.buttons[-1] += data


def _app(settings: Settings) -> LightChat:
    app = LightChat(settings=settings)

    @app.on_message
    async def main(message: Message) -> None:
        await Message(content=message.content).send()

    return app


async def _page(serve: Serve, app: LightChat, language: str | None) -> tuple[httpx.Response, Names]:
    headers = {"Accept-Language": language} if language else {}
    async with serve(app) as site:
        client = site.browser(headers=headers)
        start = await client.get("/")
        page = await client.get(start.headers["location"])
    names = Names()
    names.feed(page.text)
    return page, names


@pytest.mark.anyio
async def test_the_page_in_french(tmp_path: Path, serve: Serve) -> None:
    app = _app(Settings(name="Bot", history=False, uploads=True, app_dir=str(tmp_path)))
    page, names = await _page(serve, app, "fr-CH, fr;q=0.9, en;q=0.5")
    assert names.html.get("lang") == "fr"
    assert names.html.get("dir") == "ltr"
    assert "Envoyer" in [b.strip() for b in names.buttons]
    assert {"Conversation", "Message", "Joindre des fichiers", "Éléments"} <= names.labels
    assert "Retirer {name}" in page.text  # the texts lightchat.js shows


@pytest.mark.anyio
async def test_the_page_is_english_without_accept_language(tmp_path: Path, serve: Serve) -> None:
    app = _app(Settings(name="Bot", history=False, app_dir=str(tmp_path)))
    _, names = await _page(serve, app, None)
    assert names.html.get("lang") == "en"
    assert "Send" in [b.strip() for b in names.buttons]
    assert {"Conversation", "Message"} <= names.labels


@pytest.mark.anyio
async def test_the_page_in_arabic_is_right_to_left(tmp_path: Path, serve: Serve) -> None:
    app = _app(Settings(name="Bot", history=False, app_dir=str(tmp_path)))
    _, names = await _page(serve, app, "ar")
    assert names.html.get("lang") == "ar"
    assert names.html.get("dir") == "rtl"
    assert "إرسال" in [b.strip() for b in names.buttons]
    assert {"المحادثة", "الرسالة"} <= names.labels


@pytest.mark.anyio
async def test_an_app_translation_file_changes_one_text(tmp_path: Path, serve: Serve) -> None:
    (tmp_path / "translations").mkdir()
    (tmp_path / "translations" / "fr.json").write_text(
        json.dumps({"composer.send": "Expédier"}), encoding="utf-8"
    )
    app = _app(Settings(name="Bot", history=False, app_dir=str(tmp_path)))
    _, names = await _page(serve, app, "fr")
    buttons = [b.strip() for b in names.buttons]
    assert "Expédier" in buttons
    assert "Envoyer" not in buttons
    assert "Message" in names.labels


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-HK", "zh-TW"),
        ("zh-Hant", "zh-TW"),
        ("zh-Hans-CN", "zh-CN"),
        ("zh", "zh-CN"),
        ("iw", "he"),
        ("he-IL", "he"),
        ("pt-PT", "pt"),
        ("ar-SA", "ar"),
        ("da-DK", "da"),
        ("el-GR", "el"),
    ],
)
def test_each_of_chainlits_languages_and_its_variants_gets_its_texts(
    header: str, expected: str
) -> None:
    assert Translations().choose(header) == expected
    assert Translations().direction(expected) == ("rtl" if expected in ("ar", "he") else "ltr")
