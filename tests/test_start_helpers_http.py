"""HTTP: starters, chat profiles and chat settings, through the real app.

Each test drives the app over ASGI the way a browser would (HTMX requests and plain form
posts) and checks what the callbacks received and what the page shows.
"""

from __future__ import annotations

import asyncio
import html
import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

import lightchat as cl
from lightchat import LightChat, Message, Settings
from lightchat.api.widgets import InputWidget, SettingError, parse_value
from lightchat.bus import MemoryBus
from lightchat.chat.chats import Chats
from lightchat.domain.events import (
    Entry,
    MessageData,
    MessageEvent,
    RunEvent,
    SettingsEvent,
    event_from_json,
    event_to_json,
)
from lightchat.domain.transcript import Transcript
from lightchat.errors import ConfigError
from lightchat.ui.render import Renderer
from lightchat.ui.stream_view import StreamView
from tests.helpers import HTMX, Serve, Site, assert_inert, contents, tag_structure, wait_for_log
from tests.xss_payloads import PAYLOADS

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(15)]

PLAIN = [f"plain {i}" for i in range(len(PAYLOADS))]
STARTER = re.compile(
    r'<input type="hidden" name="content" value="([^"]*)">\s*'
    r'<button type="submit" class="lc-starter">(.*?)</button>',
    re.S,
)


def settings(tmp_path: Path) -> Settings:
    return Settings(name="Bot", app_dir=str(tmp_path))


def starters_on(page: str) -> list[tuple[str, str]]:
    """(label, message) of each starter button on the page, in order."""
    return [(html.unescape(label), html.unescape(msg)) for msg, label in STARTER.findall(page)]


def section(page: str, start: str, end: str) -> str:
    first = page.index(start)
    return page[first : page.index(end, first) + len(end)]


def start_of(page: str) -> str:
    """The part of an empty chat that shows its starters."""
    return section(page, '<div id="lc-start"', "</main>")


def header_of(page: str) -> str:
    return section(page, '<header class="lc-header">', "</header>")


async def answered(site: Site, client: httpx.AsyncClient, url: str, text: str) -> None:
    session = site.session(client, url)
    await wait_for_log(session.bus, session.id, lambda events: text in contents(events))


async def started(site: Site, client: httpx.AsyncClient) -> str:
    """A new chat whose on_chat_start (if the app has one) has finished."""
    url = await site.new_chat(client)
    if "on_chat_start" in site.app.callbacks:
        await site.idle(site.session(client, url))
    return url


def echo(app: LightChat) -> None:
    @app.on_message
    async def main(message: Message) -> None:
        await Message(content=f"You said: {message.content}").send()


# -- starters -----------------------------------------------------------------------------


async def test_starters_show_in_an_empty_chat_and_send_their_message(
    tmp_path: Path, serve: Serve
) -> None:
    app = LightChat(settings=settings(tmp_path))
    seen: list[tuple[Any, Any]] = []
    echo(app)

    @app.set_starters
    async def starters(user: Any, language: Any) -> list[cl.Starter]:
        seen.append((user, language))
        return [
            cl.Starter(label="Write a poem", message="Write a poem\nabout the sea."),
            cl.Starter(label="Plan a trip", message="Plan a weekend in Lisbon."),
        ]

    async with serve(app) as site:
        client = site.browser()
        url = await started(site, client)
        page = (await client.get(url, headers={"Accept-Language": "fr-CH, fr;q=0.9"})).text
        assert starters_on(page) == [
            ("Write a poem", "Write a poem\nabout the sea."),
            ("Plan a trip", "Plan a weekend in Lisbon."),
        ]
        assert f'action="{url}/messages"' in start_of(page)
        assert f'hx-post="{url}/messages"' in start_of(page)
        assert seen[-1] == (None, "fr-CH")

        # A click posts the message as the composer would.
        response = await client.post(
            f"{url}/messages", data={"content": "Write a poem\nabout the sea."}, headers=HTMX
        )
        assert response.status_code == 204
        await answered(site, client, url, "You said: Write a poem\nabout the sea.")
        page = (await client.get(url)).text
        assert 'id="lc-start"' not in page
        assert starters_on(page) == []


async def test_a_starter_without_javascript_posts_and_comes_back_to_the_answer(
    tmp_path: Path,
    serve: Serve,
) -> None:
    app = LightChat(settings=settings(tmp_path))
    echo(app)

    @app.set_starters
    def starters() -> list[cl.Starter]:  # sync, no arguments
        return [cl.Starter(label="Hello", message="Say hello")]

    async with serve(app) as site:
        client = site.browser()
        url = await started(site, client)
        _, message = starters_on((await client.get(url)).text)[0]
        response = await client.post(f"{url}/messages", data={"content": message})
        assert response.status_code == 303
        assert response.headers["location"] == url
        page = (await client.get(url)).text
        assert "You said: Say hello" in page
        assert starters_on(page) == []


