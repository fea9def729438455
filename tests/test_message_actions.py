"""A message's actions: which answer "Regenerate" is on (in the page, in the stream, and
what the server accepts), the icon buttons' names, the avatars, code blocks' headers."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lightchat import LightChat, Message, Settings
from lightchat.domain.events import (
    AskData,
    Entry,
    Event,
    MessageData,
    MessageEvent,
    RemoveEvent,
    StepData,
    StepEvent,
)
from lightchat.domain.transcript import Transcript
from lightchat.ui.icons import initial_avatar
from lightchat.ui.render import Renderer
from lightchat.ui.stream_view import StreamView
from tests.helpers import HTMX, Serve

CHAT = "/chat/c1"


def msg(id_: str, type_: str = "assistant_message", **fields: Any) -> MessageData:
    author = "You" if type_ == "user_message" else "Bot"
    return MessageData(id=id_, author=author, type=type_, content=f"text of {id_}", **fields)  # type: ignore[arg-type]


def transcript(*events: Event) -> Transcript:
    return Transcript.from_entries(Entry(seq, event) for seq, event in enumerate(events, 1))


def last(*items: MessageData | StepData) -> str | None:
    events: list[Event] = [
        MessageEvent(item) if isinstance(item, MessageData) else StepEvent(item) for item in items
    ]
    found = transcript(*events).last_answer()
    return found.id if found is not None else None


# -- which answer ---------------------------------------------------------------------------


def test_the_last_answer_is_the_last_assistant_message_after_the_users_last() -> None:
    assert last() is None
    assert last(msg("w")) is None  # on_chat_start's welcome: nothing to answer again
    assert last(msg("w"), msg("u", "user_message")) is None  # no answer yet
    assert last(msg("w"), msg("u", "user_message"), msg("a")) == "a"
    assert last(msg("u", "user_message"), msg("a"), msg("b")) == "b"  # the latest of several
    step = StepData(id="s", name="tool")
    assert last(msg("u", "user_message"), msg("a"), step) == "a"
    assert last(msg("u", "user_message"), msg("a"), msg("e", "error")) == "a"
    assert last(msg("u", "user_message"), msg("a"), msg("v", "user_message")) is None
    asking = msg("q", ask=AskData(kind="text"))
    assert last(msg("u", "user_message"), msg("a"), asking) is None  # a question waits
    answered = replace(asking, ask=None)
    assert last(msg("u", "user_message"), answered, msg("r", "user_message"), msg("c")) == "c"


# -- the page and the stream ----------------------------------------------------------------


def renderer(tmp_path: Path) -> Renderer:
    return Renderer(Settings(app_dir=str(tmp_path)), "v1")


def page_of(tmp_path: Path, shown: Transcript) -> str:
    return renderer(tmp_path).page(
        "chat.html", transcript=shown, base="", chat_url=CHAT, chat_id="c1"
    )


def regenerate_on(html: str) -> list[str]:
    return re.findall(r'action="[^"]*/messages/([^"/]+)/regenerate"', html)


def test_the_page_shows_regenerate_on_the_last_answer_only(tmp_path: Path) -> None:
    shown = transcript(
        MessageEvent(msg("w")),
        MessageEvent(msg("u1", "user_message")),
        MessageEvent(msg("a1")),
        MessageEvent(msg("u2", "user_message")),
        MessageEvent(msg("a2")),
    )
    html = page_of(tmp_path, shown)
    assert regenerate_on(html) == ["a2"]
    assert html.count('<span class="lc-sr">Copy</span>') == 3  # every answer, the welcome too


def test_the_stream_moves_regenerate_to_the_newest_answer(tmp_path: Path) -> None:
    shown = transcript(MessageEvent(msg("w")))
    view = StreamView(renderer(tmp_path), shown, base="", chat_url=CHAT, interval=0.1)

    def feed(seq: int, event: Event) -> str:
        return "".join(chunk.data for chunk in view.feed([Entry(seq, event)], float(seq)))

    assert regenerate_on(feed(2, MessageEvent(msg("u1", "user_message")))) == []
    assert regenerate_on(feed(3, MessageEvent(msg("a1")))) == ["a1"]
    # The user writes again: the answer loses it (not sent again: its button's holder is
    # emptied).
    sent = feed(4, MessageEvent(msg("u2", "user_message")))
    assert '<hx-partial hx-target="#msg-a1-regenerate" hx-swap="innerHTML"></hx-partial>' in sent
    assert 'hx-target="#msg-a1"' not in sent
    assert regenerate_on(sent) == []
    streaming = feed(5, MessageEvent(msg("a2", streaming=True)))
    assert regenerate_on(streaming) == []  # not while it is written
    assert regenerate_on(feed(6, MessageEvent(msg("a2")))) == ["a2"]
    # The app removes that answer: the one before is not the answer to the last message.
    assert regenerate_on(feed(7, RemoveEvent("a2"))) == []
    # A further answer to the same message gets it; the one before loses it.
    feed(8, MessageEvent(msg("a3")))
    sent = feed(9, MessageEvent(msg("a4")))
    assert regenerate_on(sent) == ["a4"]
    assert '<hx-partial hx-target="#msg-a3-regenerate" hx-swap="innerHTML">' in sent
    # Removing the newest gives it back to the one before, redrawn.
    sent = feed(10, RemoveEvent("a4"))
    assert regenerate_on(sent) == ["a3"]
    assert '<hx-partial hx-target="#msg-a3" hx-swap="outerMorph">' in sent
    # A question back to the user has none, and takes it from the answer before.
    sent = feed(11, MessageEvent(msg("q", ask=AskData(kind="text"))))
    assert regenerate_on(sent) == []
    assert '<hx-partial hx-target="#msg-a3-regenerate" hx-swap="innerHTML">' in sent
    # Every answer has the holder, with or without the button.
    assert 'id="msg-q-regenerate"' in sent


def test_the_actions_are_icon_buttons_named_by_hidden_labels(tmp_path: Path) -> None:
    shown = transcript(MessageEvent(msg("u", "user_message")), MessageEvent(msg("a")))
    html = page_of(tmp_path, shown)
    for name, icon in (("Copy", "copy"), ("Regenerate", "refresh-cw")):
        assert re.search(
            rf'title="{name}"[^>]*>\s*<svg aria-hidden="true"[^>]*lucide-{icon}".*?'
            rf'<span class="lc-sr">{name}</span></button>',
            html,
            re.S,
        ), name
    # Copying needs the script: hidden until lightchat.js shows it.
    assert re.search(r'class="lc-tool lc-copy"[^>]*data-lc-needs-js hidden>', html)
    # "Edit": a summary that is a button, with its icon and name.
    assert re.search(
        r'<summary class="lc-tool" role="button" title="Edit"><svg [^>]*lucide-pencil".*?'
        r'<span class="lc-sr">Edit</span></summary>',
        html,
        re.S,
    )
    assert '<a class="lc-button lc-edit-cancel" href="/chat/c1">Cancel</a>' in html


def test_feedback_buttons_are_icons_with_their_state(tmp_path: Path) -> None:
    view = renderer(tmp_path)
    view.feedback = True
    html = view.message(msg("a"), "", CHAT)
    for name, icon in (("Helpful", "thumbs-up"), ("Not helpful", "thumbs-down")):
        assert re.search(
            rf'title="{name}" aria-pressed="false">\s*<svg [^>]*lucide-{icon}".*?'
            rf'<span class="lc-sr">{name}</span></button>',
            html,
            re.S,
        ), name


def test_avatars_an_initial_by_default_the_apps_file_where_it_has_one(tmp_path: Path) -> None:
    view = renderer(tmp_path)
    answer = view.message(msg("a"), "")
    assert re.search(
        r'<span class="lc-avatar lc-avatar-initial lc-avatar-c\d" aria-hidden="true">B</span>',
        answer,
    )
    assert "lc-avatar" not in view.message(msg("u", "user_message"), "")  # a bubble alone
    # The colour follows the name, the same every time; odd names get a letter or "?".
    assert initial_avatar("Bot") == initial_avatar("bot ")
    assert ">Z</span>" in initial_avatar("  zed")
    assert ">?</span>" in initial_avatar("«»")
    assert 'aria-hidden="true">&lt;' not in initial_avatar("<b>")
    colours = {re.search(r"lc-avatar-c(\d)", initial_avatar(name))[1] for name in "ABCDEFGHIJ"}  # type: ignore[index]
    assert len(colours) > 2

    avatars = tmp_path / "public" / "avatars"
    avatars.mkdir(parents=True)
    (avatars / "you.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (avatars / "bot.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>", encoding="utf-8")
    view = renderer(tmp_path)
    assert '<img class="lc-avatar" src="/base/public/avatars/bot.svg" alt=""' in view.message(
        msg("a"), "/base"
    )
    assert '<img class="lc-avatar" src="/base/public/avatars/you.png" alt=""' in view.message(
        msg("u", "user_message"), "/base"
    )


# -- what the server accepts ----------------------------------------------------------------

pytestmark = pytest.mark.anyio


def counting_app(tmp_path: Path) -> tuple[LightChat, list[str]]:
    app = LightChat(settings=Settings(name="Bot", app_dir=str(tmp_path)))
    received: list[str] = []

    @app.on_chat_start
    async def start() -> None:
        await Message(content="welcome").send()

    @app.on_message
    async def main(message: Message) -> None:
        received.append(message.content)
        await Message(content=f"answer {len(received)} to {message.content}").send()

    return app, received


def message_ids(html: str, type_: str) -> list[str]:
    return re.findall(rf'id="msg-(\w+)"[^>]*data-type="{type_}"', html)


async def test_the_server_refuses_to_regenerate_anything_but_the_last_answer(
    tmp_path: Path, serve: Serve
) -> None:
    app, received = counting_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))  # on_chat_start has welcomed
        welcome = message_ids((await client.get(url)).text, "assistant_message")[0]
        refused = await client.post(f"{url}/messages/{welcome}/regenerate", headers=HTMX)
        assert refused.status_code == 409
        assert "Only the last answer to your last message" in refused.text
        for text in ("one", "two"):
            await client.post(f"{url}/messages", data={"content": text})
        page = (await client.get(url)).text
        _, first, second = message_ids(page, "assistant_message")
        assert regenerate_on(page) == [second]
        older = await client.post(f"{url}/messages/{first}/regenerate", headers=HTMX)
        assert older.status_code == 409
        plain = await client.post(f"{url}/messages/{first}/regenerate")  # without htmx: a page
        assert plain.status_code == 409
        assert "Only the last answer" in plain.text
        mine = message_ids(page, "user_message")[0]
        assert (await client.post(f"{url}/messages/{mine}/regenerate")).status_code == 409
        gone = await client.post(f"{url}/messages/nosuchmessage/regenerate", headers=HTMX)
        assert gone.status_code == 404
        assert received == ["one", "two"]

        accepted = await client.post(f"{url}/messages/{second}/regenerate", headers=HTMX)
        assert accepted.status_code == 204
        await site.idle(site.session(client, url))
        assert received == ["one", "two", "two"]
        page = (await client.get(url)).text
        newest = message_ids(page, "assistant_message")[-1]
        assert regenerate_on(page) == [newest]
        assert "answer 3 to two" in page


async def test_the_refusal_is_in_the_users_language(tmp_path: Path, serve: Serve) -> None:
    app, _ = counting_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))  # on_chat_start has welcomed
        welcome = message_ids((await client.get(url)).text, "assistant_message")[0]
        refused = await client.post(
            f"{url}/messages/{welcome}/regenerate", headers={**HTMX, "Accept-Language": "fr"}
        )
        assert refused.status_code == 409
        assert "Seule la dernière réponse" in refused.text
