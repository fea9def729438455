"""Chainlit apps as they are written: an app needs one of ``on_chat_start``,
``on_message`` (or ``on_audio_chunk``), as in Chainlit."""

from __future__ import annotations

import asyncio
import html
import importlib
import inspect
import json
import logging
import re
import textwrap
import types
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest

import lightchat as cl
from lightchat import LightChat, Settings
from lightchat.api.cache import NO_CACHE_ENV
from lightchat.auth.identity import COOKIE
from lightchat.chat.session import ChatSession
from lightchat.cli import load_app
from lightchat.domain.events import (
    Entry,
    MessageData,
    ToastEvent,
    event_from_json,
    event_to_json,
)
from lightchat.domain.transcript import Transcript
from lightchat.types import Feedback
from lightchat.ui.render import Renderer
from lightchat.ui.stream_view import StreamView
from tests.helpers import WAIT_S, events_of, messages_in, new_session, steps_in, with_form_token

pytestmark = pytest.mark.anyio

HINT = "the app has no @on_message callback"


async def open_chat(
    client: httpx.AsyncClient, app: LightChat, params: dict[str, str] | None = None
) -> tuple[str, ChatSession]:
    """A new chat opened by ``client`` (as a browser opens ``/``): its URL and session."""
    chat = (await client.get("/", params=params)).headers["location"]
    owner = app.build().state.services.identity.load(client.cookies[COOKIE])
    assert app.chats is not None
    session = app.chats.get(chat.rsplit("/", 1)[1], owner)
    assert session is not None
    return str(chat), session


async def end_chats(app: LightChat) -> None:
    """End the chats an in-process app opened (no server stops them here)."""
    assert app.chats is not None
    await app.chats.close_all()


@pytest.mark.usefixtures("isolated_import")
def test_an_app_with_only_on_chat_start_is_served(tmp_path: Path) -> None:
    # The shape of Chainlit's own hello sample: a greeting, buttons, no @on_message.
    app_file = tmp_path / "hello.py"
    app_file.write_text(
        textwrap.dedent(
            """
            import lightchat as cl

            @cl.on_chat_start
            async def main():
                await cl.Message(
                    content="Hello!", actions=[cl.Action(name="go", payload={}, label="Go")]
                ).send()

            @cl.action_callback("go")
            async def go(action):
                await cl.Message(content="Going").send()
            """
        )
    )
    app = load_app(str(app_file))
    assert "on_chat_start" in app.callbacks
    assert "on_message" not in app.callbacks


async def test_a_message_without_on_message_is_kept_and_the_log_says_why_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = LightChat(settings=Settings(app_dir=str(tmp_path), secret="s" * 40, history=False))

    @app.on_chat_start
    async def start() -> None:
        await cl.Message(content="Pick a button below.").send()

    caplog.set_level(logging.INFO, logger="lightchat")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        with_form_token(client, app)
        chat, session = await open_chat(client, app)
        await session.settled()
        for text in ("first words", "second words"):
            posted = await client.post(
                f"{chat}/messages", data={"content": text}, headers={"HX-Request": "true"}
            )
            assert posted.status_code == 204, posted.text
            await session.settled()
        page = (await client.get(chat)).text
    assert "first words" in page
    assert "second words" in page
    assert 'data-type="error"' not in page
    hints = [record for record in caplog.records if HINT in record.getMessage()]
    assert len(hints) == 1  # once, however many messages
    assert len(hints[0].getMessage().splitlines()) == 1
    await end_chats(app)


async def test_sleep_waits_without_holding_up_the_loop() -> None:
    woke: list[str] = []

    async def other() -> None:
        woke.append("other")

    await asyncio.gather(cl.sleep(0.01), other())
    assert woke == ["other"]


def test_cache_makes_a_value_once_per_arguments() -> None:
    made: list[str] = []

    @cl.cache
    def load(name: str, *, size: int = 1) -> str:
        made.append(name)
        return f"{name}:{size}"

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: load("model"), range(8)))
    assert results == ["model:1"] * 8
    assert load("model", size=2) == "model:2"
    assert made == ["model", "model"]

    failures = iter([ValueError("down"), None])

    @cl.cache
    def flaky() -> str:
        failure = next(failures)
        if failure is not None:
            raise failure
        return "up"

    with pytest.raises(ValueError, match="down"):
        flaky()
    assert flaky() == "up"  # a failure is not kept