async def test_set_starters_may_take_the_user_only(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=settings(tmp_path))
    echo(app)
    users: list[Any] = []

    @app.set_starters
    async def starters(user: Any) -> list[cl.Starter]:
        users.append(user)
        return [cl.Starter(label="One", message="1")]

    async with serve(app) as site:
        client = site.browser()
        url = await started(site, client)
        assert starters_on((await client.get(url)).text) == [("One", "1")]
        assert users == [None]


def test_set_starters_with_three_arguments_is_refused() -> None:
    app = LightChat()

    async def starters(user: Any, language: Any, extra: Any) -> list[cl.Starter]:
        return []

    with pytest.raises(ConfigError, match="set_starters"):
        app.set_starters(starters)


async def test_starter_categories_are_details_that_hold_their_starters(
    tmp_path: Path, serve: Serve
) -> None:
    app = LightChat(settings=settings(tmp_path))
    echo(app)

    @app.set_starter_categories
    async def categories(user: Any = None, language: Any = None) -> list[cl.StarterCategory]:
        return [
            cl.StarterCategory(
                label="Writing",
                icon="https://example.com/pen.svg",
                starters=[cl.Starter(label="Poem", message="A poem, please")],
            ),
            cl.StarterCategory(
                label="Travel", starters=[cl.Starter(label="Lisbon", message="Lisbon?")]
            ),
        ]

    async with serve(app) as site:
        client = site.browser()
        url = await started(site, client)
        page = start_of((await client.get(url)).text)
        summaries = re.findall(r"<summary>(.*?)</summary>", page, re.S)
        assert summaries == [
            '<img class="lc-starter-icon" src="https://example.com/pen.svg" alt="">Writing',
            "Travel",
        ]
        writing = section(page, "<details", "</details>")
        assert starters_on(writing) == [("Poem", "A poem, please")]
        assert "open" not in writing.split(">", 1)[0]  # closed until the user opens it
        assert starters_on(page) == [("Poem", "A poem, please"), ("Lisbon", "Lisbon?")]


async def test_only_safe_icon_urls_are_shown(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=settings(tmp_path))
    echo(app)

    @app.set_starters
    async def starters() -> list[cl.Starter]:
        icons = ["javascript:alert(1)", "data:text/html,x", "/public/ok.svg", " http://a/b.png"]
        return [cl.Starter(label=f"S{i}", message="m", icon=icon) for i, icon in enumerate(icons)]

    async with serve(app) as site:
        client = site.browser()
        url = await started(site, client)
        srcs = re.findall(
            r'<img class="lc-starter-icon" src="([^"]*)"', (await client.get(url)).text
        )
        assert srcs == ["/public/ok.svg", "http://a/b.png"]


async def test_a_failing_or_wrong_starter_list_leaves_the_chat_usable(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, serve: Serve
) -> None:
    app = LightChat(settings=settings(tmp_path))
    echo(app)

    @app.set_starters
    async def starters() -> Any:
        return ["not a starter"]

    @app.set_starter_categories
    async def categories() -> Any:
        raise RuntimeError("categories broke")

    async with serve(app) as site:
        client = site.browser()
        url = await started(site, client)
        with caplog.at_level(logging.ERROR, logger="lightchat"):
            response = await client.get(url)
        assert response.status_code == 200
        assert starters_on(response.text) == []
        logged = caplog.text
        assert "@set_starters must give a list of cl.Starter" in logged
        assert "categories broke" in logged


def test_starters_and_profiles_check_what_they_are_given() -> None:
    with pytest.raises(ConfigError, match="label"):
        cl.Starter(label="", message="x")
    with pytest.raises(ConfigError, match="message"):
        cl.Starter(label="x", message="")
    with pytest.raises(ConfigError, match=r"list of cl\.Starter"):
        cl.StarterCategory(label="x", starters=["x"])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="name"):
        cl.ChatProfile(name="", markdown_description="x")
    starter = cl.Starter("Label", "Message", None, "/i.svg")  # Chainlit's positional order
    assert starter.to_dict() == {
        "label": "Label",
        "message": "Message",
        "command": None,
        "icon": "/i.svg",
    }


# -- chat profiles ------------------------------------------------------------------------


