"""Look and brand over HTTP: the theme stylesheet from lightchat.toml and public/theme.json,
its validation, the public/ folder, logo, favicon and avatars, the app's own CSS and JS
with the Content-Security-Policy that allows them, the theme toggle and the wide layout."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest

from lightchat import LightChat, Message, Settings
from lightchat.cli import load_app
from lightchat.config.toml import read_config_file, starter_config
from lightchat.domain.events import MessageData
from lightchat.errors import ConfigError
from lightchat.ui.theme import THEME_COOKIE, Brand, author_key, colour
from tests.helpers import Serve

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(15)]

PIXEL_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"><rect width="1" height="1"/></svg>'
)

# Chainlit's documented theme.json, shortened but in its exact shape.
CHAINLIT_THEME: dict[str, Any] = {
    "custom_fonts": [
        "https://fonts.googleapis.com/css2?family=Inter:wght@400;500;700&display=swap"
    ],
    "variables": {
        "light": {
            "--font-sans": "'Inter', sans-serif",
            "--font-mono": "source-code-pro, Menlo, Monaco, Consolas, 'Courier New', monospace",
            "--background": "0 0% 100%",
            "--foreground": "0 0% 5%",
            "--card": "0 0% 100%",
            "--card-foreground": "0 0% 5%",
            "--popover": "0 0% 100%",
            "--primary": "340 92% 52%",
            "--primary-foreground": "0 0% 100%",
            "--secondary": "210 40% 96.1%",
            "--muted": "0 0% 90%",
            "--muted-foreground": "0 0% 36%",
            "--accent": "0 0% 95%",
            "--destructive": "0 84.2% 60.2%",
            "--border": "0 0% 90%",
            "--input": "0 0% 90%",
            "--ring": "340 92% 52%",
            "--radius": "0.75rem",
            "--sidebar-background": "0 0% 98%",
        },
        "dark": {
            "--font-sans": "'Inter', sans-serif",
            "--background": "0 0% 13%",
            "--foreground": "0 0% 93%",
            "--primary": "340 92% 52%",
            "--primary-foreground": "0 0% 100%",
            "--border": "0 0% 25%",
            "--sidebar-background": "0 0% 9%",
        },
    },
}


def make_app(folder: Path, toml: str = "", **settings: Any) -> LightChat:
    """An app in ``folder``, configured by a lightchat.toml there and by ``settings``."""
    if toml:
        (folder / "lightchat.toml").write_text(toml, encoding="utf-8")
    values = read_config_file(folder)
    app = LightChat(
        settings=Settings(**{"app_dir": str(folder), **values, "history": False, **settings})
    )

    @app.on_chat_start
    async def start() -> None:
        await Message(content="Hello", author="My Assistant").send()

    return app


OpenSite = Callable[[LightChat], Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def site(serve: Serve) -> AsyncIterator[OpenSite]:
    """Serve an app for the test (``await site(app)``); a browser on it."""
    async with AsyncExitStack() as stack:

        async def open_site(app: LightChat) -> httpx.AsyncClient:
            served = await stack.enter_async_context(serve(app, timeout=None))
            return served.browser()

        yield open_site


async def chat_page(client: httpx.AsyncClient) -> httpx.Response:
    started = await client.get("/")
    assert started.status_code == 303
    page = await client.get(started.headers["location"])
    assert page.status_code == 200
    return page


def theme_css_url(page: str) -> str:
    found = re.search(r'<link rel="stylesheet" href="(/-/theme\.css\?v=[0-9a-f]+)">', page)
    assert found, "the page links no theme stylesheet"
    return found.group(1)


# -- theme.css ------------------------------------------------------------------------------


async def test_colours_fonts_and_radius_from_the_config_become_the_theme_stylesheet(
    tmp_path: Path, site: OpenSite
) -> None:
    app = make_app(
        tmp_path,
        """
