"""The readme page, LaTeX as MathML, collapsed long messages, and the server's notices in
the browser's language (with ``Vary: Accept-Language``)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from lightchat.api.message import Message
from lightchat.app import LightChat
from lightchat.cli import load_app
from lightchat.config.settings import Settings
from lightchat.config.toml import read_config_file
from lightchat.domain.events import Entry, MessageData, MessageEvent, TokenEvent
from lightchat.domain.transcript import Transcript
from lightchat.ui.markdown import render_markdown, render_split
from lightchat.ui.readme import Readme
from lightchat.ui.render import Renderer
from lightchat.ui.stream_view import StreamView
from tests.helpers import Serve

pytestmark = pytest.mark.anyio

FRENCH = "fr-FR,fr;q=0.9,en;q=0.5"
SAFE_TAG_NAMES = "p span div code math mrow mi mn mo mtext mstyle msup msub mfrac mspace"
SAFE_TAGS = set(SAFE_TAG_NAMES.split())


def _app(folder: Path, **settings: object) -> LightChat:
    app = LightChat(settings=Settings(name="Bot", history=False, app_dir=str(folder), **settings))  # type: ignore[arg-type]

    @app.on_message
    async def main(message: Message) -> None:
        await Message(content=message.content).send()

    return app


@asynccontextmanager
async def _client(
    serve: Serve, app: LightChat, language: str | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Accept-Language": language} if language else {}
    async with serve(app) as site:
        yield site.browser(headers=headers)


async def _chat_page(client: httpx.AsyncClient) -> tuple[str, httpx.Response]:
    start = await client.get("/")
    url = start.headers["location"]
    return url, await client.get(url)


def _readme_files(folder: Path) -> None:
    (folder / "lightchat.md").write_text("# Welcome\n\nHello <script>alert(1)</script>")
    (folder / "lightchat_fr-FR.md").write_text("# Bienvenue\n\nBonjour")
    (folder / "lightchat_fr.md").write_text("# Salut\n\nfr seul")
    (folder / "lightchat_de.md").write_text("# Willkommen")


# -- the readme ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "title"),
    [
        ("fr-FR,fr;q=0.9", "Bienvenue"),  # the full tag first
        ("fr-CH,en;q=0.5", "Salut"),  # then its language
        ("de-AT", "Willkommen"),  # a file of the language, whatever its region
        ("es", "Welcome"),  # else the default file
        ("", "Welcome"),
    ],
)
async def test_the_readme_is_chosen_by_language(
    tmp_path: Path, header: str, title: str, serve: Serve
) -> None:
    _readme_files(tmp_path)
    app = _app(tmp_path)
    async with _client(serve, app, header or None) as client:
        page = await client.get("/readme")
        dialog = await client.get("/readme", headers={"HX-Request": "true"})
    assert page.status_code == 200
    assert f"<h1>{title}</h1>" in page.text
    assert "<html" in page.text
    assert re.search(r"\sopen>", page.text)
    assert dialog.status_code == 200
    assert f"<h1>{title}</h1>" in dialog.text
    assert "<html" not in dialog.text
    assert "data-lc-modal" in dialog.text
    assert "Accept-Language" in page.headers["vary"]
    assert "HX-Request" in page.headers["vary"]


async def test_the_readme_is_sanitised(tmp_path: Path, serve: Serve) -> None:
    _readme_files(tmp_path)
    async with _client(serve, _app(tmp_path)) as client:
        page = await client.get("/readme")
    assert "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


async def test_chainlit_md_is_used_when_there_is_no_lightchat_md(
    tmp_path: Path, serve: Serve
) -> None:
    (tmp_path / "chainlit.md").write_text("# From Chainlit")
    (tmp_path / "chainlit_fr-FR.md").write_text("# De Chainlit")
    async with _client(serve, _app(tmp_path)) as client:
        assert "<h1>From Chainlit</h1>" in (await client.get("/readme")).text
        french = await client.get("/readme", headers={"Accept-Language": FRENCH})
        assert "<h1>De Chainlit</h1>" in french.text
    # lightchat.md wins over chainlit.md.
    (tmp_path / "lightchat.md").write_text("# Mine")
    async with _client(serve, _app(tmp_path)) as client:
        assert "<h1>Mine</h1>" in (await client.get("/readme")).text


async def test_the_header_button_opens_the_readme_in_the_pages_language(
    tmp_path: Path, serve: Serve
) -> None:
    _readme_files(tmp_path)
    async with _client(serve, _app(tmp_path), FRENCH) as client:
        _, page = await _chat_page(client)
    assert 'action="/readme"' in page.text
    assert 'hx-get="/readme"' in page.text
    assert re.search(
        r"<button[^>]*lc-readme-button[^>]*>(<svg.*?</svg>)?Lisez-moi</button>", page.text
    )


@pytest.mark.parametrize("content", [None, "", "  \n"])
async def test_no_readme_no_button_and_a_404(
    tmp_path: Path, content: str | None, serve: Serve
) -> None:
    if content is not None:
        (tmp_path / "lightchat.md").write_text(content)  # empty: hidden, as in Chainlit
    async with _client(serve, _app(tmp_path)) as client:
        _, page = await _chat_page(client)
        missing = await client.get("/readme")
    assert "lc-readme-button" not in page.text
    assert missing.status_code == 404
    assert "This app has no readme." in missing.text


def test_the_readme_is_read_again_only_when_its_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "lightchat.md"
    path.write_text("# One")
    readme = Readme(tmp_path)
    assert readme.html("") == "<h1>One</h1>\n"
    reads: list[Path] = []
    original = Path.open

    def counting_open(self: Path, *args: Any, **kwargs: Any) -> Any:
        if args and args[0] == "rb":
            reads.append(self)
        return original(self, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Path, "open", counting_open)
        for _ in range(3):
            assert readme.html("") == "<h1>One</h1>\n"
        assert reads == []  # cached: not read on every page view
        path.write_text("# Two, longer")
        assert readme.html("") == "<h1>Two, longer</h1>\n"
        assert reads == [path]


# -- LaTeX ---------------------------------------------------------------------------------


def test_latex_becomes_mathml() -> None:
    html = render_markdown(r"Area: $\pi r^2$ and $$\frac{a}{b}$$", math=True)
    assert '<math display="inline">' in html
    assert "<mi>π</mi>" in html
    assert "<msup>" in html
    assert "<mfrac>" in html
    block = render_markdown("Sum:\n\n$$\n\\sum_{i=1}^n i\n$$\n", math=True)
    assert '<div class="lc-math lc-math-display"><math display="block">' in block


def test_latex_is_off_by_default() -> None:
    assert Settings().latex is False
    assert render_markdown("$x^2$") == "<p>$x^2$</p>\n"
    assert "<math" not in Renderer(Settings(), "v1").message(
        MessageData(id="m1", author="Bot", type="assistant_message", content="$x^2$"), ""
    )


def test_latex_is_on_from_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "lightchat.toml").write_text("[features]\nlatex = true\n")
    settings = Settings.from_env({}, config_file=True, app_dir=str(tmp_path))
    assert read_config_file(str(tmp_path))["latex"] is True
    page = Renderer(settings, "v1").message(
        MessageData(id="m1", author="Bot", type="assistant_message", content="$x^2$"), ""
    )
    assert '<math display="inline">' in page


def test_dollars_of_money_stay_text() -> None:
    for math in (False, True):
        assert render_markdown("It costs $5 and $6.", math=math) == "<p>It costs $5 and $6.</p>\n"
        assert "<math" not in render_markdown("from $ 5 to $ 6", math=math)
    assert "<math" not in render_markdown(r"an escaped \$x\$", math=True)


@pytest.mark.parametrize(
    "hostile",
    [
        r"$\href{javascript:alert(1)}{x}$",
        "$<script>alert(1)</script>$",
        r"$\style{background:url(javascript:alert(1))}{x}$",
        r"$\text{<img src=x onerror=alert(1)>}$",
        r"$\text{<a href='javascript:alert(1)'>x</a>}$",
        r"$\class{lc-app}{x}$",
        r"$\color{red;background:url(x)}{x}$",
        r"$\unicode{x}$",
        "$$\n\\text{</math><script>alert(1)</script>}\n$$",
        "$" + "{" * 3000 + "x" + "}" * 3000 + "$",
    ],
)
def test_hostile_latex_is_neutralised(hostile: str) -> None:
    html = render_markdown(hostile, math=True)
    # What is left once the escaped source (shown when math cannot be converted) is gone.
    lowered = re.sub(r"<code[^>]*>.*?</code>", "", html.lower(), flags=re.S)
    for bad in ("<script", "<img", "<a ", "href=", "style=", 'class="lc-app', "onerror="):
        assert bad not in lowered, (bad, html)
    assert "javascript:" not in lowered
    # Only allowed MathML tags (or the escaped source in <code>) come out.
    tags = set(re.findall(r"<([a-z]+)", html))
    assert tags <= SAFE_TAGS, tags


def test_streaming_settles_finished_math_blocks() -> None:
    text = "Intro\n\n$$\na^2 + b^2\n$$\n\nthen $c"
    settled, settled_html, tail_html = render_split(text, math=True)
    assert text[:settled].endswith("$$\n\n")
    assert '<math display="block">' in settled_html
    assert tail_html == "<p>then $c</p>\n"
    # An unfinished $$ block is the tail: nothing after the paragraph before it is final.
    partial = "Intro\n\n$$\na^2 +"
    settled, settled_html, tail_html = render_split(partial, math=True)
    assert partial[settled:] == "$$\na^2 +"
    assert "<math" not in tail_html
    # Rendered in pieces as a stream does, the result is the whole text's rendering.
    renderer = Renderer(Settings(latex=True), "v1")
    transcript = Transcript.from_entries(
        [Entry(1, MessageEvent(MessageData("m1", "Bot", "assistant_message", streaming=True)))]
    )
    view = StreamView(renderer, transcript, base="", chat_url="/chat/c1", interval=0.0)
    sent = ""
    for seq, token in enumerate(re.findall(r"\S+|\s+", text), start=2):
        for chunk in view.feed([Entry(seq, TokenEvent("m1", token))], seq * 1.0):
            sent += chunk.data
    assert sent.count("<mfrac") == 0
    assert sent.count('<math display="block">') >= 1
    assert "<msup><mi>a</mi><mn>2</mn></msup>" in sent


# -- collapsed long messages --------------------------------------------------------------


def _long(lines: int = 40) -> MessageData:
    content = "\n\n".join(f"Paragraph {i}" for i in range(lines))
    return MessageData(id="m1", author="Bot", type="assistant_message", content=content)


def _on_page(renderer: Renderer, message: MessageData) -> str:
    """The message as a page shows it (a stream sends it ``live``)."""
    return renderer.env.get_template("_message.html").render(message=message, base="")


def test_a_long_message_is_collapsed_behind_show_more() -> None:
    html = _on_page(Renderer(Settings(), "v1"), _long())
    assert 'class="lc-collapse"' in html
    assert '<input type="checkbox" class="lc-collapse-toggle" id="msg-m1-more">' in html
    assert '<label class="lc-collapse-label" for="msg-m1-more">' in html
    assert "Show more" in html
    assert "Show less" in html
    # The whole text is in the page: only CSS hides the end.
    assert "Paragraph 0" in html
    assert "Paragraph 39" in html


def test_short_or_streaming_messages_are_not_collapsed() -> None:
    renderer = Renderer(Settings(), "v1")
    assert "lc-collapse" not in _on_page(renderer, _long(3))
    streaming = _long()
    streaming.streaming = True
    assert "lc-collapse" not in _on_page(renderer, streaming)
    many_chars = MessageData(id="m2", author="Bot", type="assistant_message", content="x" * 3001)
    assert "lc-collapse" in _on_page(renderer, many_chars)


def test_an_answer_arriving_live_stays_whole_but_the_users_own_is_collapsed() -> None:
    renderer = Renderer(Settings(), "v1")
    # The stream's render: an answer the user just watched does not fold away...
    assert "lc-collapse" not in renderer.message(_long(), "")
    # ...while a long text the user pasted is collapsed at once.
    pasted = MessageData(id="u1", author="You", type="user_message", content="x" * 3001)
    assert "lc-collapse" in renderer.message(pasted, "")


def test_collapse_off_never_collapses(tmp_path: Path) -> None:
    (tmp_path / "lightchat.toml").write_text("[UI]\ndefault_collapse_content = false\n")
    settings = Settings.from_env({}, config_file=True, app_dir=str(tmp_path))
    assert settings.collapse_content is False
    renderer = Renderer(settings, "v1")
    assert "lc-collapse" not in _on_page(renderer, _long())
    pasted = MessageData(id="u1", author="You", type="user_message", content="x" * 3001)
    assert "lc-collapse" not in renderer.message(pasted, "")


# -- the server's notices, translated --------------------------------------------------------


async def test_an_over_long_message_is_refused_in_french(tmp_path: Path, serve: Serve) -> None:
    app = _app(tmp_path, max_message_chars=10)
    async with _client(serve, app, FRENCH) as client:
        url, _ = await _chat_page(client)
        htmx = await client.post(
            f"{url}/messages", data={"content": "x" * 20}, headers={"HX-Request": "true"}
        )
        plain = await client.post(f"{url}/messages", data={"content": "x" * 20})
        empty = await client.post(f"{url}/messages", data={"content": " "})
    assert htmx.status_code == 413
    assert "Le message compte 20 caractères ; la limite est de 10." in htmx.text
    assert plain.status_code == 413
    assert "Raccourcissez-le" in plain.text
    assert "Écrivez un message avant de l&#39;envoyer." in empty.text or (
        "Écrivez un message avant de l'envoyer." in empty.text
    )
    for response in (htmx, plain, empty):
        assert "Accept-Language" in response.headers["vary"]


async def test_english_notices_keep_their_wording(tmp_path: Path, serve: Serve) -> None:
    app = _app(tmp_path, max_message_chars=10)
    async with _client(serve, app) as client:
        url, _ = await _chat_page(client)
        response = await client.post(f"{url}/messages", data={"content": "x" * 20})
        missing = await client.get("/chat/nope")
    assert "The message is 20 characters long; the limit is 10." in response.text
    assert "This chat does not exist, or it has ended." in missing.text


async def test_refusals_of_the_middleware_are_translated(tmp_path: Path, serve: Serve) -> None:
    app = _app(tmp_path)
    async with _client(serve, app, "de-DE,de") as client:
        url, _ = await _chat_page(client)
        no_token = await client.post(
            f"{url}/messages", data={"content": "hi"}, headers={"X-CSRF-Token": "wrong"}
        )
        cross = await client.post(
            f"{url}/messages", data={"content": "hi"}, headers={"Origin": "https://evil.example"}
        )
        missing = await client.get("/chat/nope")
    assert no_token.status_code == 403
    assert "Das Sicherheitstoken dieser Anfrage ist falsch oder veraltet" in no_token.text
    assert cross.status_code == 403
    assert "Diese Anfrage kam von einer anderen Website" in cross.text
    assert "Diesen Chat gibt es nicht, oder er ist beendet." in missing.text
    for response in (no_token, cross, missing):
        assert "Accept-Language" in response.headers["vary"]


async def test_pages_vary_by_language(tmp_path: Path, serve: Serve) -> None:
    async with _client(serve, _app(tmp_path)) as client:
        _, page = await _chat_page(client)
        health = await client.get("/-/health")
    assert "Accept-Language" in page.headers["vary"]
    assert health.text == "ok"


# -- the example ----------------------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "10_readme_math" / "app.py"


@pytest.mark.usefixtures("isolated_import")
async def test_the_example_has_a_readme_per_language_and_latex_on(serve: Serve) -> None:
    app = load_app(str(EXAMPLE))
    renderer = app.build().state.services.renderer
    assert renderer.math is True
    assert renderer.settings.collapse_content is True
    assert "About this assistant" in (renderer.readme.html("en") or "")
    french = renderer.readme.html(FRENCH) or ""
    assert "À propos de cet assistant" in french
    assert "<math" in french
    async with _client(serve, app, FRENCH) as client:
        url, page = await _chat_page(client)
        readme = await client.get("/readme", headers={"HX-Request": "true"})
        await client.post(f"{url}/messages", data={"content": "math"})
        answered = await client.get(url)
    # translations/fr.json beside the app changes two texts; the others stay lightchat's.
    assert "À propos</button>" in page.text
    assert 'placeholder="Posez une question, ou tapez « math »…"' in page.text
    assert "Envoyer" in page.text
    assert "À propos de cet assistant" in readme.text
    assert '<math display="block">' in answered.text
    assert "the book costs $5 and the pen $2" in answered.text