def profile_app(tmp_path: Path, default: str | None = "Large") -> tuple[LightChat, list[Any]]:
    app = LightChat(settings=settings(tmp_path))
    echo(app)
    profiles_seen: list[Any] = []

    @app.set_chat_profiles
    async def profiles(user: Any = None, language: Any = None) -> list[cl.ChatProfile]:
        return [
            cl.ChatProfile(
                name="Small",
                markdown_description="The **small** model. <b>raw</b>",
                default=default == "Small",
                starters=[cl.Starter(label="Small talk", message="Hi small")],
            ),
            cl.ChatProfile(
                name="Large",
                display_name="Large model",
                markdown_description="The *large* one.",
                default=default == "Large",
            ),
        ]

    @app.set_starters
    async def starters() -> list[cl.Starter]:
        return [cl.Starter(label="Global", message="Hi all")]

    @app.on_chat_start
    async def start() -> None:
        profiles_seen.append(cl.user_session.get("chat_profile"))

    return app, profiles_seen


async def test_a_new_chat_gets_the_default_profile(tmp_path: Path, serve: Serve) -> None:
    app, seen = profile_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await started(site, client)
        assert seen == ["Large"]
        page = (await client.get(url)).text
        header = header_of(page)
        assert '<select name="profile" aria-label="Chat profile" data-lc-autosubmit>' in header
        assert '<form class="lc-profile" method="get" action="/">' in header
        options = re.findall(r'<option value="([^"]*)"( selected)?>([^<]*)</option>', header)
        assert options == [("Small", "", "Small"), ("Large", " selected", "Large model")]
        start = start_of(page)
        assert '<div class="lc-profile-description"><p>The <em>large</em> one.</p>' in start
        # Large has no starters of its own: the app's show.
        assert starters_on(start) == [("Global", "Hi all")]


async def test_without_a_default_the_first_profile_is_used(tmp_path: Path, serve: Serve) -> None:
    app, seen = profile_app(tmp_path, default=None)
    async with serve(app) as site:
        client = site.browser()
        url = await started(site, client)
        assert seen == ["Small"]
        start = start_of((await client.get(url)).text)
        # The description goes through the safe markdown renderer: raw HTML stays text.
        assert "The <strong>small</strong> model. &lt;b&gt;raw&lt;/b&gt;" in start
        # The profile's own starters replace the app's.
        assert starters_on(start) == [("Small talk", "Hi small")]


async def test_a_profile_chosen_in_the_url_starts_the_chat_with_it(
    tmp_path: Path, serve: Serve
) -> None:
    app, seen = profile_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        first = await started(site, client)
        response = await client.get("/", params={"profile": "Small"})
        assert response.status_code == 303
        second = response.headers["location"]
        assert second != first
        await site.idle(site.session(client, second))
        assert seen == ["Large", "Small"]
        assert site.session(client, second).data["chat_profile"] == "Small"
        header = header_of((await client.get(second)).text)
        assert '<option value="Small" selected>Small</option>' in header


async def test_an_unknown_profile_is_refused_with_a_clear_message(
    tmp_path: Path, serve: Serve
) -> None:
    app, seen = profile_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        await started(site, client)
        chats = len(site.services.chats)
        response = await client.get("/", params={"profile": "<b>Huge</b>"})
        assert response.status_code == 400
        assert "There is no chat profile “&lt;b&gt;Huge&lt;/b&gt;”" in response.text
        assert "Choose one of: “Small”, “Large”." in response.text
        assert "<b>Huge" not in response.text
        assert len(site.services.chats) == chats
        assert seen == ["Large"]


async def test_without_profiles_there_is_no_picker(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=settings(tmp_path))
    profiles: list[Any] = []
    echo(app)

    @app.on_chat_start
    async def start() -> None:
        profiles.append(cl.user_session.get("chat_profile"))

    async with serve(app) as site:
        client = site.browser()
        url = await started(site, client)
        page = (await client.get(url)).text
        assert "Chat profile" not in page
        assert 'class="lc-profile-description"' not in page
        assert profiles == [None]
        # Asking for a profile the app does not have is an error too.
        assert (await client.get("/", params={"profile": "x"})).status_code == 400


# -- chat settings --------------------------------------------------------------------------


def widgets() -> list[InputWidget]:
    return [
        cl.Select(id="model", label="Model", values=["small", "large"], initial_index=0),
        cl.Slider(id="temperature", label="Temperature", initial=0.5, min=0, max=1, step=0.1),
        cl.Switch(id="stream", label="Stream", initial=True, description="Show tokens"),
        cl.TextInput(id="persona", label="Persona", initial="kind", placeholder="Who?"),
        cl.NumberInput(id="tokens", label="Max tokens", initial=256, min=1, max=4096),
        cl.Tags(id="stop", label="Stop words", initial=["END"]),
        cl.MultiSelect(
            id="tools", label="Tools", items={"Web": "web", "Maths": "calc"}, initial=["web"]
        ),
        cl.Checkbox(id="cite", label="Cite sources"),
        cl.RadioGroup(id="tone", label="Tone", values=["plain", "formal"], initial_value="plain"),
        cl.Select(id="locked", label="Locked", values=["a", "b"], initial="a", disabled=True),
    ]


