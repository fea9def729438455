"""The chain-of-thought setting (which steps show) and ``cl.chat_context``."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest

import lightchat as cl
from lightchat.config.registry import Registry
from lightchat.config.settings import Settings
from lightchat.domain.events import Entry, Event, RemoveEvent, StepData, StepEvent
from lightchat.domain.transcript import Transcript
from lightchat.errors import ConfigError
from lightchat.ui.render import Renderer
from lightchat.ui.stream_view import StreamView
from tests.helpers import new_session

PARTIAL = re.compile(r'<hx-partial hx-target="#([^"]+)" hx-swap="([^"]+)">', re.S)


def step(id_: str, type_: str = "tool", parent: str | None = None) -> StepData:
    return replace(StepData(id=id_, name=f"step {id_}", parent_id=parent), type=type_)  # type: ignore[arg-type]


# plan (run) > search (tool) > rank (llm) > fetch (tool)
STEPS = [
    step("plan", "run"),
    step("search", "tool", "plan"),
    step("rank", "llm", "search"),
    step("fetch", "tool", "rank"),
]


def page(cot: str) -> str:
    renderer = Renderer(Settings(cot=cot), "v1")
    transcript = Transcript.from_entries(
        Entry(i, StepEvent(s)) for i, s in enumerate(STEPS, start=1)
    )
    return renderer.page("chat.html", transcript=transcript, base="", chat_id="c", chat_url="/c")


def shown_steps(html: str) -> list[str]:
    return re.findall(r'<details id="step-(\w+)"', html)


def test_full_shows_every_step_nested() -> None:
    html = page("full")
    assert shown_steps(html) == ["plan", "search", "rank", "fetch"]


def test_tool_call_shows_tool_steps_under_their_nearest_shown_ancestor() -> None:
    html = page("tool_call")
    assert shown_steps(html) == ["search", "fetch"]
    # fetch's parents plan and rank are hidden: it nests in search, the nearest shown one.
    children = html.index('id="step-search-children"')
    assert children < html.index('id="step-fetch"')


def test_hidden_shows_no_step() -> None:
    assert shown_steps(page("hidden")) == []


def stream_ops(cot: str, events: list[Event]) -> list[tuple[str, str]]:
    renderer = Renderer(Settings(cot=cot), "v1")
    view = StreamView(renderer, Transcript(), base="", chat_url="/c", interval=0.15)
    chunks = view.feed([Entry(i, e) for i, e in enumerate(events, start=1)], now=0.0)
    return [(m[1], m[2]) for c in chunks if c.event is None for m in PARTIAL.finditer(c.data)]


def test_the_stream_follows_the_same_rule() -> None:
    events: list[Event] = [StepEvent(s) for s in STEPS]
    assert stream_ops("tool_call", events) == [
        ("lc-log", "beforeend"),
        ("step-search-children", "beforeend"),
    ]
    assert stream_ops("hidden", events) == []
    # Removing a hidden step removes the shown steps inside it.
    removed = stream_ops("tool_call", [*events, RemoveEvent("plan")])
    assert removed[-1] == ("step-search", "delete")
    assert len(removed) == 3


def test_a_bad_cot_value_names_the_fix() -> None:
    with pytest.raises(ConfigError, match="LIGHTCHAT_COT=full"):
        Settings.from_env({"LIGHTCHAT_COT": "some"})


@pytest.mark.anyio
async def test_chat_context_is_the_conversation_so_far() -> None:
    registry = Registry()
    seen: list[object] = []

    @registry.on_message
    async def main(message: cl.Message) -> None:
        seen.append(cl.chat_context.to_openai())
        seen.append([m.content for m in cl.chat_context.get()])
        async with cl.Step(name="tool"):
            pass
        await cl.Message(content=f"echo {message.content}").send()

    session = new_session(registry)
    await session.send_user_message("one")
    await session.send_user_message("two")
    assert seen[2] == [
        {"role": "user", "content": "one"},
        {"role": "assistant", "content": "echo one"},
        {"role": "user", "content": "two"},
    ]
    assert seen[3] == ["one", "echo one", "two"]
    assert seen[0] == [{"role": "user", "content": "one"}]


def test_a_step_shows_its_icon_and_may_start_open() -> None:
    renderer = Renderer(Settings(), "v1")
    transcript = Transcript()
    emoji = replace(step("a"), icon="🔎", default_open=True)
    named = replace(step("b"), icon="search")
    html = renderer.step(emoji, transcript, "") + renderer.step(named, transcript, "")
    assert re.search(r'<details id="step-a"[^>]*data-icon="🔎"[^>]* open>', html)
    assert '<span class="lc-step-icon" aria-hidden="true">🔎</span>' in html
    assert re.search(r'<details id="step-b"[^>]*data-icon="search"', html)
    assert '<span class="lc-step-icon" aria-hidden="true"></span>' in html


@pytest.mark.anyio
async def test_step_icon_reaches_the_chat() -> None:
    registry = Registry()

    @registry.on_message
    async def main(message: cl.Message) -> None:
        async with cl.Step(name="look", icon="🔎", default_open=True):
            pass

    session = new_session(registry)
    await session.send_user_message("go")
    (shown,) = [i for i in session.transcript.items.values() if isinstance(i, StepData)]
    assert shown.icon == "🔎"
    assert shown.default_open