async def test_cache_makes_an_async_value_once() -> None:
    calls = 0

    @cl.cache
    async def connect(url: str) -> str:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        return f"client for {url}"

    clients = await asyncio.gather(*(connect("db://x") for _ in range(5)))
    assert clients == ["client for db://x"] * 5
    assert calls == 1


async def test_author_rename_shows_authors_under_the_apps_names(tmp_path: Path) -> None:
    app = LightChat(settings=Settings(app_dir=str(tmp_path), secret="s" * 40, history=False))

    @app.author_rename
    async def rename(orig_author: str) -> str:
        return {"LLMMathChain": "Albert Einstein", "Tool": "Marie Curie"}.get(
            orig_author, orig_author
        )

    @app.on_message
    async def main(message: cl.Message) -> None:
        await cl.Message(content="E = mc2", author="LLMMathChain").send()
        streamed = cl.Message(content="", author="Tool")
        for token in ("radium ", "polonium"):
            await streamed.stream_token(token)
        await streamed.send()

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        with_form_token(client, app)
        chat, session = await open_chat(client, app)
        posted = await client.post(
            f"{chat}/messages", data={"content": "hi"}, headers={"HX-Request": "true"}
        )
        assert posted.status_code == 204
        await session.settled()
        page = (await client.get(chat)).text
    assert 'data-author="Albert Einstein"' in page
    assert 'data-author="Marie Curie"' in page
    assert "LLMMathChain" not in page
    await end_chats(app)


def test_author_rename_takes_the_original_author() -> None:
    app = LightChat()
    with pytest.raises(cl.ConfigError, match="author_rename"):
        app.author_rename(lambda: "nobody")


async def answered(app: LightChat, text: str = "go") -> tuple[ChatSession, list[MessageData]]:
    """A chat of ``app`` that was sent ``text``: the session and the message states it
    published, in order (the user's message first)."""
    session = new_session(app, Settings(token_batch_ms=10_000))
    async with asyncio.timeout(WAIT_S):
        await session.send_user_message(text)
    return session, messages_in(await events_of(session))


async def test_message_takes_command_and_modes_and_removes_its_actions() -> None:
    app = LightChat()
    kept: list[cl.Message] = []

    @app.on_message
    async def main(message: cl.Message) -> None:
        reply = cl.Message(
            content="Searching",
            command="search",
            modes={"model": "fast"},
            actions=[cl.Action(name="more", payload={}, label="More")],
        )
        await reply.send()
        await reply.remove_actions()
        kept.append(reply)

    session, states = await answered(app)
    reply = kept[0]
    assert (reply.command, reply.modes, reply.actions) == ("search", {"model": "fast"}, [])
    sent = states[1]
    assert (sent.command, sent.modes) == ("search", {"model": "fast"})
    assert [a.name for a in sent.actions] == ["more"]
    shown = session.transcript.items[reply.id]
    assert isinstance(shown, MessageData)
    assert shown.actions == []  # the buttons are gone from the chat


async def test_update_ends_a_stream_and_empty_tokens_are_ignored() -> None:
    app = LightChat()

    @app.on_message
    async def main(message: cl.Message) -> None:
        reply = cl.Message(content="")
        await reply.stream_token("")  # ignored: shows nothing
        await reply.send()
        for token in ("Hel", "", "lo"):
            await reply.stream_token(token)
        await reply.update()  # Chainlit's way to end a stream

    session, states = await answered(app)
    assistant = [s for s in states if s.type == "assistant_message"]
    assert (assistant[0].content, assistant[0].streaming) == ("", False)
    assert (assistant[-1].content, assistant[-1].streaming) == ("Hello", False)
    shown = session.transcript.items[assistant[-1].id]
    assert isinstance(shown, MessageData)
    assert not shown.streaming


async def test_step_takes_chainlits_arguments() -> None:
    app = LightChat()
    seen: list[str] = []

    @cl.step(
        name="Lookup",
        type="tool",
        id="lookup-step",
        tags=["search"],
        metadata={"source": "wiki"},
        language="json",
        show_input=False,
        default_open=True,
        auto_collapse=False,
        icon="search",
    )
    async def lookup(query: str) -> dict[str, str]:
        current = cl.context.current_step
        assert current is not None
        seen.append(current.id)
        return {"query": query}

    @app.on_message
    async def main(message: cl.Message) -> None:
        await lookup("cats")
        async with cl.Step(name="think", auto_collapse=True, thread_id="t1") as thinking:
            await thinking.stream_token("Say ", is_input=True)
            await thinking.stream_token("meow", is_input=True)
            await thinking.stream_token("")  # ignored
            await thinking.stream_token("done")

    session, _ = await answered(app)
    steps = steps_in(await events_of(session))
    assert seen == ["lookup-step"]
    lookup_states = [s for s in steps if s.id == "lookup-step"]
    assert (lookup_states[-1].icon, lookup_states[-1].default_open) == ("search", True)
    thinking = [s for s in steps if s.name == "think"]
    assert thinking[0].auto_collapse
    assert (thinking[-1].input, thinking[-1].output) == ("Say meow", "done")

    # auto_collapse: open while it runs, closed once done.
    renderer = Renderer(Settings(), "v1")
    transcript = session.transcript
    running, done = thinking[0], thinking[-1]
    assert " open>" in renderer.step(running, transcript, "")
    assert done.status == "done"
    assert " open>" not in renderer.step(done, transcript, "")