INITIAL = {
    "model": "small",
    "temperature": 0.5,
    "stream": True,
    "persona": "kind",
    "tokens": 256,
    "stop": ["END"],
    "tools": ["web"],
    "cite": False,
    "tone": "plain",
    "locked": "a",
}

GOOD_FORM: dict[str, Any] = {
    "model": "large",
    "temperature": "0.7",
    "persona": "terse",
    "tokens": "100",
    "stop": "END, STOP, END",
    "tools": ["web", "calc"],
    "cite": "on",
    "tone": "formal",
    "locked": "b",  # disabled: ignored
}

GOOD_VALUES = {
    "model": "large",
    "temperature": 0.7,
    "stream": False,  # a checkbox left out of the form is off
    "persona": "terse",
    "tokens": 100,
    "stop": ["END", "STOP"],
    "tools": ["web", "calc"],
    "cite": True,
    "tone": "formal",
    "locked": "a",
}


def settings_app(tmp_path: Path) -> tuple[LightChat, dict[str, Any]]:
    app = LightChat(settings=settings(tmp_path))
    record: dict[str, Any] = {"updates": []}
    echo(app)

    @app.on_chat_start
    async def start() -> None:
        record["sent"] = await cl.ChatSettings(widgets()).send()
        record["session"] = dict(cl.user_session.get("chat_settings"))

    @app.on_settings_update
    async def update(values: dict[str, Any]) -> None:
        record["updates"].append(values)
        record["session_in_update"] = dict(cl.user_session.get("chat_settings"))
        await Message(content=f"updated {len(record['updates'])}").send()

    return app, record


async def test_chat_settings_send_returns_and_keeps_the_initial_values(
    tmp_path: Path, serve: Serve
) -> None:
    app, record = settings_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await started(site, client)
        assert record["sent"] == INITIAL
        assert record["session"] == INITIAL
        session = site.session(client, url)
        assert [w.id for w in session.settings_widgets] == list(INITIAL)
        # Beside the composer (ui.chat_settings_location's default, as in Chainlit).
        page = (await client.get(url)).text
        slot = section(
            page, '<div id="lc-settings" class="lc-settings lc-settings-composer">', "</div>"
        )
        assert f'<form class="lc-settings-open" method="get" action="{url}/settings">' in slot
        assert f'hx-get="{url}/settings"' in slot
        assert 'hx-target="#lc-dialog"' in slot
        assert ">Settings</button>" in slot
        assert "lc-settings-open" not in header_of(page)


async def test_a_chat_without_settings_has_no_settings_button(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=settings(tmp_path))
    echo(app)
    async with serve(app) as site:
        client = site.browser()
        url = await started(site, client)
        page = (await client.get(url)).text
        assert '<div id="lc-settings" class="lc-settings lc-settings-composer"></div>' in page
        assert ">Settings</button>" not in page
        response = await client.get(f"{url}/settings")
        assert response.status_code == 404
        assert "no settings" in response.text
        assert (await client.post(f"{url}/settings", data={})).status_code == 404


async def test_the_settings_form_is_a_dialog_for_htmx_and_a_page_without_it(
    tmp_path: Path,
    serve: Serve,
) -> None:
    app, _ = settings_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await started(site, client)
        dialog = (await client.get(f"{url}/settings", headers=HTMX)).text
        assert dialog.startswith('<dialog id="lc-settings-dialog"')
        assert "data-lc-modal" in dialog.split(">", 1)[0]
        assert "<html" not in dialog
        assert '<button type="button" class="lc-button lc-dialog-cancel">Cancel</button>' in dialog
        assert '<button type="submit" class="lc-button lc-primary">Confirm</button>' in dialog
        # Every control is named by its label.
        for label in ["Model", "Temperature", "Persona", "Max tokens", "Stop words", "Tools"]:
            assert re.search(rf'<label for="(lc-setting-\d+)">{label}</label>', dialog), label
        assert re.search(r'role="switch" checked aria-describedby="lc-setting-3-help">', dialog)
        assert '<p id="lc-setting-3-help" class="lc-hint">Show tokens</p>' in dialog
        assert '<legend id="lc-setting-9-label">Tone</legend>' in dialog
        assert '<option value="small" selected>small</option>' in dialog
        assert 'type="range" id="lc-setting-2" name="temperature" value="0.5" min="0"' in dialog
        assert 'value="END"' in dialog
        assert '<option value="web" selected>Web</option>' in dialog

        page = await client.get(f"{url}/settings")
        assert page.status_code == 200
        assert page.text.startswith("<!doctype html>")
        assert re.search(r'<dialog id="lc-settings-dialog"[^>]*\bopen>', page.text)
        assert f'<a class="lc-button" href="{url}">Cancel</a>' in page.text
        assert f'<form class="lc-settings-form" method="post" action="{url}/settings"' in page.text


