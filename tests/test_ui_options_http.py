"""Chainlit's UI options over HTTP: header links and the GitHub link (unsafe links refused
at start), the sign-in page's image and its filters, the forced language, the description
and link-preview tags, the history sidebar's first state, where the settings button sits
and whether it opens by itself, asking before a new chat (a page without JavaScript, a
dialog with htmx), the avatars' size, the user's messages as markdown, and autoscroll."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any

import pytest

import lightchat as cl
from lightchat import LightChat, Message, Settings
from lightchat.config.toml import read_config_file
from lightchat.errors import ConfigError
from lightchat.ui.theme import Brand
from tests.helpers import HTMX, Serve, assert_inert
from tests.xss_payloads import PAYLOADS

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]


def app_with(tmp_path: Path, **values: Any) -> LightChat:
    """An echo app in ``tmp_path`` (history off unless said) with these settings."""
    app = LightChat(
        settings=Settings(**{"name": "Bot", "app_dir": str(tmp_path), "history": False, **values})
    )

    @app.on_message
    async def main(message: Message) -> None:
        await Message(content=f"You said: {message.content}").send()

    return app


def folder(tmp_path: Path, name: str) -> Path:
    """Another app folder beside the first."""
    made = tmp_path / name
    made.mkdir()
    return made


def header_of(page: str) -> str:
    start = page.index('<header class="lc-header">')
    return page[start : page.index("</header>", start)]


def attributes(page: str, tag: str, marker: str) -> dict[str, str]:
    """The attributes of the first ``tag`` whose markup holds ``marker``."""
    for found in re.finditer(rf"<{tag}\b([^>]*)>", page):
        if marker in found.group(0):
            pairs = re.findall(r'([\w:-]+)(?:="([^"]*)")?', found.group(1))
            return {name: html.unescape(value) for name, value in pairs}
    raise AssertionError(f"no <{tag}> with {marker!r}")


# -- header links ---------------------------------------------------------------------------

LINKS_TOML = """
[UI]
name = "Docs bot"
github = "https://github.com/example/bot"

[[UI.header_links]]
name = "Issues"
display_name = "Report an issue"
icon_url = "/public/bug.svg"
url = "https://example.com/issues"