async def test_chat_context_add_remove_and_clear() -> None:
    app = LightChat()
    seen: list[list[dict[str, str]]] = []

    @app.on_message
    async def main(message: cl.Message) -> None:
        if message.content == "forget":
            cl.chat_context.clear()
            seen.append(cl.chat_context.to_openai())
            return
        reply = await cl.Message(content=f"echo {message.content}").send()
        note = cl.Message(content="Be brief.", type="system_message")
        assert cl.chat_context.add(note) is note
        cl.chat_context.add(note)  # once only
        seen.append(cl.chat_context.to_openai())
        assert cl.chat_context.remove(reply)
        assert not cl.chat_context.remove(reply)
        seen.append(cl.chat_context.to_openai())

    session = new_session(app)
    async with asyncio.timeout(WAIT_S):
        await session.send_user_message("hi")
        await session.send_user_message("forget")
        await session.send_user_message("again")
    assert seen[0] == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "echo hi"},
        {"role": "system", "content": "Be brief."},
    ]
    assert seen[1] == [
        {"role": "user", "content": "hi"},
        {"role": "system", "content": "Be brief."},
    ]
    assert seen[2] == []  # cleared; the chat still shows everything
    assert seen[3][:2] == [
        {"role": "user", "content": "again"},
        {"role": "assistant", "content": "echo again"},
    ]
    assert "echo hi" in [m.content for m in messages_in(await events_of(session))]


async def test_user_session_has_the_chats_own_values_and_accessors() -> None:
    app = LightChat()
    seen: dict[str, object] = {}

    @app.on_chat_start
    async def start() -> None:
        counter = cl.user_session.create_accessor("count", 0, apply_fn=lambda n: n + 1)
        assert counter.get() == 0
        assert [counter.apply(), counter.apply()] == [1, 2]
        counter.reset()
        seen["count"] = cl.user_session.get("count")
        for key in ("id", "env", "chat_settings", "user", "chat_profile", "client_type"):
            seen[key] = cl.user_session.get(key)
        seen["languages"] = cl.user_session.get("languages")
        session = cl.context.session
        seen["attributes"] = (
            session.user_env,
            session.chat_profile,
            session.chat_settings,
            session.client_type,
            session.language,
            session.environ.get("HTTP_USER_AGENT"),
        )

    session = new_session(app)
    session.client_type = "copilot"
    session.languages = "fr-CH,fr;q=0.9"
    session.environ = {"HTTP_USER_AGENT": "tests"}
    session.data["env"] = {"OPENAI_API_KEY": "sk-test"}
    async with asyncio.timeout(WAIT_S):
        await session.start()
    assert seen["count"] == 0
    assert seen["id"] == session.id
    assert seen["env"] == {"OPENAI_API_KEY": "sk-test"}
    assert (seen["chat_settings"], seen["user"], seen["chat_profile"]) == ({}, None, None)
    assert (seen["client_type"], seen["languages"]) == ("copilot", "fr-CH,fr;q=0.9")
    assert seen["attributes"] == (
        {"OPENAI_API_KEY": "sk-test"},
        None,
        {},
        "copilot",
        "fr-CH",
        "tests",
    )


async def test_a_chat_knows_the_request_that_opened_it_but_not_its_cookies(
    tmp_path: Path,
) -> None:
    app = LightChat(settings=Settings(app_dir=str(tmp_path), secret="s" * 40, history=False))

    @app.on_chat_start
    async def start() -> None:
        await cl.Message(content="Hello").send()

    transport = httpx.ASGITransport(app=app)
    headers = {"User-Agent": "tests/1.0", "Accept-Language": "de-DE,de;q=0.8"}
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers=headers
    ) as client:
        await client.get("/")  # a browser cookie first
        _, session = await open_chat(client, app)
        assert session.environ["HTTP_USER_AGENT"] == "tests/1.0"
        assert "HTTP_COOKIE" not in session.environ
        assert (session.languages, session.language) == ("de-DE,de;q=0.8", "de-DE")
    await end_chats(app)