async def test_confirmed_settings_are_kept_then_passed_to_on_settings_update(
    tmp_path: Path,
    serve: Serve,
) -> None:
    app, record = settings_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await started(site, client)
        response = await client.post(f"{url}/settings", data=GOOD_FORM, headers=HTMX)
        assert response.status_code == 200
        assert (
            response.text == '<hx-partial hx-target="#lc-dialog" hx-swap="innerHTML"></hx-partial>'
        )
        await answered(site, client, url, "updated 1")
        assert record["updates"] == [GOOD_VALUES]
        assert record["session_in_update"] == GOOD_VALUES
        session = site.session(client, url)
        assert session.data["chat_settings"] == GOOD_VALUES
        # The form shows the values now in force.
        dialog = (await client.get(f"{url}/settings", headers=HTMX)).text
        assert '<option value="large" selected>large</option>' in dialog
        assert 'name="temperature" value="0.7"' in dialog
        assert 'value="END, STOP"' in dialog
        assert 'role="switch" aria-describedby' in dialog  # now off


async def test_settings_without_javascript_come_back_to_the_chat_after_the_callback(
    tmp_path: Path,
    serve: Serve,
) -> None:
    app, record = settings_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await started(site, client)
        response = await client.post(f"{url}/settings", data=GOOD_FORM)
        assert response.status_code == 303
        assert response.headers["location"] == url
        assert record["updates"] == [GOOD_VALUES]
        assert "updated 1" in (await client.get(url)).text


async def test_a_settings_update_waits_for_the_run_in_progress(
    tmp_path: Path, serve: Serve
) -> None:
    app, _ = settings_app(tmp_path)
    release = asyncio.Event()
    order: list[str] = []

    @app.on_message
    async def slow(message: Message) -> None:
        order.append("message")
        await release.wait()
        order.append("message done")

    @app.on_settings_update
    async def update(values: dict[str, Any]) -> None:
        order.append(f"settings {values['model']}")

    async with serve(app) as site:
        client = site.browser()
        url = await started(site, client)
        await client.post(f"{url}/messages", data={"content": "hi"}, headers=HTMX)
        response = await client.post(f"{url}/settings", data=GOOD_FORM, headers=HTMX)
        assert response.status_code == 200
        # Kept at once, for code that reads user_session while the run goes on...
        assert site.session(client, url).data["chat_settings"]["model"] == "large"
        release.set()
        await site.idle(site.session(client, url))
        # ...and the callback runs in turn.
        assert order == ["message", "message done", "settings large"]


BAD_VALUES = [
    ({"model": "huge"}, "“Model” has no option “huge”; choose one of: small, large."),
    ({"model": ["small", "large"]}, "“Model” takes one value; 2 were sent."),
    ({"temperature": "1.5"}, "“Temperature” must be between 0 and 1; 1.5 is not."),
    ({"temperature": "-1"}, "“Temperature” must be between 0 and 1"),
    ({"temperature": "0.55"}, "“Temperature” goes in steps of 0.1 from 0"),
    ({"temperature": "warm"}, "“Temperature” takes a number; “warm” is not one."),
    ({"temperature": "nan"}, "“Temperature” takes a finite number"),
    ({"temperature": "inf"}, "“Temperature” takes a finite number"),
    ({"tokens": "0"}, "“Max tokens” must be between 1 and 4096"),
    ({"tokens": "1e9"}, "“Max tokens” must be between 1 and 4096"),
    ({"cite": "maybe"}, "“Cite sources” is on or off; “maybe” is neither."),
    ({"tools": ["web", "rm -rf"]}, "“Tools” has no option “rm -rf”; choose one of: Web, Maths."),
    ({"tone": "angry"}, "“Tone” has no option “angry”"),
    ({"persona": "x" * 10_001}, "“Persona” takes at most 10,000 characters"),
    ({"stop": ",".join(f"w{i}" for i in range(101))}, "“Stop words” takes at most 100 tags"),
    ({"stop": "x" * 201}, "“Stop words”: a tag is at most 200 characters long."),
    ({"model": None}, "“Model” has no option “”"),
    ({"temperature": None}, "“Temperature” is missing from the form"),
]


@pytest.mark.parametrize(("change", "message"), BAD_VALUES)
async def test_a_bad_value_is_refused_naming_its_input_and_changes_nothing(
    tmp_path: Path, change: dict[str, Any], message: str, serve: Serve
) -> None:
    app, record = settings_app(tmp_path)
    form = {**GOOD_FORM, **change}
    form = {key: value for key, value in form.items() if value is not None}
    async with serve(app) as site:
        client = site.browser()
        url = await started(site, client)
        session = site.session(client, url)
        for headers in (HTMX, {}):
            response = await client.post(f"{url}/settings", data=form, headers=headers)
            assert response.status_code == 400
            assert html.escape(message, quote=False) in response.text
            assert 'role="alert"' in response.text
            assert session.data["chat_settings"] == INITIAL
        assert response.text.startswith("<!doctype html>")  # the settings page, with the error
        assert record["updates"] == []
        assert not session.running