[[UI.header_links]]
name = "Help"
url = "/public/help.html"
target = "_self"
"""


async def test_header_links_and_the_github_link_show_in_the_header(
    tmp_path: Path, serve: Serve
) -> None:
    (tmp_path / ".chainlit").mkdir()
    (tmp_path / ".chainlit" / "config.toml").write_text(LINKS_TOML, encoding="utf-8")
    app = app_with(tmp_path, **read_config_file(tmp_path))
    async with serve(app) as site:
        client = site.browser()
        page = (await client.get(await site.new_chat(client))).text
        header = header_of(page)
        issues = attributes(header, "a", 'href="https://example.com/issues"')
        assert issues["target"] == "_blank"
        assert issues["rel"] == "noopener noreferrer"
        assert issues["title"] == "Issues"
        assert '<img class="lc-header-link-icon" src="/public/bug.svg" alt="">' in header
        assert "<span>Report an issue</span>" in header
        help_link = attributes(header, "a", 'href="/public/help.html"')
        assert help_link["target"] == "_self"
        assert "rel" not in help_link
        assert "<span>Help</span>" in header  # no icon, no display name: its name shows
        github = attributes(header, "a", 'href="https://github.com/example/bot"')
        assert github["target"] == "_blank"
        assert '<svg aria-hidden="true"' in header
        assert "lucide-github" in header
        assert '<span class="lc-visually-hidden">GitHub</span>' in header
        assert not re.search(r"\son\w+=", header)

    # Without any, the header has no link of the app's.
    async with serve(app_with(folder(tmp_path, "plain"))) as site:
        client = site.browser()
        assert "lc-header-link" not in (await client.get(await site.new_chat(client))).text


@pytest.mark.parametrize(
    "url",
    [
        "javascript:alert(1)",
        " JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "//evil.example/",
        "vbscript:x",
        'https://example.com/"onmouseover="x',
    ],
)
def test_an_unsafe_header_link_is_refused_at_start(tmp_path: Path, url: str) -> None:
    toml = f'[[ui.header_links]]\nname = "Bad"\nurl = {json.dumps(url)}\n'
    (tmp_path / "lightchat.toml").write_text(toml, encoding="utf-8")
    with pytest.raises(ConfigError, match=r"ui\.header_links, link 1: url = .* is refused"):
        read_config_file(tmp_path)
    as_link = json.dumps([{"name": "Bad", "url": url}])
    with pytest.raises(ConfigError, match=r"header_links, link 1: url = .* is refused"):
        Settings.from_env({"LIGHTCHAT_HEADER_LINKS": as_link})
    as_icon = json.dumps([{"name": "Bad", "url": "/x", "icon_url": url}])
    with pytest.raises(ConfigError, match=r"header_links, link 1: icon_url = .* is refused"):
        Settings.from_env({"LIGHTCHAT_HEADER_LINKS": as_icon})


def test_header_links_take_their_keys_and_targets_only() -> None:
    with pytest.raises(ConfigError, match="unknown key 'href'"):
        Settings.from_env({"LIGHTCHAT_HEADER_LINKS": '[{"name": "a", "href": "/x"}]'})
    with pytest.raises(ConfigError, match="target is one of"):
        Settings.from_env(
            {"LIGHTCHAT_HEADER_LINKS": '[{"name": "a", "url": "/x", "target": "_new"}]'}
        )
    with pytest.raises(ConfigError, match="give it a name and a url"):
        Settings.from_env({"LIGHTCHAT_HEADER_LINKS": '[{"name": "a"}]'})
    with pytest.raises(ConfigError, match="list of links"):
        Settings.from_env({"LIGHTCHAT_HEADER_LINKS": "not json"})
    with pytest.raises(ConfigError, match="LIGHTCHAT_GITHUB='javascript:x' is not an http"):
        Settings.from_env({"LIGHTCHAT_GITHUB": "javascript:x"})
    links = Settings.from_env(
        {"LIGHTCHAT_HEADER_LINKS": '[{"name": "Docs", "url": "https://d.example"}]'}
    ).header_link_list()
    assert [(link.name, link.url, link.target) for link in links] == [
        ("Docs", "https://d.example", "_blank")
    ]


# -- the sign-in page -----------------------------------------------------------------------


async def test_the_login_page_shows_its_image_with_the_filters_as_css(
    tmp_path: Path, serve: Serve
) -> None:
    app = app_with(
        tmp_path,
        login_page_image="/public/login.jpg",
        login_page_image_filter="brightness-50 grayscale",
        auth_secret="s" * 32,
    )

    @app.password_auth_callback
    def check(username: str, password: str) -> cl.User | None:
        return None

    async with serve(app) as site:
        client = site.browser()
        page = (await client.get("/login")).text
        assert '<div class="lc-login-layout">' in page
        assert '<img class="lc-login-image" src="/public/login.jpg" alt="">' in page
        css_link = re.search(r'href="(/-/theme\.css\?v=\w+)"', page)
        assert css_link is not None
        css = (await client.get(css_link[1])).text
        assert ".lc-login-image {\n  filter: brightness(0.5) grayscale(100%);\n}" in css
        # Chainlit's filter in the dark theme: brightness-[0.2] grayscale.
        dark = (
            ':root[data-theme="dark"] .lc-login-image {\n  filter: brightness(0.2) grayscale(100%);'
        )
        assert dark in css
    async with serve(app_with(folder(tmp_path, "plain"))) as site:
        client = site.browser()
        assert "lc-login-layout" not in (await client.get("/login")).text


def test_a_filter_or_image_lightchat_cannot_write_safely_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ui\.login_page_image_filter .*'url\(x\)'"):
        Brand.load(
            Settings(
                app_dir=str(tmp_path),
                login_page_image="/a.jpg",
                login_page_image_filter="url(x)",
            )
        )
    with pytest.raises(ConfigError, match="login_page_image_dark_filter"):
        Brand.load(
            Settings(
                app_dir=str(tmp_path),
                login_page_image="/a.jpg",
                login_page_image_dark_filter="brightness-[1;}body{x]",
            )
        )
    with pytest.raises(ConfigError, match=r"ui\.login_page_image .* is not a path of the app"):
        Brand.load(Settings(app_dir=str(tmp_path), login_page_image="javascript:alert(1)"))


# -- language, description, link previews ---------------------------------------------------


async def test_a_forced_language_wins_over_the_browsers(tmp_path: Path, serve: Serve) -> None:
    app = app_with(tmp_path, language="fr-FR")
    heard: list[Any] = []

    @app.set_starters
    async def starters(user: Any, language: Any) -> list[cl.Starter]:
        heard.append(language)
        return [cl.Starter(label="Go", message="go")]

    @app.on_chat_start
    async def start() -> None:
        heard.append(cl.user_session.get("languages"))

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        page = (await client.get(url, headers={"Accept-Language": "de-DE,de;q=0.9"})).text
        assert '<html lang="fr"' in page
        assert ">Nouvelle discussion</a>" in page
        assert "fr-FR" in heard  # the app's callbacks are told the same language
        assert "de-DE" not in str(heard)
    with pytest.raises(ConfigError, match="LIGHTCHAT_LANGUAGE='fr FR' is not a language tag"):
        Settings.from_env({"LIGHTCHAT_LANGUAGE": "fr FR"})

    # Without it, each browser gets its own.
    async with serve(app_with(tmp_path)) as site:
        client = site.browser()
        url = await site.new_chat(client)
        page = (await client.get(url, headers={"Accept-Language": "de-DE"})).text
        assert '<html lang="de"' in page


async def test_the_description_and_link_preview_tags(tmp_path: Path, serve: Serve) -> None:
    app = app_with(
        tmp_path,
        description='Answers about "billing" <fast>',
        custom_meta_url="https://bot.example/",
        custom_meta_image_url="https://bot.example/banner.png",
    )
    async with serve(app) as site:
        client = site.browser()
        page = (await client.get(await site.new_chat(client))).text
        head = page[: page.index("</head>")]
        described = "Answers about &#34;billing&#34; &lt;fast&gt;"
        assert f'<meta name="description" content="{described}">' in head
        assert f'<meta property="og:description" content="{described}">' in head
        assert '<meta property="og:title" content="Bot">' in head
        assert '<meta property="og:image" content="https://bot.example/banner.png">' in head
        assert '<meta property="og:url" content="https://bot.example/">' in head
    async with serve(app_with(tmp_path)) as site:
        client = site.browser()
        head = (await client.get(await site.new_chat(client))).text.split("</head>")[0]
        assert 'name="description"' not in head
        assert "og:image" not in head
    with pytest.raises(ConfigError, match="LIGHTCHAT_CUSTOM_META_URL"):
        Settings.from_env({"LIGHTCHAT_CUSTOM_META_URL": "/relative"})


# -- the history sidebar and "New chat" -----------------------------------------------------


@pytest.mark.parametrize("state", ["open", "closed", "hidden"])
async def test_the_history_sidebar_starts_as_the_app_says(
    tmp_path: Path, serve: Serve, state: str
) -> None:
    app = app_with(tmp_path, history=True, default_sidebar_state=state)
    async with serve(app, lifespan=True) as site:
        client = site.browser()
        url = await site.new_chat(client)
        page = (await client.get(url)).text
        history = attributes(header_of(page), "a", "/history?chat=")
        if state == "hidden":
            assert 'id="lc-history"' not in page
            assert "data-sidebar" not in page
            assert "lc-narrow-only" not in history.get("class", "")
        else:
            assert f'<div class="lc-app lc-with-history" data-sidebar="{state}">' in page
            assert 'id="lc-history"' in page
        assert history["class"] == "lc-header-button lc-history-toggle"
        if state != "hidden":
            # A link to the history page (without JavaScript), which lightchat.js turns
            # into the sidebar's toggle (beside the chat, or a drawer over a narrow one).
            assert "data-lc-sidebar-toggle" in history
            assert history["aria-controls"] == "lc-history"
        else:
            assert "data-lc-sidebar-toggle" not in history
        assert (await client.get(history["href"])).status_code == 200
    with pytest.raises(ConfigError, match="LIGHTCHAT_DEFAULT_SIDEBAR_STATE='half'"):
        Settings.from_env({"LIGHTCHAT_DEFAULT_SIDEBAR_STATE": "half"})


async def test_new_chat_asks_first_when_the_app_says_so(tmp_path: Path, serve: Serve) -> None:
    app = app_with(tmp_path, history=True, confirm_new_chat=True)

    @app.set_chat_profiles
    async def profiles(user: Any, language: Any) -> list[cl.ChatProfile]:
        return [cl.ChatProfile(name="Quick & short"), cl.ChatProfile(name="Long")]

    async with serve(app, lifespan=True) as site:
        client = site.browser()
        url = await site.new_chat(client)
        page = (await client.get(url)).text
        chat_id = url.rsplit("/", 1)[1]
        asking = f"/new-chat?profile=Quick%20%26%20short&amp;chat={chat_id}"
        # Both "New chat" links (the header's and the sidebar's) ask first.
        assert page.count(f'href="{asking}" hx-get="{asking}"') == 2
        assert 'href="/?profile=' not in page.split('id="lc-history"')[1].split("</nav>")[0]

        # Without JavaScript: a page with the question, "Confirm" starts the chat.
        question = await client.get(html.unescape(asking))
        assert question.status_code == 200
        assert '<dialog id="lc-confirm-new" class="lc-dialog"' in question.text
        assert " open>" in question.text.split('id="lc-confirm-new"')[1].split("\n")[1]
        assert ">Start a new chat?</h2>" in question.text
        confirm = attributes(question.text, "a", 'class="lc-button lc-primary"')
        assert confirm["href"] == "/?profile=Quick%20%26%20short"
        cancel = attributes(question.text, "a", "lc-dialog-cancel")
        assert cancel["href"] == url
        started = await client.get(confirm["href"])
        assert started.status_code == 303
        assert site.session(client, started.headers["location"]).chat_profile == "Quick & short"

        # With htmx: the dialog alone, for lightchat.js to show as a modal.
        dialog = await client.get(html.unescape(asking), headers=HTMX)
        assert "<html" not in dialog.text
        assert "data-lc-modal" in dialog.text
        assert "HX-Request" in dialog.headers["vary"]

        # In French too.
        french = await client.get(html.unescape(asking), headers={"Accept-Language": "fr"})
        assert "Commencer une nouvelle discussion ?" in french.text

    # By default "New chat" starts one at once.
    async with serve(app_with(folder(tmp_path, "plain"))) as site:
        client = site.browser()
        page = (await client.get(await site.new_chat(client))).text
        assert "/new-chat" not in page
        assert re.search(
            r'<a class="lc-new" href="/"><svg [^>]*lucide-square-pen.*?</svg>New chat</a>', page
        )


# -- chat settings' place -------------------------------------------------------------------


def settings_app(tmp_path: Path, **values: Any) -> LightChat:
    app = app_with(tmp_path, **values)

    @app.on_chat_start
    async def start() -> None:
        await cl.ChatSettings([cl.input_widget.TextInput(id="tone", label="Tone")]).send()

    return app


@pytest.mark.parametrize(
    ("location", "open_at_once"),
    [("message_composer", False), ("sidebar", False), ("sidebar", True)],
)
async def test_the_settings_button_sits_where_the_app_says(
    tmp_path: Path, serve: Serve, location: str, open_at_once: bool
) -> None:
    app = settings_app(
        tmp_path, chat_settings_location=location, default_chat_settings_open=open_at_once
    )
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        page = (await client.get(url)).text
        in_header = "lc-settings-button" in header_of(page)
        footer = page.split('<footer class="lc-footer">')[1]
        assert in_header == (location == "sidebar")
        assert ("lc-settings-button" in footer) == (location == "message_composer")
        assert page.count('id="lc-settings"') == 1  # the one slot the stream fills
        button = attributes(page, "button", "lc-settings-button")
        assert button.get("hx-trigger") == ("click, load" if open_at_once else None)
        # The stream's redraw of the button follows the same settings.
        renderer = site.services.renderer
        assert ('hx-trigger="click, load"' in renderer.settings_button(url)) == open_at_once
    with pytest.raises(ConfigError, match="LIGHTCHAT_CHAT_SETTINGS_LOCATION"):
        Settings.from_env({"LIGHTCHAT_CHAT_SETTINGS_LOCATION": "header"})


# -- avatars, markdown, autoscroll ----------------------------------------------------------


async def test_the_avatar_size_goes_into_the_theme_stylesheet(tmp_path: Path, serve: Serve) -> None:
    async with serve(app_with(tmp_path, avatar_size=40)) as site:
        client = site.browser()
        page = (await client.get(await site.new_chat(client))).text
        css_link = re.search(r'href="(/-/theme\.css\?v=\w+)"', page)
        assert css_link is not None
        css = (await client.get(css_link[1])).text
        assert ".lc-avatar {\n  width: 40px;\n  height: 40px;\n}" in css
    assert Brand.load(Settings(app_dir=str(tmp_path))).css == ""  # lightchat's own: nothing
    with pytest.raises(ConfigError, match="LIGHTCHAT_AVATAR_SIZE=4 "):
        Settings.from_env({"LIGHTCHAT_AVATAR_SIZE": "4"})


async def test_the_users_messages_are_markdown_unless_the_app_says_not(
    tmp_path: Path, serve: Serve
) -> None:
    text = "**bold** <img src=x onerror=alert(1)> [go](javascript:alert(1))"
    for markdown, shown in (
        (True, "<p><strong>bold</strong> &lt;img src=x onerror=alert(1)&gt;"),
        (False, '<p class="lc-plain">**bold** &lt;img src=x onerror=alert(1)&gt;'),
    ):
        app = app_with(tmp_path, user_message_markdown=markdown)
        async with serve(app) as site:
            client = site.browser()
            url = await site.chat(client, text)
            page = (await client.get(url)).text
            message = page.split('data-type="user_message"')[1]
            user = message.split('class="lc-content"')[1].split("</div>")[0]
            assert shown in user
            assert 'href="javascript' not in user
            assert_inert(user)


async def test_autoscroll_settings_reach_the_page(tmp_path: Path, serve: Serve) -> None:
    app = app_with(tmp_path, assistant_message_autoscroll=False, user_message_autoscroll=False)
    async with serve(app) as site:
        client = site.browser()
        main = attributes((await client.get(await site.new_chat(client))).text, "main", "lc-main")
        assert main["data-lc-follow"] == "off"
        assert main["data-lc-follow-sent"] == "off"
    async with serve(app_with(tmp_path)) as site:
        client = site.browser()
        main = attributes((await client.get(await site.new_chat(client))).text, "main", "lc-main")
        assert "data-lc-follow" not in main
        assert "data-lc-follow-sent" not in main


async def test_hostile_text_in_the_users_markdown_stays_inert(tmp_path: Path, serve: Serve) -> None:
    app = app_with(tmp_path)

    @app.on_chat_start
    async def start() -> None:
        for text in PAYLOADS:
            await Message(content=text, type="user_message", author="You").send()

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        page = (await client.get(url)).text
        shown = re.findall(
            r'<div class="lc-content" id="msg-[^"]+-content">(.*?)</div>\n', page, re.S
        )
        assert len(shown) == len(PAYLOADS)
        for content in shown:
            assert_inert(content)