[ui.theme]
font_family = "'Atkinson Hyperlegible', sans-serif"
radius = "4px"

[ui.theme.light]
background = "#fdf6e3"
primary = "rgb(38 139 210)"

[ui.theme.dark]
background = "#002b36"
primary = "200 80% 60%"
""",
    )
    client = await site(app)
    page = (await chat_page(client)).text
    url = theme_css_url(page)
    # After lightchat.css, so its values win.
    assert page.index("lightchat.css") < page.index(url.replace("?", "?"))
    answer = await client.get(url)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/css")
    assert "immutable" in answer.headers["cache-control"]
    css = answer.text
    light, dark = css.split(':root[data-theme="dark"]', 1)
    assert "--lc-bg: #fdf6e3;" in light
    assert "--lc-accent: rgb(38 139 210);" in light
    assert "--lc-font: 'Atkinson Hyperlegible', sans-serif;" in light
    assert "--lc-radius: 4px;" in light
    assert "--lc-bg: #002b36;" in dark
    assert "--lc-accent: hsl(200 80% 60%);" in dark  # an HSL triplet, as Chainlit writes them
    # The system theme of a browser that prefers dark gets the dark colours too.
    assert re.search(r"@media \(prefers-color-scheme: dark\) \{\s*:root:not", dark)
    # A stale version is not cached for good.
    stale = await client.get("/-/theme.css?v=old")
    assert stale.headers["cache-control"] == "no-cache"


async def test_without_a_theme_no_stylesheet_is_linked(tmp_path: Path, site: OpenSite) -> None:
    client = await site(make_app(tmp_path))
    page = (await chat_page(client)).text
    assert "/-/theme.css" not in page
    assert "data:," in page  # no favicon either


async def test_chainlit_theme_json_maps_onto_lightchat_variables_and_loads_its_fonts(
    tmp_path: Path, site: OpenSite
) -> None:
    public = tmp_path / "public"
    public.mkdir()
    (public / "theme.json").write_text(json.dumps(CHAINLIT_THEME), encoding="utf-8")
    client = await site(make_app(tmp_path))
    response = await chat_page(client)
    page = response.text
    css = (await client.get(theme_css_url(page))).text
    light, dark = css.split(':root[data-theme="dark"]', 1)
    assert "--lc-bg: hsl(0 0% 100%);" in light
    assert "--lc-fg: hsl(0 0% 5%);" in light
    assert "--lc-accent: hsl(340 92% 52%);" in light
    assert "--lc-muted: hsl(0 0% 36%);" in light
    assert "--lc-sidebar: hsl(0 0% 98%);" in light
    assert "--lc-radius: 0.75rem;" in light
    assert "--lc-font: 'Inter', sans-serif;" in light
    assert "--lc-bg: hsl(0 0% 13%);" in dark
    assert "--ring" not in css
    assert "--popover" not in css
    font = CHAINLIT_THEME["custom_fonts"][0]
    assert f'<link rel="stylesheet" href="{font.replace("&", "&amp;")}">' in page
    csp = response.headers["content-security-policy"]
    assert "style-src 'self' https://fonts.googleapis.com/css2;" in csp
    assert "font-src 'self' https:;" in csp
    assert "script-src 'self';" in csp


async def test_the_config_wins_over_theme_json(tmp_path: Path, site: OpenSite) -> None:
    public = tmp_path / "public"
    public.mkdir()
    (public / "theme.json").write_text(json.dumps(CHAINLIT_THEME), encoding="utf-8")
    app = make_app(tmp_path, '[ui.theme.light]\nprimary = "#123456"\n')
    client = await site(app)
    css = (await client.get(theme_css_url((await chat_page(client)).text))).text
    light = css.split(':root[data-theme="dark"]', 1)[0]
    assert "--lc-accent: #123456;" in light
    assert "hsl(340 92% 52%)" not in light


@pytest.mark.parametrize(
    ("toml", "names"),
    [
        (
            '[ui.theme.light]\nbackground = "red; } body { display: none"\n',
            ["ui.theme.light.background", 'background = "#2f6fed"'],
        ),
        ('[ui.theme.dark]\nbackground = "url(https://evil.example/x)"\n', ["ui.theme.dark"]),
        ('[ui.theme.light]\nbackgroud = "#fff"\n', ["ui.theme.light.backgroud", "background"]),
        ('[ui.theme]\nradius = "4px; color: red"\n', ["ui.theme.radius", 'radius = "8px"']),
        ('[ui.theme]\nfont_family = "Inter; } *{x:y"\n', ["ui.theme.font_family"]),
        ('[ui.theme]\nfont_family = "\'Inter"\n', ["ui.theme.font_family"]),
        ('[ui.theme]\ncolour = "#fff"\n', ["ui.theme.colour", "font_family"]),
        ('[ui]\ncustom_css = "javascript:alert(1)"\n', ["ui.custom_css", "/public/brand.css"]),
        ('[ui]\ncustom_js = "http://cdn.example/x.js"\n', ["ui.custom_js", "https://"]),
        ('[ui]\ncustom_js = "//cdn.example/x.js"\n', ["ui.custom_js"]),
        ('[ui]\ncustom_css = "https://x.example/a.css; script-src *"\n', ["ui.custom_css"]),
        ('[ui]\nlogo_file_url = "/public/logo.svg\\" onerror=\\"x"\n', ["ui.logo_file_url"]),
    ],
)
def test_bad_theme_values_are_refused_naming_the_key_and_the_fix(
    tmp_path: Path, toml: str, names: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        make_app(tmp_path, toml).build()
    for name in names:
        assert name in str(caught.value)


@pytest.mark.parametrize(
    ("content", "names"),
    [
        ("{not json", ["theme.json", "JSON"]),
        (
            json.dumps({"variables": {"light": {"--background": "0 0% 100%; }"}}}),
            ["variables.light.--background", "HSL triplet"],
        ),
        (json.dumps({"custom_fonts": ["javascript:x"]}), ["custom_font"]),
        (json.dumps({"variables": {"dark": {"--radius": "big"}}}), ["--radius", "0.75rem"]),
    ],
)
def test_a_bad_theme_json_is_refused_naming_the_file_and_the_fix(
    tmp_path: Path, content: str, names: list[str]
) -> None:
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "theme.json").write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        make_app(tmp_path).build()
    for name in names:
        assert name in str(caught.value)


def test_colours_accepted_and_refused() -> None:
    assert colour("#abc") == "#abc"
    assert colour("oklch(70% 0.1 200)") == "oklch(70% 0.1 200)"
    assert colour("rebeccapurple") == "rebeccapurple"
    assert colour("222.2 47.4% 11.2%") == "hsl(222.2 47.4% 11.2%)"
    for bad in ("#abcd1", "red;", "rgb(1 2 3));x", "expression(alert(1))", "", 12, "a" * 40):
        assert colour(bad) is None, bad


def test_the_starter_config_documents_the_new_keys_and_reads_back(tmp_path: Path) -> None:
    text = starter_config()
    for key in ("custom_css", "custom_js", "custom_font", "logo_file_url", "# [ui.theme.light]"):
        assert key in text
    for line in text.splitlines():
        if "wide" in line or "light, dark or system" in line:
            assert "stored" not in line, line
    (tmp_path / "lightchat.toml").write_text(text, encoding="utf-8")
    make_app(tmp_path).build()  # every default is valid


# -- public/ --------------------------------------------------------------------------------


@pytest.fixture
def public_app(tmp_path: Path) -> LightChat:
    public = tmp_path / "public"
    (public / "avatars").mkdir(parents=True)
    (public / "logo_light.svg").write_text(PIXEL_SVG, encoding="utf-8")
    (public / "logo_dark.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (public / "favicon.svg").write_text(PIXEL_SVG, encoding="utf-8")
    (public / "avatars" / "my_assistant.svg").write_text(PIXEL_SVG, encoding="utf-8")
    (public / "avatars" / "default.svg").write_text(PIXEL_SVG, encoding="utf-8")
    (public / "brand.css").write_text(".lc-title { letter-spacing: 1px; }", encoding="utf-8")
    (public / "brand.js").write_text("document.title += '!';", encoding="utf-8")
    (public / ".env").write_text("SECRET=1", encoding="utf-8")
    (tmp_path / "lightchat.toml").write_text('[ui]\nname = "Acme"\n', encoding="utf-8")
    (tmp_path / "secret.txt").write_text("outside", encoding="utf-8")
    (public / "escape").symlink_to(tmp_path / "secret.txt")
    return make_app(tmp_path, custom_css="/public/brand.css", custom_js="/public/brand.js")


async def test_public_files_are_served_with_their_type_and_a_sandbox(
    public_app: LightChat, site: OpenSite
) -> None:
    client = await site(public_app)
    for path, kind in (
        ("/public/logo_light.svg", "image/svg+xml"),
        ("/public/logo_dark.png", "image/png"),
        ("/public/brand.css", "text/css"),
        ("/public/brand.js", "text/javascript"),
        ("/public/avatars/my_assistant.svg", "image/svg+xml"),
    ):
        answer = await client.get(path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"].startswith(kind), path
        assert answer.headers["content-security-policy"].startswith("sandbox"), path
        assert answer.headers["x-content-type-options"] == "nosniff"
    assert (await client.get("/public/brand.css")).text.startswith(".lc-title")


@pytest.mark.parametrize(
    "path",
    [
        "/public/",
        "/public/avatars",
        "/public/avatars/",
        "/public/missing.png",
        "/public/../lightchat.toml",
        "/public/%2e%2e/lightchat.toml",
        "/public/avatars/..%2f..%2flightchat.toml",
        "/public/avatars%2f..%2f..%2fsecret.txt",
        "/public/..%5csecret.txt",
        "/public/.env",
        "/public/escape",
        "/public//etc/passwd",
        "/public/%00",
        "/public/" + "x" * 300,  # a name longer than the system takes
    ],
)
async def test_public_refuses_listings_traversal_hidden_files_and_links_out(
    public_app: LightChat, site: OpenSite, path: str
) -> None:
    answer = await (await site(public_app)).get(path)
    assert answer.status_code == 404
    assert "outside" not in answer.text
    assert "SECRET" not in answer.text


async def test_public_is_a_404_without_the_folder(tmp_path: Path, site: OpenSite) -> None:
    client = await site(make_app(tmp_path))
    assert (await client.get("/public/logo_light.png")).status_code == 404


# -- logo, favicon, avatars, custom files ---------------------------------------------------


async def test_logo_favicon_avatar_and_custom_files_are_on_the_page(
    public_app: LightChat, site: OpenSite
) -> None:
    client = await site(public_app)
    response = await chat_page(client)
    page = response.text
    assert '<link rel="icon" href="/public/favicon.svg">' in page
    assert re.search(
        r'<img class="lc-logo lc-logo-light" src="/public/logo_light.svg" alt="Acme">', page
    )
    assert re.search(
        r'<img class="lc-logo lc-logo-dark" src="/public/logo_dark.png" alt="Acme">', page
    )
    # The app's own stylesheet after lightchat's, its script after lightchat's.
    assert page.index("lightchat.css") < page.index('href="/public/brand.css"')
    assert page.index("lightchat.js") < page.index('<script src="/public/brand.js" defer>')
    csp = response.headers["content-security-policy"]
    assert "script-src 'self';" in csp
    assert "style-src 'self';" in csp


def test_avatars_are_resolved_once_by_chainlit_file_names(public_app: LightChat) -> None:
    brand: Brand = public_app.build().state.services.renderer.brand
    assert author_key("My Assistant") == "my_assistant"
    assert brand.avatar("My Assistant") == "/public/avatars/my_assistant.svg"
    assert brand.avatar("my assistant", "assistant_message") == "/public/avatars/my_assistant.svg"
    # Another assistant falls back to the default; a user without a file has none.
    assert brand.avatar("Helper", "assistant_message") == "/public/avatars/default.svg"
    assert brand.avatar("alice", "user_message") == ""
    assert brand.avatar("alice", "error") == ""


def test_a_message_shows_its_author_avatar_without_touching_the_disk(
    public_app: LightChat, tmp_path: Path
) -> None:
    renderer = public_app.build().state.services.renderer
    # Resolved at start: removing the folder changes nothing for the pages rendered now.
    for path in sorted((tmp_path / "public").rglob("*"), reverse=True):
        path.unlink() if not path.is_dir() else path.rmdir()
    html = renderer.message(
        MessageData(id="m1", author="My Assistant", type="assistant_message"), "/base"
    )
    # Decorative: the author's name is written beside it.
    assert '<img class="lc-avatar" src="/base/public/avatars/my_assistant.svg" alt=""' in html
    user = renderer.message(MessageData(id="m2", author="alice", type="user_message"), "/base")
    assert "lc-avatar" not in user  # the user's bubble has none without a file


def test_without_avatars_no_image_is_shown(tmp_path: Path) -> None:
    renderer = make_app(tmp_path).build().state.services.renderer
    html = renderer.message(MessageData(id="m1", author="Assistant", type="assistant_message"), "")
    assert "<img" not in html
    # The author's initial in a circle instead, its colour from the name, hidden from
    # screen readers.
    assert re.search(
        r'<span class="lc-avatar lc-avatar-initial lc-avatar-c[0-7]" aria-hidden="true">A</span>',
        html,
    )


def test_config_keys_name_the_logo_avatar_and_favicon(tmp_path: Path) -> None:
    brand: Brand = (
        make_app(
            tmp_path,
            logo_file_url="https://cdn.example.com/logo.svg",
            default_avatar_file_url="/public/bot.png",
            favicon_file_url="/public/icon.ico",
        )
        .build()
        .state.services.renderer.brand
    )
    assert brand.logo_light == brand.logo_dark == "https://cdn.example.com/logo.svg"
    assert brand.avatar("Anyone") == "/public/bot.png"
    assert brand.favicon == "/public/icon.ico"


def test_one_logo_serves_both_themes(tmp_path: Path) -> None:
    (tmp_path / "public").mkdir()
    (tmp_path / "public" / "logo_dark.webp").write_bytes(b"RIFF")
    brand: Brand = make_app(tmp_path).build().state.services.renderer.brand
    assert brand.logo_light == brand.logo_dark == "/public/logo_dark.webp"


async def test_https_css_and_js_are_allowed_by_the_policy_for_that_file_only(
    tmp_path: Path, site: OpenSite
) -> None:
    app = make_app(
        tmp_path,
        '[UI]\ncustom_css = "https://cdn.example.com/brand.css?v=2"\n'
        'custom_js = "https://cdn.example.com/js/brand.js"\n',
    )
    response = await chat_page(await site(app))
    csp = response.headers["content-security-policy"]
    assert "style-src 'self' https://cdn.example.com/brand.css;" in csp
    assert "script-src 'self' https://cdn.example.com/js/brand.js;" in csp
    assert '<link rel="stylesheet" href="https://cdn.example.com/brand.css?v=2">' in response.text
    assert '<script src="https://cdn.example.com/js/brand.js" defer></script>' in response.text


# -- theme toggle, default theme, layout ----------------------------------------------------


async def test_the_default_theme_and_layout_are_on_the_page(tmp_path: Path, site: OpenSite) -> None:
    app = make_app(tmp_path, '[ui]\ndefault_theme = "dark"\nlayout = "wide"\n')
    page = (await chat_page(await site(app))).text
    assert re.search(r'<html [^>]*data-theme="dark"', page)
    assert re.search(r'<html [^>]*data-layout="wide"', page)


async def test_the_toggle_sets_a_cookie_and_the_next_page_uses_it(
    tmp_path: Path, site: OpenSite
) -> None:
    client = await site(make_app(tmp_path))
    page = await chat_page(client)
    assert re.search(r'<html [^>]*data-theme="system"', page.text)
    assert 'aria-label="Switch to dark theme"' in page.text
    assert 'aria-label="Switch to light theme"' in page.text
    chat = str(page.url.path)
    answer = await client.post("/-/theme", data={"theme": "dark", "next": chat})
    assert answer.status_code == 303
    assert answer.headers["location"] == chat
    assert f"{THEME_COOKIE}=dark" in answer.headers["set-cookie"]
    assert "httponly" in answer.headers["set-cookie"].lower()
    again = await client.get(chat)
    assert re.search(r'<html [^>]*data-theme="dark"', again.text)
    # The script's request gets a 204 (it has switched the page itself).
    quiet = await client.post(
        "/-/theme", data={"theme": "light"}, headers={"X-Lightchat-Theme": "1"}
    )
    assert quiet.status_code == 204
    assert re.search(r'<html [^>]*data-theme="light"', (await client.get(chat)).text)


async def test_the_toggle_needs_the_form_token_a_known_theme_and_stays_on_the_site(
    tmp_path: Path, site: OpenSite
) -> None:
    app = make_app(tmp_path)
    client = await site(app)
    await chat_page(client)
    refused = await client.post("/-/theme", data={"theme": "dark"}, headers={"X-CSRF-Token": "x"})
    assert refused.status_code == 403
    assert "set-cookie" not in refused.headers or THEME_COOKIE not in refused.headers["set-cookie"]
    assert (await client.post("/-/theme", data={"theme": "purple"})).status_code == 400
    for away in ("https://evil.example/x", "//evil.example/x", "/\\evil.example"):
        answer = await client.post("/-/theme", data={"theme": "dark", "next": away})
        assert answer.headers["location"] == "/", away
    came_from = await client.post(
        "/-/theme", data={"theme": "dark"}, headers={"Referer": "http://testserver/history"}
    )
    assert came_from.headers["location"] == "/history"
    # Addresses no parser reads (a host in brackets that does not close): back to the start.
    for broken in ("http://[", "//[::1/x"):
        answer = await client.post("/-/theme", data={"theme": "dark", "next": broken})
        assert answer.headers["location"] == "/", broken
        answer = await client.post("/-/theme", data={"theme": "dark"}, headers={"Referer": broken})
        assert answer.headers["location"] == "/", broken


# -- the example ----------------------------------------------------------------------------

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "09_brand" / "app.py"


@pytest.mark.usefixtures("isolated_import")
async def test_the_brand_example_loads_with_its_theme_logo_avatar_and_files(site: OpenSite) -> None:
    app = load_app(str(EXAMPLE))
    brand: Brand = app.build().state.services.renderer.brand
    assert brand.logo_light == "/public/logo_light.svg"
    assert brand.logo_dark == "/public/logo_dark.svg"
    assert brand.favicon == "/public/favicon.svg"
    assert brand.avatar("Harbour") == "/public/avatars/harbour.svg"
    assert brand.stylesheets == ("/public/brand.css",)
    assert brand.scripts == ("/public/brand.js",)
    assert "--lc-accent: #0b6e79;" in brand.css
    client = await site(app)
    page = (await chat_page(client)).text
    assert 'data-layout="wide"' in page
    for path in ("/public/logo_dark.svg", "/public/brand.js", "/public/avatars/harbour.svg"):
        assert (await client.get(path)).status_code == 200