async def test_a_refused_value_is_shown_as_text(tmp_path: Path, serve: Serve) -> None:
    app, _ = settings_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await started(site, client)
        form = {**GOOD_FORM, "model": "<script>alert(1)</script>"}
        response = await client.post(f"{url}/settings", data=form, headers=HTMX)
        assert response.status_code == 400
        assert "<script>" not in response.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text
        assert 'hx-target="#lc-settings-notice"' in response.text


async def test_settings_belong_to_their_browser(tmp_path: Path, serve: Serve) -> None:
    app, record = settings_app(tmp_path)
    async with serve(app) as site:
        owner = site.browser()
        url = await started(site, owner)
        stranger = site.browser()
        await stranger.get("/")
        assert (await stranger.get(f"{url}/settings")).status_code == 404
        assert (await stranger.post(f"{url}/settings", data=GOOD_FORM)).status_code == 404
        assert record["updates"] == []


async def test_settings_sent_later_reach_an_open_page_through_the_stream(tmp_path: Path) -> None:
    renderer = Renderer(Settings(name="Bot"), "v1")
    transcript = Transcript()
    view = StreamView(renderer, transcript, base="", chat_url="/chat/c1", interval=0.15)
    widget = cl.Switch(id="s", label="Stream").data()
    chunks = view.feed([Entry(1, SettingsEvent([widget]))], now=0.0)
    assert len(chunks) == 1
    data = chunks[0].data
    assert data.startswith('<hx-partial hx-target="#lc-settings" hx-swap="innerHTML">')
    assert 'hx-get="/chat/c1/settings"' in data
    assert ">Settings</button>" in data
    # Settings taken away (an empty form): the button goes.
    chunks = view.feed([Entry(2, SettingsEvent([]))], now=0.0)
    assert (
        chunks[0].data == '<hx-partial hx-target="#lc-settings" hx-swap="innerHTML"></hx-partial>'
    )


async def test_the_first_user_message_takes_the_starters_away_once() -> None:
    renderer = Renderer(Settings(name="Bot"), "v1")
    welcome = MessageData(id="w", author="Bot", type="assistant_message", content="Hi")
    view = StreamView(
        renderer,
        Transcript.from_entries([Entry(1, MessageEvent(welcome))]),
        base="",
        chat_url="/chat/c1",
        interval=0.15,
    )
    first = MessageData(id="u1", author="You", type="user_message", content="a")
    second = MessageData(id="u2", author="You", type="user_message", content="b")
    data = "".join(c.data for c in view.feed([Entry(2, MessageEvent(first))], now=0.0))
    assert data.count('<hx-partial hx-target="#lc-start" hx-swap="delete">') == 1
    data = "".join(c.data for c in view.feed([Entry(3, MessageEvent(second))], now=0.0))
    assert "lc-start" not in data
    # A stream that starts after a user message never sends it.
    later = StreamView(
        renderer,
        Transcript.from_entries([Entry(1, MessageEvent(first))]),
        base="",
        chat_url="/chat/c1",
        interval=0.15,
    )
    assert "lc-start" not in "".join(
        c.data for c in later.feed([Entry(2, MessageEvent(second))], now=0.0)
    )


async def test_settings_sent_after_the_page_loaded_show_the_button_in_the_page_too(
    tmp_path: Path,
    serve: Serve,
) -> None:
    app = LightChat(settings=settings(tmp_path))

    @app.on_message
    async def main(message: Message) -> None:
        await cl.ChatSettings([cl.Switch(id="s", label="Stream")]).send()
        await Message(content="settings ready").send()

    async with serve(app) as site:
        client = site.browser()
        url = await started(site, client)
        assert ">Settings</button>" not in (await client.get(url)).text
        await client.post(f"{url}/messages", data={"content": "go"}, headers=HTMX)
        await answered(site, client, url, "settings ready")
        session = site.session(client, url)
        events = [e.event for e in await session.bus.read(session.id)]
        assert [type(e) for e in events].count(SettingsEvent) == 1
        assert ">Settings</button>" in (await client.get(url)).text


def test_the_settings_event_survives_json() -> None:
    widgets_ = [w.data() for w in widgets()]
    event = SettingsEvent(widgets_)
    again = event_from_json(event_to_json(event))
    assert again == event
    assert isinstance(again, SettingsEvent)
    assert again.widgets[6].options == [("Web", "web"), ("Maths", "calc")]
    assert isinstance(again.widgets[6].options[0], tuple)