async def test_on_feedback_receives_what_the_user_said(tmp_path: Path) -> None:
    app = LightChat(settings=Settings(app_dir=str(tmp_path), secret="s" * 40))
    received: list[Feedback] = []

    @app.on_message
    async def main(message: cl.Message) -> None:
        await cl.Message(content="An answer").send()

    @app.on_feedback
    async def feedback_given(feedback: Feedback) -> None:
        received.append(feedback)
        if feedback.comment == "boom":
            raise RuntimeError("the metrics service is down")

    asgi = app.build()
    transport = httpx.ASGITransport(app=app)
    async with (
        asgi.router.lifespan_context(asgi),
        httpx.AsyncClient(transport=transport, base_url="http://testserver") as client,
    ):
        assert app.history is not None
        assert await app.history.wait_ready()
        with_form_token(client, app)
        chat, session = await open_chat(client, app)
        await client.post(
            f"{chat}/messages", data={"content": "hi"}, headers={"HX-Request": "true"}
        )
        await session.settled()
        await app.history.flush()
        (answer,) = [
            item
            for item in session.transcript.items.values()
            if isinstance(item, MessageData) and item.type == "assistant_message"
        ]
        target = f"{chat}/feedback/{answer.id}"
        helpful = await client.post(target, data={"value": "1"}, headers={"HX-Request": "true"})
        assert helpful.status_code == 200
        failing = await client.post(
            target, data={"value": "0", "comment": "boom"}, headers={"HX-Request": "true"}
        )
        assert failing.status_code == 200  # the app's error is logged; the feedback is kept
    assert received[0] == Feedback(forId=answer.id, value=1, threadId=session.thread_id)
    assert (received[1].value, received[1].comment) == (0, "boom")


