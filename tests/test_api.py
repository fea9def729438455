"""The app-facing API: Message, ErrorMessage, Step, step, user_session, context, sync helpers,
and the registry's checks. Everything runs inside a real chat session."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import lightchat as cl
from lightchat import (
    ConfigError,
    ErrorMessage,
    LightChat,
    Message,
    NoSessionError,
    Settings,
    Step,
    context,
    make_async,
    run_sync,
    step,
    user_session,
)
from lightchat.chat.session import ChatSession
from lightchat.config.registry import invoke
from lightchat.domain.events import (
    Event,
    MessageData,
    MessageEvent,
    RemoveEvent,
    RunEvent,
    StepData,
    TokenEvent,
)
from tests.helpers import WAIT_S, events_of, messages_in, new_session, steps_in

pytestmark = pytest.mark.timeout(10)
anyio = pytest.mark.anyio


async def in_chat(
    body: Callable[[], Awaitable[None]], settings: Settings | None = None
) -> tuple[ChatSession, list[Event]]:
    """Run ``body`` as an on_message callback; returns the session and what it published."""
    app = LightChat()
    failures: list[BaseException] = []

    @app.on_message
    async def main(message: Message) -> None:
        try:
            await body()
        except BaseException as exc:
            failures.append(exc)
            raise

    session = new_session(app, settings)
    async with asyncio.timeout(WAIT_S):
        await session.send_user_message("go")
    if failures:
        raise failures[0]
    events = await events_of(session)
    # Drop the user's message and the run markers: what remains is what ``body`` did.
    return session, [
        e
        for e in events[1:]
        if not isinstance(e, RunEvent)
        and not (isinstance(e, MessageEvent) and e.message.type == "user_message")
    ]


# -- Message ----------------------------------------------------------------------------


@anyio
async def test_send_publishes_the_message() -> None:
    sent: list[Message] = []

    async def body() -> None:
        sent.append(await Message(content="Hello **you**").send())
        await Message(content="From Alice", author="Alice").send()

    session, events = await in_chat(body, Settings(name="Bot"))
    first, second = messages_in(events)
    assert sent[0].id == first.id
    assert (first.author, first.type, first.content, first.streaming) == (
        "Bot",
        "assistant_message",
        "Hello **you**",
        False,
    )
    assert second.author == "Alice"
    assert [i.id for i in session.transcript.roots()][-2:] == [first.id, second.id]


@anyio
async def test_non_text_content_is_shown_as_json() -> None:
    async def body() -> None:
        await Message(content={"answer": 42, "ok": True}).send()

    _, events = await in_chat(body)
    (message,) = messages_in(events)
    assert json.loads(message.content) == {"answer": 42, "ok": True}
    assert message.language == "json"


@anyio
async def test_update_and_remove() -> None:
    ids: list[str] = []

    async def body() -> None:
        message = await Message(content="draft").send()
        ids.append(message.id)
        message.content = "final"
        assert await message.update()
        keep = await Message(content="keep").send()
        assert await message.remove()
        ids.append(keep.id)

    session, events = await in_chat(body)
    gone, kept = ids
    assert [(m.id, m.content) for m in messages_in(events)] == [
        (gone, "draft"),
        (gone, "final"),
        (kept, "keep"),
    ]
    assert events[-1] == RemoveEvent(gone)
    assert gone not in session.transcript.items
    assert kept in session.transcript.items


@anyio
async def test_stream_token_then_send() -> None:
    async def body() -> None:
        message = Message(content="")
        for token in ["Hel", "lo", " there"]:
            await message.stream_token(token)
        message.author = "Writer"
        await message.update()  # ends the stream, as in Chainlit
        await message.send()

    session, events = await in_chat(body, Settings(token_batch_ms=10_000))
    first = events[0]
    assert isinstance(first, MessageEvent)
    assert (first.message.content, first.message.streaming) == ("Hel", True)
    assert events[1:3] == [
        TokenEvent(first.message.id, "lo"),
        TokenEvent(first.message.id, " there"),
    ]
    updated, final = messages_in(events)[1:]
    assert (updated.content, updated.streaming, updated.author) == ("Hello there", False, "Writer")
    assert (final.content, final.streaming) == ("Hello there", False)
    shown = session.transcript.items[first.message.id]
    assert isinstance(shown, MessageData)
    assert shown.content == "Hello there"


@anyio
async def test_stream_token_is_sequence_replaces_the_content() -> None:
    async def body() -> None:
        message = Message(content="")
        await message.stream_token("one")
        await message.stream_token(" two")
        await message.stream_token(" three")
        await message.stream_token("Replaced", is_sequence=True)
        await message.stream_token("!")
        await message.send()

    session, events = await in_chat(body, Settings(token_batch_ms=10_000))
    states = [(m.content, m.streaming) for m in messages_in(events)]
    assert states == [("one", True), ("Replaced", True), ("Replaced!", False)]
    # Tokens gathered before the replacement are published before it, not after.
    shown = [e.delta if isinstance(e, TokenEvent) else type(e).__name__ for e in events]
    assert shown == [
        "MessageEvent",
        " two",
        " three",
        "MessageEvent",
        "!",
        "MessageEvent",
    ]
    message_id = messages_in(events)[0].id
    shown_message = session.transcript.items[message_id]
    assert isinstance(shown_message, MessageData)
    assert shown_message.content == "Replaced!"


@anyio
async def test_streaming_after_send_reopens_the_message() -> None:
    async def body() -> None:
        message = await Message(content="done").send()
        await message.stream_token(", and more")
        await message.send()

    _, events = await in_chat(body)
    states = [(m.content, m.streaming) for m in messages_in(events)]
    assert states == [("done", False), ("done, and more", True), ("done, and more", False)]


@anyio
async def test_error_message() -> None:
    async def body() -> None:
        await ErrorMessage(content="The API is down").send()

    _, events = await in_chat(body)
    (message,) = messages_in(events)
    assert (message.type, message.author, message.content) == ("error", "Error", "The API is down")


def test_message_dict_and_from_data() -> None:
    data = MessageData(id="u1", author="You", type="user_message", content="hi", created_at=5.0)
    message = Message.from_data(data)
    assert (message.id, message.content, message.author, message.type) == (
        "u1",
        "hi",
        "You",
        "user_message",
    )
    assert message.to_dict() == {
        "id": "u1",
        "output": "hi",
        "author": "You",
        "type": "user_message",
        "language": None,
        "parentId": None,
        "createdAt": 5.0,
    }


# -- Step -------------------------------------------------------------------------------


@step(type="tool")
async def search(query: str, limit: int = 3) -> str:
    return f"{limit} results for {query}"


@step
def double(x: int) -> dict[str, int]:
    return {"double": x * 2}


class Tools:
    @step(name="lookup")
    def lookup(self, key: str) -> str:
        return key.upper()


@anyio
async def test_async_step_decorator_shows_arguments_and_result() -> None:
    results: list[str] = []

    async def body() -> None:
        results.append(await search("cats", limit=5))

    _, events = await in_chat(body)
    assert results == ["5 results for cats"]
    started, ended = steps_in(events)
    assert started.id == ended.id
    assert (started.name, started.type, started.status) == ("search", "tool", "running")
    assert json.loads(started.input) == {"query": "cats", "limit": 5}
    assert (ended.status, ended.output) == ("done", "5 results for cats")
    assert ended.ended_at is not None
    assert ended.parent_id is None


@anyio
async def test_sync_step_decorator_shows_arguments_and_result() -> None:
    results: list[Any] = []

    async def body() -> None:
        results.append(double(21))
        results.append(Tools().lookup("k"))

    _, events = await in_chat(body)
    assert results == [{"double": 42}, "K"]
    double_end = steps_in(events)[1]
    assert double_end.name == "double"
    assert json.loads(double_end.input) == {"x": 21}
    assert json.loads(double_end.output) == {"double": 42}
    assert double_end.language == "json"
    lookup_end = steps_in(events)[3]
    assert lookup_end.name == "lookup"
    assert json.loads(lookup_end.input) == {"key": "k"}  # no `self`
    assert lookup_end.output == "K"


@anyio
async def test_steps_nest_along_the_call_stack() -> None:
    @step
    async def inner() -> None:
        async with Step(name="grandchild"):
            await Message(content="inside").send()

    @step
    async def outer() -> str:
        await inner()
        with Step(name="sync child"):
            pass
        return "o"

    async def body() -> None:
        assert await outer() == "o"
        async with Step(name="after"):
            pass

    _, events = await in_chat(body)
    steps = {s.name: s for s in steps_in(events)}
    assert steps["outer"].parent_id is None
    assert steps["inner"].parent_id == steps["outer"].id
    assert steps["grandchild"].parent_id == steps["inner"].id
    assert steps["sync child"].parent_id == steps["outer"].id
    assert steps["after"].parent_id is None
    (message,) = messages_in(events)
    assert message.parent_id == steps["grandchild"].id
    assert all(s.status == "done" for s in steps.values())


@anyio
async def test_a_raising_step_fails_and_reraises() -> None:
    @step
    async def broken() -> None:
        raise RuntimeError("index unavailable")

    @step
    def broken_sync() -> None:
        raise LookupError

    async def body() -> None:
        with pytest.raises(RuntimeError, match="index unavailable"):
            await broken()
        with pytest.raises(LookupError):
            broken_sync()

    session, events = await in_chat(body)
    last = {s.name: s for s in steps_in(events)}
    assert (last["broken"].status, last["broken"].output) == ("failed", "index unavailable")
    assert (last["broken_sync"].status, last["broken_sync"].output) == ("failed", "LookupError")
    assert all(s.ended_at is not None for s in last.values())
    assert [m.type for m in messages_in(await events_of(session))] == ["user_message"]


@anyio
async def test_step_context_managers() -> None:
    async def body() -> None:
        async with Step(name="think", type="llm") as s:
            assert context.current_step is s
            s.input = "question"
            await s.update()
            await s.stream_token("part one, ")
            await s.stream_token("part two")
        with Step(name="plain", show_input=False) as p:
            p.output = ["a", "b"]
        assert context.current_step is None

    _, events = await in_chat(body)
    think = [s for s in steps_in(events) if s.name == "think"]
    assert [(s.status, s.input) for s in think] == [
        ("running", ""),
        ("running", "question"),
        ("done", "question"),
    ]
    assert think[-1].type == "llm"
    assert think[-1].output == "part one, part two"
    assert [e.delta for e in events if isinstance(e, TokenEvent)] == ["part one, ", "part two"]
    plain = [s for s in steps_in(events) if s.name == "plain"][-1]
    assert (plain.status, plain.show_input, json.loads(plain.output)) == ("done", False, ["a", "b"])


@anyio
async def test_removing_a_step_removes_its_children() -> None:
    async def body() -> None:
        async with Step(name="parent") as parent, Step(name="child"):
            pass
        async with Step(name="kept"):
            pass
        await parent.remove()

    session, _ = await in_chat(body)
    names = [i.name for i in session.transcript.items.values() if isinstance(i, StepData)]
    assert names == ["kept"]


@anyio
async def test_step_type_is_checked() -> None:
    with pytest.raises(ConfigError, match="tool"):
        Step(name="x", type="bogus")  # type: ignore[arg-type]


def test_steps_outside_a_chat_just_run() -> None:
    assert double(2) == {"double": 4}
    with Step(name="free") as s:
        s.output = "x"
    assert s.output == "x"
    assert asyncio.run(search("dogs")) == "3 results for dogs"


@anyio
async def test_async_step_outside_a_chat_just_runs() -> None:
    assert await search("birds", limit=1) == "1 results for birds"
    async with Step(name="free") as s:
        s.input = {"k": 1}
    assert json.loads(s.input) == {"k": 1}


# -- outside a chat -----------------------------------------------------------------------


@anyio
async def test_chat_api_outside_a_chat_says_where_to_call_it() -> None:
    with pytest.raises(NoSessionError, match="inside a callback such as @on_message"):
        await Message(content="hi").send()
    with pytest.raises(NoSessionError):
        await Step(name="s").send()
    with pytest.raises(NoSessionError):
        user_session.get("k")
    with pytest.raises(NoSessionError):
        _ = context.session
    assert context.current_step is None


# -- user_session and context -------------------------------------------------------------


@anyio
async def test_user_session_is_per_chat() -> None:
    app = LightChat()
    seen: list[tuple[str, Any, bool, Any, Any]] = []

    @app.on_chat_start
    async def start() -> None:
        user_session.set("who", context.session.owner)
        user_session.set("obj", object())

    @app.on_message
    async def main(message: Message) -> None:
        seen.append(
            (
                user_session.get("who"),
                user_session.get("missing", "default"),
                "who" in user_session,
                user_session.get("id"),
                user_session.get("obj"),
            )
        )

    alice = new_session(app, owner="alice")
    bob = new_session(app, owner="bob")
    async with asyncio.timeout(WAIT_S):
        await asyncio.gather(alice.start(), bob.start())
        await asyncio.gather(alice.send_user_message("a"), bob.send_user_message("b"))
    assert [s[:4] for s in seen] == [
        ("alice", "default", True, alice.id),
        ("bob", "default", True, bob.id),
    ]
    assert seen[0][4] is alice.data["obj"]
    assert seen[0][4] is not seen[1][4]


@anyio
async def test_context_session_is_the_running_chat() -> None:
    found: list[ChatSession] = []

    async def body() -> None:
        found.append(context.session)
        found.append(cl.context.session)

    session, _ = await in_chat(body)
    assert found == [session, session]
    assert session.thread_id == session.id


# -- sync code ------------------------------------------------------------------------------


@anyio
async def test_make_async_runs_in_a_thread_with_the_chat_context() -> None:
    loop_thread = threading.get_ident()
    seen: list[tuple[int, Any]] = []

    def blocking(x: int) -> int:
        seen.append((threading.get_ident(), user_session.get("k")))
        return x * 2

    async def body() -> None:
        user_session.set("k", "v")
        assert await make_async(blocking)(21) == 42

    await in_chat(body)
    ((thread, value),) = seen
    assert thread != loop_thread
    assert value == "v"
    assert make_async(blocking).__name__ == "blocking"


@anyio
async def test_run_sync_from_a_sync_callback_keeps_order() -> None:
    app = LightChat()
    results: list[Any] = []

    async def compute() -> int:
        return 7

    @app.on_message
    def main(message: Message) -> None:
        results.append(run_sync(compute()))
        results.append(double(5))
        reply = Message(content="")
        for token in ["a", "b", "c", "d"]:
            run_sync(reply.stream_token(token))
        sent = run_sync(reply.send())
        results.append(sent.content)
        run_sync(Message(content="after").send())

    session = new_session(app, Settings(token_batch_ms=10_000))
    async with asyncio.timeout(WAIT_S):
        await session.send_user_message("go")
    assert results == [7, {"double": 10}, "abcd"]
    events = await events_of(session)
    shown = [
        e.delta if isinstance(e, TokenEvent) else e.message.content
        for e in events
        if isinstance(e, TokenEvent)
        or (isinstance(e, MessageEvent) and e.message.type == "assistant_message")
    ]
    assert shown[-2:] == ["abcd", "after"]
    assert "".join(shown[:-2]) == "abcd"  # the first token shows the message, then deltas
    assert [s.status for s in steps_in(events)] == ["running", "done"]
    assert contents_error(events) == []


def contents_error(events: list[Event]) -> list[str]:
    return [m.content for m in messages_in(events) if m.type == "error"]


def test_run_sync_without_a_loop_just_runs() -> None:
    async def answer() -> int:
        return 42

    assert run_sync(answer()) == 42


@anyio
async def test_run_sync_on_the_loop_thread_is_refused() -> None:
    async def never() -> None:
        raise AssertionError("must not run")

    with pytest.raises(RuntimeError, match="use await"):
        run_sync(never())


# -- registry -------------------------------------------------------------------------------


def test_decorators_return_the_function() -> None:
    app = LightChat()

    async def main(message: Message) -> None: ...

    assert app.on_message(main) is main
    assert app.callbacks["on_message"] is main


@pytest.mark.parametrize(
    ("hook", "source", "fix"),
    [
        ("on_message", "async def f(message, extra): ...", "async def main(message: cl.Message)"),
        ("on_chat_start", "async def f(message): ...", "async def start()"),
        ("on_chat_end", "def f(a, b=1): ...", "async def end()"),
        ("on_stop", "async def f(x): ...", "async def stopped()"),
    ],
)
def test_wrong_signatures_are_refused_with_the_fix(hook: str, source: str, fix: str) -> None:
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    app = LightChat()
    with pytest.raises(ConfigError, match=r"takes the wrong arguments") as info:
        getattr(app, hook)(namespace["f"])
    assert f"`{fix}" in str(info.value)
    assert hook not in app.callbacks


@pytest.mark.parametrize(
    "source",
    [
        "async def f(): ...",
        "async def f(message): ...",
        "def f(message=None, other=None): ...",
        "async def f(*args): ...",
    ],
)
def test_accepted_on_message_signatures(source: str) -> None:
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    app = LightChat()
    assert app.on_message(namespace["f"]) is namespace["f"]


def test_registering_a_non_function_is_refused() -> None:
    with pytest.raises(ConfigError, match="decorates a function"):
        LightChat().on_message("main")  # type: ignore[type-var]


def test_late_registration_is_refused() -> None:
    app = LightChat()

    @app.on_message
    async def main(message: Message) -> None: ...

    app.build()
    with pytest.raises(ConfigError, match=r"after the app started serving.*top level"):

        @app.on_chat_start
        async def start() -> None: ...

    with pytest.raises(RuntimeError, match="before the app starts serving"):
        app.configure(name="Too late")


def test_configure_before_serving() -> None:
    app = LightChat(settings=Settings(name="A"))
    app.configure(name="B", token_batch_ms=5)
    assert (app.settings.name, app.settings.token_batch_ms) == ("B", 5)


@anyio
async def test_invoke_passes_only_the_arguments_a_callback_takes() -> None:
    got: list[tuple[Any, ...]] = []

    async def none() -> str:
        got.append(())
        return "none"

    def one(message: str) -> str:
        got.append((message,))
        return "one"

    async def returns_awaitable() -> Any:
        return None

    def sync_returning_coroutine() -> Awaitable[str]:
        async def inner() -> str:
            return "awaited"

        return inner()

    class Unhashable:  # a callable that cannot be remembered by itself
        __hash__ = None  # type: ignore[assignment]

        def __call__(self, message: str) -> str:
            got.append(("unhashable", message))
            return "called"

    async with asyncio.timeout(WAIT_S):
        assert await invoke(none, "m") == "none"
        assert await invoke(one, "m", "extra") == "one"
        assert await invoke(one, "again", "extra") == "one"  # its arguments, remembered
        assert await invoke(sync_returning_coroutine) == "awaited"
        assert await invoke(returns_awaitable) is None
        assert await invoke(Unhashable(), "m", "extra") == "called"
    assert got == [(), ("m",), ("again",), ("unhashable", "m")]