def test_widgets_check_their_definitions() -> None:
    with pytest.raises(ConfigError, match="needs its options"):
        cl.Select(id="m", label="Model")
    with pytest.raises(ConfigError, match="not both"):
        cl.Select(id="m", label="Model", values=["a"], items={"A": "a"})
    with pytest.raises(ConfigError, match="not one of its options"):
        cl.Select(id="m", label="Model", values=["a"], initial="b")
    with pytest.raises(ConfigError, match="initial_index"):
        cl.RadioGroup(id="m", label="Model", values=["a"], initial_index=3)
    with pytest.raises(ConfigError, match="are not options"):
        cl.MultiSelect(id="m", label="Model", values=["a"], initial=["b"])
    with pytest.raises(ConfigError, match="min=2 is above max=1"):
        cl.Slider(id="t", label="T", initial=1, min=2, max=1)
    with pytest.raises(ConfigError, match="outside"):
        cl.Slider(id="t", label="T", initial=11)
    with pytest.raises(ConfigError, match="step=0"):
        cl.Slider(id="t", label="T", step=0)
    with pytest.raises(ConfigError, match="needs an id"):
        cl.Switch(id="", label="T")
    with pytest.raises(ConfigError, match="needs a label"):
        cl.Switch(id="s", label="")
    with pytest.raises(ConfigError, match="Two settings inputs have the id 's'"):
        cl.ChatSettings([cl.Switch(id="s", label="A"), cl.Checkbox(id="s", label="B")])
    with pytest.raises(ConfigError, match="takes inputs"):
        cl.ChatSettings(["s"])  # type: ignore[list-item]
    # Chainlit's ways of naming the first choice.
    assert cl.Select(id="m", label="M", values=["a", "b"], initial_index=1).initial == "b"
    assert (
        cl.Select(id="m", label="M", items={"A": "a", "B": "b"}, initial_value="b").initial == "b"
    )
    assert cl.RadioGroup(id="m", label="M", values=["a", "b"], initial="a").initial == "a"
    assert cl.Select(id="m", label="M", values=["a"]).to_dict()["items"] == [
        {"label": "a", "value": "a"}
    ]


def test_values_keep_their_types() -> None:
    select = cl.Select(id="n", label="N", values=[1, 2, 3]).data()
    assert parse_value(select, ["2"]) == 2
    slider = cl.Slider(id="t", label="T", initial=0.5, min=0, max=2, step=0.1).data()
    assert parse_value(slider, ["1"]) == 1
    assert isinstance(parse_value(slider, ["1"]), int)
    assert parse_value(slider, ["0.3"]) == 0.3
    assert parse_value(slider, ["0.30000000000000004"]) == 0.3  # as stepping in floats gives
    number = cl.NumberInput(id="n", label="N").data()
    assert parse_value(number, [""]) is None
    assert parse_value(number, ["-2.5"]) == -2.5
    radio = cl.RadioGroup(id="r", label="R", values=["a", "b"]).data()
    assert parse_value(radio, None, current=None) is None  # nothing chosen yet, nor now
    with pytest.raises(SettingError, match="no option"):
        parse_value(radio, None, current="a")


def test_a_number_too_large_to_count_in_steps_is_refused() -> None:
    number = cl.NumberInput(id="n", label="N", step=0.5).data()
    for text in ("1e308", "-1.7e308"):
        with pytest.raises(SettingError, match="“N” takes a smaller number"):
            parse_value(number, [text])
    assert parse_value(number, ["1e300"]) == int(1e300)  # large, and still in steps


# -- untrusted text stays text ------------------------------------------------------------


async def start_structure(serve: Serve, folder: Path, texts: list[str]) -> tuple[Any, Any]:
    """The structure of the header and the starters when every text comes from ``texts``."""
    app = LightChat(settings=settings(folder))
    echo(app)

    @app.set_chat_profiles
    async def profiles() -> list[cl.ChatProfile]:
        return [cl.ChatProfile(name=t, markdown_description="") for t in texts]

    @app.set_starters
    async def starters() -> list[cl.Starter]:
        return [cl.Starter(label=t, message=t) for t in texts]

    @app.set_starter_categories
    async def categories() -> list[cl.StarterCategory]:
        return [
            cl.StarterCategory(label=t, starters=[cl.Starter(label=t, message=t)]) for t in texts
        ]

    async with serve(app) as site:
        client = site.browser()
        url = await started(site, client)
        page = (await client.get(url)).text
        assert len(starters_on(page)) == 2 * len(texts)
        return tag_structure(header_of(page)), tag_structure(start_of(page))


async def test_profile_names_and_starters_are_text(tmp_path: Path, serve: Serve) -> None:
    hostile = await start_structure(serve, tmp_path / "a", list(PAYLOADS))
    plain = await start_structure(serve, tmp_path / "b", PLAIN)
    assert hostile == plain