async def test_on_app_startup_and_shutdown_frame_the_servers_life(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    app = LightChat(settings=Settings(app_dir=str(tmp_path), secret="s" * 40, history=False))
    happened: list[str] = []

    @app.on_app_startup
    async def startup() -> None:
        happened.append("startup")

    @app.on_chat_start
    async def start() -> None:
        happened.append("chat")

    @app.on_chat_end
    def end() -> None:
        happened.append("chat end")

    @app.on_app_shutdown
    def shutdown() -> None:
        happened.append("shutdown")
        raise RuntimeError("the pool was closed already")

    await app.start()
    assert happened == ["startup"]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        _, session = await open_chat(client, app)
        await session.settled()
    await app.stop()
    assert happened == ["startup", "chat", "chat end", "shutdown"]
    assert "Error in @on_app_shutdown" in caplog.text  # logged; the stop went on


async def test_a_failing_on_app_startup_stops_the_start(tmp_path: Path) -> None:
    app = LightChat(settings=Settings(app_dir=str(tmp_path), secret="s" * 40, history=False))

    @app.on_message
    async def main(message: cl.Message) -> None: ...

    @app.on_app_startup
    def startup() -> None:
        raise RuntimeError("no model weights in ./models")

    with pytest.raises(RuntimeError, match="no model weights"):
        await app.start()


def test_chainlits_variables_set_the_same_settings() -> None:
    secret = "c" * 40
    settings = Settings.from_env(
        {
            "CHAINLIT_AUTH_SECRET": secret,
            "CHAINLIT_URL": "https://chat.example.com",
            "CHAINLIT_APP_ROOT": "/srv/app",
        }
    )
    assert (settings.auth_secret, settings.url, settings.app_dir) == (
        secret,
        "https://chat.example.com",
        "/srv/app",
    )
    # lightchat's own name wins over Chainlit's.
    both = Settings.from_env(
        {"CHAINLIT_URL": "https://old.example", "LIGHTCHAT_URL": "https://new.example"}
    )
    assert both.url == "https://new.example"


CHAINLIT_CONFIG = """
[project]
user_env = ["OPENAI_API_KEY"]
session_timeout = 600
user_session_timeout = 86400
cache = true
persist_user_env = false
allow_origins = {origins}

[features]
unsafe_allow_html = false
latex = true
user_message_autoscroll = true
edit_message = false

[features.spontaneous_file_upload]
enabled = true
accept = {{ "application/octet-stream" = [".xyz", ".pdb"], "image/png" = [] }}
max_files = 20
max_size_mb = 500

[features.audio]
enabled = false
sample_rate = 24000

[UI]
name = "Research assistant"
cot = "tool_call"
confirm_new_chat = true
alert_style = "classic"

[meta]
generated_by = "2.0.0"
"""


def test_a_chainlit_projects_config_is_read_when_there_is_no_lightchat_toml(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / ".chainlit").mkdir()
    config = tmp_path / ".chainlit" / "config.toml"
    config.write_text(CHAINLIT_CONFIG.format(origins="[]"))
    settings = Settings.from_env({}, config_file=True, app_dir=str(tmp_path))
    assert settings.name == "Research assistant"
    assert (settings.cot, settings.latex, settings.edit) == ("tool_call", True, False)
    assert (settings.session_idle_timeout_s, settings.session_max_age_s) == (600, 86400)
    assert settings.user_env == "OPENAI_API_KEY"
    assert (settings.upload_max_files, settings.upload_max_size_mb) == (20, 500)
    assert settings.upload_accept == "application/octet-stream,.xyz,.pdb,image/png"
    assert (settings.confirm_new_chat, settings.user_message_autoscroll) == (True, True)
    assert settings.langchain_cache  # LangChain's cache, in .lightchat/langchain.db
    set_aside = [r.getMessage() for r in caplog.records if "left aside" in r.getMessage()]
    assert any(": ui.alert_style has no use" in line for line in set_aside)
    assert (settings.audio, settings.audio_sample_rate) == (False, 24000)  # features.audio
    Settings.from_env({}, config_file=True, app_dir=str(tmp_path))
    again = [r for r in caplog.records if "left aside" in r.getMessage()]
    assert len(again) == len(set_aside)  # each said once

    # Chainlit's default lets every site in; with cookies that is refused, naming the fix.
    config.write_text(CHAINLIT_CONFIG.format(origins='["*"]'))
    with pytest.raises(cl.ConfigError, match=r"config\.toml: project\.allow_origins: '\*'"):
        Settings.from_env({}, config_file=True, app_dir=str(tmp_path))

    # A lightchat.toml wins: Chainlit's file is then not read at all.
    (tmp_path / "lightchat.toml").write_text('[ui]\nname = "Mine"\n')
    assert Settings.from_env({}, config_file=True, app_dir=str(tmp_path)).name == "Mine"


CHAINLIT_IMPORT_PATHS = {
    "types": ["ThreadDict", "StepDict", "ElementDict", "Feedback", "FeedbackDict"],
    "context": ["context"],
    "user_session": ["user_session"],
    "chat_context": ["chat_context"],
    "message": ["Message", "ErrorMessage", "AskUserMessage", "AskActionMessage"],
    "step": ["Step", "step", "StepDict"],
    "element": ["Text", "Image", "File", "Pdf", "Plotly", "Pyplot", "Dataframe", "TaskList"],
    "action": ["Action"],
    "user": ["User", "PersistedUser"],
    "input_widget": ["Select", "Slider", "Switch", "TextInput"],
    "chat_settings": ["ChatSettings"],
    "sync": ["make_async", "run_sync", "sleep"],
    "logger": ["logger"],
}


@pytest.mark.parametrize("module", sorted(CHAINLIT_IMPORT_PATHS))
def test_chainlits_import_paths_work_under_lightchat(module: str) -> None:
    imported = importlib.import_module(f"lightchat.{module}")
    for name in CHAINLIT_IMPORT_PATHS[module]:
        assert hasattr(imported, name), f"lightchat.{module}.{name}"


def test_the_packages_names_stay_the_objects_apps_use() -> None:
    # lightchat.context, lightchat.step... are modules too; the package's names are not.
    for module in ("context", "step", "user_session", "chat_context"):
        importlib.import_module(f"lightchat.{module}")
    assert isinstance(cl.context, cl.Context)
    assert callable(cl.step)
    assert not isinstance(cl.step, types.ModuleType)
    assert isinstance(cl.user_session, cl.UserSession)
    assert isinstance(cl.chat_context, cl.ChatContext)


@pytest.mark.parametrize(
    ("callable_", "arguments"),
    [
        (
            cl.Message,
            [
                "content",
                "author",
                "language",
                "actions",
                "elements",
                "type",
                "metadata",
                "tags",
                "id",
                "parent_id",
                "command",
                "modes",
                "created_at",
            ],
        ),
        (
            cl.Step,
            [
                "name",
                "type",
                "id",
                "parent_id",
                "elements",
                "metadata",
                "tags",
                "language",
                "default_open",
                "auto_collapse",
                "show_input",
                "thread_id",
                "icon",
            ],
        ),
        (
            cl.step,
            [
                "name",
                "type",
                "id",
                "parent_id",
                "tags",
                "metadata",
                "language",
                "show_input",
                "default_open",
                "auto_collapse",
                "icon",
            ],
        ),
        (cl.Message.stream_token, ["token", "is_sequence"]),
        (cl.Step.stream_token, ["token", "is_sequence", "is_input"]),
        (cl.user_session.create_accessor, ["key", "default", "apply_fn"]),
    ],
)
def test_chainlits_arguments_are_taken(callable_: Any, arguments: list[str]) -> None:
    parameters = inspect.signature(callable_).parameters
    missing = [name for name in arguments if name not in parameters]
    assert missing == [], f"{callable_.__qualname__} lacks {missing}"


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_a_dataframe_from_pandas_or_polars(library: str) -> None:
    frames = importlib.import_module(library)
    frame = frames.DataFrame({"city": ["Lisbon", "Porto", None], "people": [545_000, 232_000, 1]})
    shown = json.loads(cl.Dataframe(name="cities", data=frame).data().content or "")
    assert shown == {
        "columns": ["city", "people"],
        "rows": [["Lisbon", "545000"], ["Porto", "232000"], ["", "1"]],
        "total": 3,
    }
    big = frames.DataFrame({"n": list(range(cl.Dataframe.MAX_ROWS + 20))})
    limited = json.loads(cl.Dataframe(data=big).data().content or "")
    assert (len(limited["rows"]), limited["total"]) == (cl.Dataframe.MAX_ROWS, 520)


def test_cache_keeps_nothing_when_told_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(NO_CACHE_ENV, "1")  # lightchat run --no-cache
    made: list[int] = []

    @cl.cache
    def load() -> int:
        made.append(1)
        return len(made)

    assert [load(), load()] == [1, 2]


async def test_starter_categories_receive_the_chats_profile(tmp_path: Path) -> None:
    app = LightChat(settings=Settings(app_dir=str(tmp_path), secret="s" * 40, history=False))
    asked: list[tuple[object, ...]] = []

    @app.on_message
    async def main(message: cl.Message) -> None: ...

    @app.set_chat_profiles
    async def profiles() -> list[cl.ChatProfile]:
        return [
            cl.ChatProfile(name="Quick", markdown_description="Short answers.", default=True),
            cl.ChatProfile(name="Deep", markdown_description="Long answers."),
        ]

    @app.set_starter_categories
    async def categories(
        user: object = None, language: object = None, chat_profile: object = None
    ) -> list[cl.StarterCategory]:
        asked.append((user, language, chat_profile))
        starter = cl.Starter(label="Begin", message="Let us begin")
        return [cl.StarterCategory(label=f"For {chat_profile}", starters=[starter])]

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        chat = (await client.get("/", params={"profile": "Deep"})).headers["location"]
        page = (await client.get(chat)).text
    assert "For Deep" in page
    assert asked[-1][2] == "Deep"
    assert app.chats is not None
    await end_chats(app)


async def test_author_rename_gets_the_apps_name_for_a_message_without_author() -> None:
    app = LightChat()
    given: list[str] = []

    @app.author_rename
    def rename(orig_author: str) -> str:
        given.append(orig_author)
        return "Renamed"

    @app.on_message
    async def main(message: cl.Message) -> None:
        await cl.Message(content="hi").send()

    _, states = await answered(app)
    assert given == ["Assistant"]
    assert states[-1].author == "Renamed"


async def test_send_toast_goes_to_open_pages_only_and_escaped() -> None:
    app = LightChat()

    @app.on_message
    async def main(message: cl.Message) -> None:
        await cl.context.emitter.send_toast("<i>Done</i>", type="warning")
        with pytest.raises(cl.ConfigError, match="toast's type"):
            await cl.context.emitter.send_toast("x", type="shout")
        await cl.context.emitter.set_chat_settings({"model": "large"})

    session, _ = await answered(app)
    events = await events_of(session)
    (toast,) = [event for event in events if isinstance(event, ToastEvent)]
    assert toast == ToastEvent("<i>Done</i>", "warning")
    assert event_from_json(event_to_json(toast)) == toast
    assert session.chat_settings == {"model": "large"}
    # Never replayed: a page opened later, or a compacted log, does not show it again.
    assert not any(isinstance(e, ToastEvent) for e in session.transcript.snapshot_events())
    renderer = Renderer(Settings(), "v1")
    view = StreamView(renderer, Transcript(), base="", chat_url="/chat/c", interval=0.15)
    (chunk,) = view.feed([Entry(1, toast)], now=0.0)
    assert chunk.data == (
        '<hx-partial hx-target="#lc-toasts" hx-swap="beforeend">'
        '<p class="lc-toast" data-type="warning" role="status">&lt;i&gt;Done&lt;/i&gt;</p>'
        "</hx-partial>"
    )


async def test_settings_in_tabs_with_a_date_picker(tmp_path: Path) -> None:
    app = LightChat(settings=Settings(app_dir=str(tmp_path), secret="s" * 40, history=False))
    updates: list[dict[str, object]] = []
    initial: list[dict[str, object]] = []

    @app.on_chat_start
    async def start() -> None:
        values = await cl.ChatSettings(
            [
                cl.Tab(
                    id="model",
                    label="Model",
                    inputs=[cl.Select(id="size", label="Size", values=["small", "large"])],
                ),
                cl.Tab(
                    id="dates",
                    label="Dates",
                    inputs=[
                        cl.DatePicker(
                            id="since",
                            label="Since",
                            initial=date(2025, 1, 15),
                            min_date="2025-01-01",
                            max_date="2025-12-31",
                        )
                    ],
                ),
            ]
        ).send()
        initial.append(values)

    @app.on_settings_update
    async def changed(values: dict[str, object]) -> None:
        updates.append(values)

    htmx = {"HX-Request": "true"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        with_form_token(client, app)
        chat, session = await open_chat(client, app)
        await session.settled()
        assert initial == [{"size": None, "since": "2025-01-15"}]  # one dict, by input id
        dialog = (await client.get(f"{chat}/settings", headers=htmx)).text
        assert re.search(r"<legend>Model</legend>.*name=\"size\"", dialog, re.S)
        assert re.search(r"<legend>Dates</legend>.*type=\"date\"", dialog, re.S)
        assert 'value="2025-01-15" min="2025-01-01" max="2025-12-31"' in dialog

        for bad, said in [("2024-12-31", "from 2025-01-01 on"), ("31/01/2025", "a date like")]:
            refused = await client.post(
                f"{chat}/settings", data={"size": "large", "since": bad}, headers=htmx
            )
            assert refused.status_code == 400
            assert said in html.unescape(refused.text)
        posted = await client.post(
            f"{chat}/settings", data={"size": "large", "since": "2025-03-01"}, headers=htmx
        )
        assert posted.status_code == 200
        await session.settled()
        cleared = await client.post(
            f"{chat}/settings", data={"size": "large", "since": ""}, headers=htmx
        )
        assert cleared.status_code == 200
        await session.settled()
    assert updates == [{"size": "large", "since": "2025-03-01"}, {"size": "large", "since": None}]
    await end_chats(app)


def test_a_date_picker_checks_its_dates_when_it_is_made() -> None:
    with pytest.raises(cl.ConfigError, match="not a date like"):
        cl.DatePicker(id="d", label="Day", initial="tomorrow")
    with pytest.raises(cl.ConfigError, match="comes after max_date"):
        cl.DatePicker(id="d", label="Day", min_date="2025-02-01", max_date="2025-01-01")
    with pytest.raises(cl.ConfigError, match="outside its bounds"):
        cl.DatePicker(id="d", label="Day", initial="2026-01-01", max_date="2025-12-31")
    with pytest.raises(cl.ConfigError, match='"single" or "range"'):
        cl.DatePicker(id="d", label="Day", mode="week")
    with pytest.raises(cl.ConfigError, match=r"\(start, end\) pair"):
        cl.DatePicker(id="d", label="Trip", mode="range", initial="2025-01-01")
    with pytest.raises(cl.ConfigError, match=r"starts \(2025-02-01\) after its end"):
        cl.DatePicker(id="d", label="Trip", mode="range", initial=("2025-02-01", "2025-01-01"))
    with pytest.raises(cl.ConfigError, match="outside its bounds"):
        cl.DatePicker(
            id="d",
            label="Trip",
            mode="range",
            initial=("2025-01-01", "2026-01-02"),
            max_date="2025-12-31",
        )
    trip = cl.DatePicker(id="d", label="Trip", mode="range", initial=(date(2025, 5, 1), ""))
    assert trip.initial == ["2025-05-01", "2025-05-01"]  # an open end is the start
    assert trip.to_dict()["mode"] == "range"
    assert cl.DatePicker(id="d", label="Trip", mode="range").initial is None


async def test_a_date_range_picker_takes_a_start_and_an_end(tmp_path: Path) -> None:
    app = LightChat(settings=Settings(app_dir=str(tmp_path), secret="s" * 40, history=False))
    updates: list[dict[str, object]] = []

    @app.on_chat_start
    async def start() -> None:
        picker = cl.DatePicker(
            id="trip",
            label="Trip",
            mode="range",
            initial=("2025-05-01", "2025-05-09"),
            min_date="2025-01-01",
        )
        await cl.ChatSettings([picker]).send()

    @app.on_settings_update
    async def changed(values: dict[str, object]) -> None:
        updates.append(values)

    htmx = {"HX-Request": "true"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        with_form_token(client, app)
        chat, session = await open_chat(client, app)
        await session.settled()
        assert session.chat_settings == {"trip": ["2025-05-01", "2025-05-09"]}
        dialog = (await client.get(f"{chat}/settings", headers=htmx)).text
        group = re.search(r'<div class="lc-date-range" role="group".*?</div>', dialog, re.S)
        assert group is not None
        assert re.findall(
            r'<span>(\w+)</span>\s*<input type="date"[^>]*name="trip" '
            r'value="([\d-]+)"',
            group.group(0),
        ) == [("From", "2025-05-01"), ("To", "2025-05-09")]
        for bad, said in [
            (["2025-06-09", "2025-06-01"], "ends (2025-06-01) before it starts (2025-06-09)"),
            (["", "2025-06-01"], "needs its start date"),
            (["2024-12-01", "2025-06-01"], "from 2025-01-01 on"),
            (["2025-06-01"], "two dates"),
        ]:
            refused = await client.post(f"{chat}/settings", data={"trip": bad}, headers=htmx)
            assert refused.status_code == 400, bad
            assert said in html.unescape(refused.text)
        for sent in (["2025-06-01", "2025-06-03"], ["2025-07-04", ""], ["", ""]):
            posted = await client.post(f"{chat}/settings", data={"trip": sent}, headers=htmx)
            assert posted.status_code == 200
            await session.settled()
    assert updates == [
        {"trip": ["2025-06-01", "2025-06-03"]},
        {"trip": ["2025-07-04", "2025-07-04"]},
        {"trip": None},
    ]
    await end_chats(app)


async def test_on_settings_edit_sees_the_form_as_it_is_edited(tmp_path: Path) -> None:
    app = LightChat(settings=Settings(app_dir=str(tmp_path), secret="s" * 40, history=False))
    edits: list[dict[str, object]] = []
    seen = asyncio.Event()

    @app.on_chat_start
    async def start() -> None:
        await cl.ChatSettings([cl.Select(id="size", label="Size", values=["s", "l"])]).send()

    @app.on_settings_edit
    async def edited(values: dict[str, object]) -> None:
        edits.append(values)
        seen.set()

    htmx = {"HX-Request": "true"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        with_form_token(client, app)
        chat, session = await open_chat(client, app)
        await session.settled()
        dialog = (await client.get(f"{chat}/settings", headers=htmx)).text
        assert f'hx-post="{chat}/settings/edit" hx-trigger="change"' in dialog
        edit = await client.post(f"{chat}/settings/edit", data={"size": "l"}, headers=htmx)
        assert edit.status_code == 204
        async with asyncio.timeout(WAIT_S):
            await seen.wait()
        assert edits == [{"size": "l"}]
        assert session.chat_settings == {"size": None}  # nothing kept before "Confirm"
        refused = await client.post(f"{chat}/settings/edit", data={"size": "xl"}, headers=htmx)
        assert refused.status_code == 400
        assert len(edits) == 1
    await end_chats(app)


async def test_without_on_settings_edit_the_form_posts_nothing_while_edited(
    tmp_path: Path,
) -> None:
    app = LightChat(settings=Settings(app_dir=str(tmp_path), secret="s" * 40, history=False))

    @app.on_chat_start
    async def start() -> None:
        await cl.ChatSettings([cl.Switch(id="stream", label="Stream")]).send()

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        chat, session = await open_chat(client, app)
        await session.settled()
        dialog = (await client.get(f"{chat}/settings", headers={"HX-Request": "true"})).text
        assert "/settings/edit" not in dialog
    await end_chats(app)