async def test_profile_descriptions_go_through_the_safe_markdown_renderer(
    tmp_path: Path,
    serve: Serve,
) -> None:
    app = LightChat(settings=settings(tmp_path))
    echo(app)

    @app.set_chat_profiles
    async def profiles() -> list[cl.ChatProfile]:
        return [cl.ChatProfile(name="P", markdown_description="\n\n".join(PAYLOADS))]

    async with serve(app) as site:
        client = site.browser()
        url = await started(site, client)
        description = section(
            (await client.get(url)).text, '<div class="lc-profile-description">', "</div>"
        )
        assert_inert(description)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in description


async def settings_structure(serve: Serve, folder: Path, texts: list[str]) -> Any:
    """The structure of the settings dialog when every text comes from ``texts``."""
    app = LightChat(settings=settings(folder))
    echo(app)

    @app.on_chat_start
    async def start() -> None:
        inputs: list[Any] = []
        for i, t in enumerate(texts):
            common: dict[str, Any] = {"label": t, "description": t, "tooltip": t}
            inputs += [
                cl.Select(id=f"s{i}", values=texts, initial=t, **common),
                cl.TextInput(id=f"t{i}", initial=t, placeholder=t, **common),
                cl.TextInput(id=f"m{i}", initial=t, placeholder=t, multiline=True, **common),
                cl.Tags(id=f"g{i}", initial=[t, t], **common),
                cl.MultiSelect(id=f"x{i}", items={t: t}, initial=[t], **common),
                cl.RadioGroup(id=f"r{i}", values=[t], initial=t, **common),
                cl.Switch(id=t, **common),
            ]
        await cl.ChatSettings(inputs).send()

    async with serve(app) as site:
        client = site.browser()
        url = await started(site, client)
        dialog = (await client.get(f"{url}/settings", headers=HTMX)).text
        return tag_structure(dialog)


async def test_settings_labels_descriptions_and_values_are_text(
    tmp_path: Path, serve: Serve
) -> None:
    hostile = await settings_structure(serve, tmp_path / "a", list(PAYLOADS))
    plain = await settings_structure(serve, tmp_path / "b", PLAIN)
    assert hostile == plain


async def test_a_resumed_chat_keeps_its_profile_and_settings() -> None:
    app = LightChat(settings=Settings(name="Bot"))
    seen: list[tuple[Any, Any]] = []

    @app.on_chat_resume
    async def resume(thread: dict[str, Any]) -> None:
        seen.append((cl.user_session.get("chat_profile"), cl.user_session.get("chat_settings")))

    chats = Chats(app, MemoryBus(), app.settings, message_factory=Message.from_data)
    metadata = {"chat_profile": "Thorough", "chat_settings": {"model": "large"}}
    thread = {"id": "t1", "name": "x", "steps": [], "metadata": metadata}
    session = chats.resume("t1", "owner", [], thread)
    await wait_for_log(
        session.bus,
        session.id,
        lambda events: any(isinstance(e, RunEvent) and not e.running for e in events),
    )
    assert seen == [("Thorough", {"model": "large"})]
    await chats.close_all()


async def test_a_starter_sends_its_command_with_its_message(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=settings(tmp_path))
    received: list[tuple[str, str | None]] = []

    @app.on_chat_start
    async def start() -> None:
        await cl.context.emitter.set_commands([{"id": "Picture", "description": "Draw"}])

    @app.on_message
    async def main(message: Message) -> None:
        received.append((message.content, message.command))

    @app.set_starters
    async def starters() -> list[cl.Starter]:
        return [cl.Starter(label="Draw", message="a cat", command="Picture")]

    async with serve(app) as site:
        client = site.browser()
        url = await started(site, client)
        form = start_of((await client.get(url)).text)
        assert '<input type="hidden" name="command" value="Picture">' in form
        fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form))
        await client.post(f"{url}/messages", data=fields)
        assert received == [("a cat", "Picture")]


def test_chainlit_apps_import_widgets_from_input_widget() -> None:
    from lightchat import input_widget

    assert input_widget.Select is cl.Select
    assert set(input_widget.__all__) <= set(cl.__all__)


async def test_new_chat_keeps_the_current_profile(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=settings(tmp_path))
    echo(app)

    @app.set_chat_profiles
    async def profiles() -> list[cl.ChatProfile]:
        return [
            cl.ChatProfile(name="Fast", markdown_description="Quick"),
            cl.ChatProfile(name="Deep thought", markdown_description="Slow"),
        ]

    async with serve(app) as site:
        client = site.browser()
        url = (await client.get("/", params={"profile": "Deep thought"})).headers["location"]
        page = (await client.get(url)).text
        assert 'href="/?profile=Deep%20thought"><svg' in page  # "New chat"
