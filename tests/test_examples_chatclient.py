"""The numbered examples, each driven through lightchat.testing's ChatClient as an app's
author tests their app: loaded from its file, started, asked, clicked and answered in
process (their browser tests are in tests/e2e). Every example is here: the last test
checks it. They run offline: the keys that would send them to a real API are unset."""

from __future__ import annotations

import base64
import json
import math
import os
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from llama_index.core import Settings as LlamaSettings

from lightchat.domain.events import AudioEvent
from lightchat.domain.user import User
from lightchat.integrations.openai import uninstrument_openai
from lightchat.testing import ChatClient, FakeModel, ModelReply, ScriptedOpenAI
from tests.helpers import wait_for_log

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

pytestmark = [
    pytest.mark.anyio,
    pytest.mark.timeout(30),
    pytest.mark.usefixtures("isolated_import", "offline"),
]


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """No key: each example answers from its scripted stand-in, as `make demo` does."""
    for key in ("OPENAI_API_KEY", "MISTRAL_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(key, raising=False)


def example(name: str) -> Path:
    return EXAMPLES / name


async def test_01_quickstart_streams_an_answer_after_its_tool_step() -> None:
    async with ChatClient(example("01_quickstart.py")) as chat:
        assert (await chat.start()).content == "Welcome! Ask me anything."
        reply = await chat.send("Why is the sky blue?")
        search = reply.step("search")
        assert (search.type, search.status) == ("tool", "done")
        assert search.output == "3 documents about Why is the sky blue?"
        assert reply.content.startswith("Here is how I would think about **sky blue**.")
        assert len(reply.tokens) > 10
        assert "".join(reply.messages[0].tokens) == reply.content
        assert chat.user_session["count"] == 1


async def test_02_steps_nest_and_a_failing_one_shows_the_error() -> None:
    async with ChatClient(example("02_steps.py")) as chat:
        reply = await chat.send("vectors")
        (plan,) = reply.steps
        assert [(s.name, s.type) for s in plan.children] == [
            ("retrieve", "retrieval"),
            ("rerank", "rerank"),
            ("draft", "llm"),
        ]
        assert plan.children[2].tokens == ["Answer ", "using ", "vectors ", "faq.md "]
        assert reply.content == "The best source is **vectors faq.md**."
        failed = await chat.send("please fail")
        assert failed.steps[0].status == "failed"
        (error,) = failed.errors
        assert str(error.exception) == "the search index is unavailable"
        assert failed.contents == ["RuntimeError: the search index is unavailable"]


async def test_03_sync_callbacks_answer_from_worker_threads() -> None:
    async with ChatClient(example("03_sync.py")) as chat:
        assert (await chat.start()).content == "Send me a word and I'll reverse it."
        assert (await chat.send("stressed")).content == "`stressed` reversed is `desserts`"


async def test_04_the_explicit_app_echoes() -> None:
    async with ChatClient(example("04_explicit_app.py")) as chat:
        reply = await chat.send("hello")
        assert reply.content == "You said: *hello*"
        assert reply.messages[0].author == "Echo"


async def test_05_history_rebuilds_its_questions_when_the_chat_resumes() -> None:
    async with ChatClient(example("05_history.py")) as chat:
        await chat.send("What is a vector database?")
        await chat.send("Why is the sky blue?")
        await chat.resume()  # as after a restart: on_chat_resume reads the thread
        reply = await chat.send("How do I learn the piano?")
        assert reply.content.endswith("_That was question 3 in this chat._")


async def test_06_rich_asks_a_name_offers_buttons_files_and_elements() -> None:
    async with ChatClient(example("06_rich.py")) as chat:
        asked = await chat.start()
        assert asked.asking is not None
        assert asked.asking.content == "Hello! What is your name?"
        greeted = await chat.answer("Ada")
        assert greeted.content.startswith("Nice to meet you, **Ada**.")
        assert (await chat.click("Shout")).content == "HELLO, ADA!"
        assert (await chat.send("x", files=[("a.txt", "hi")])).content == (
            "Received a.txt (text/plain)."
        )
        await chat.send("upload")
        counted = await chat.answer(("notes.md", b"three short words"))
        assert counted.content == "notes.md has 3 words."
        shown = await chat.send("picture")
        kinds = sorted(e.kind for e in shown.elements)
        assert kinds == ["file", "image", "tasklist", "text", "text"]
        image = next(e for e in shown.elements if e.kind == "image")
        assert (await chat.read_file(image)).startswith(b"\x89PNG")
        asked = await chat.click("Done")  # the latest message's
        assert asked.asking is not None
        assert asked.asking.content == "Remove these buttons?"
        removed = await chat.answer("Yes")
        assert [(m.content, [a.label for a in m.actions]) for m in removed.updated] == [
            ("Received a.txt (text/plain).", ["Shout"]),  # its "Done" went
            ("Remove these buttons?", []),
        ]


async def test_07_profiles_starters_and_settings_shape_the_answer() -> None:
    async with ChatClient(example("07_start_helpers.py")) as chat:
        await chat.start(profile="Quick")
        assert chat.user_session["chat_settings"] == {"style": "plain", "speed": 60, "stream": True}
        saved = await chat.update_settings({"style": "friendly", "speed": 200, "stream": False})
        assert saved.content == (
            "Settings saved: style **friendly**, streaming off at 200 tokens per second."
        )
        reply = await chat.send("Why is the sky blue?")
        assert reply.content.startswith("Happy to help! ")
        assert reply.content.endswith("_Pick the Thorough profile for the whole answer._")
        assert reply.tokens == []  # streaming off
    async with ChatClient(example("07_start_helpers.py")) as chat:
        await chat.start(profile="Thorough", settings={"speed": 200})
        reply = await chat.send("Compare Django versus Flask")
        assert "|---|" in reply.content
        assert len(reply.tokens) > 10


async def test_08_the_composer_offers_commands_modes_a_counter_and_sources() -> None:
    async with ChatClient(example("08_composer.py")) as chat:
        await chat.start()
        for _ in range(2):
            await chat.element_action("Counter", "increment", {"by": 1})
        await chat.element_action("Counter", "increment", {"by": 1000})  # refused by the app
        counter = next(e for m in chat.messages for e in m.elements if e.name == "Counter")
        assert json.loads(counter.content or "") == {"count": 2}
        assert (
            await chat.send("How many times did I click?")
        ).content == "You clicked **2** times."
        found = await chat.send("vector databases", command="Search")
        assert found.content.startswith("I found 2 sources; they are in the side panel.")
        title, sources = chat.sidebar
        assert title == "Sources for “vector databases”"
        assert [e.name for e in sources] == ["notes.md", "faq.md"]
        short = await chat.send("Why is the sky blue?")
        assert chat.sidebar[1] == []  # closed by the next message
        assert short.content.endswith("_Pick the Long length for the whole answer._")
        long = await chat.send("Why is the sky blue?", modes={"length": "long"})
        assert len(long.content) > len(short.content)


@pytest.mark.parametrize(
    ("name", "greeting", "question", "answer"),
    [
        ("09_brand/app.py", "Welcome to **Harbour**. Ask me anything.", "hi", "You said: hi"),
        ("10_readme_math/app.py", 'Type "math" for formulas', "math", "Euler's identity is $e^"),
        ("11_templates/app.py", "Ask me anything: every answer", "hi", "You said: **hi**"),
        ("12_fastapi/chat.py", "Hello! Ask me anything;", "hi", "You said: hi"),
    ],
)
async def test_the_look_examples_greet_and_answer(
    name: str, greeting: str, question: str, answer: str
) -> None:
    async with ChatClient(example(name)) as chat:
        assert (await chat.start(user="ada")).content.startswith(greeting)
        assert (await chat.send(question)).content.startswith(answer)


async def test_09_brand_answers_under_the_brands_name() -> None:
    async with ChatClient(example("09_brand/app.py")) as chat:
        reply = await chat.send("hi")
        assert reply.messages[0].author == "Harbour"  # its lightchat.toml's name


async def test_13_the_copilot_knows_where_it_is_shown() -> None:
    async with ChatClient(example("13_copilot/app.py")) as chat:
        greeting = await chat.start(client_type="copilot")
        assert greeting.content == "Hi! I am the copilot of this page. Ask me about it."
        assert (await chat.send("hello")).content == "You said: hello"
    async with ChatClient(example("13_copilot/app.py")) as chat:
        assert (await chat.start()).content == "Hi! Open host.html to see me as a copilot."


async def test_14_scale_out_counts_questions_across_a_move() -> None:
    async with ChatClient(example("14_scale_out/app.py")) as chat:
        await chat.send("one")
        await chat.resume()  # what another worker does when it takes the chat over
        reply = await chat.send("two")
        assert re.match(r"Question 2, answered by worker \d+: two", reply.content)


async def test_15_jsx_elements_poll_and_rate() -> None:
    async with ChatClient(example("15_jsx_elements/app.py")) as chat:
        await chat.start()
        closed = await chat.element_action(
            "Poll", "close_poll", {"options": {"Pizza": 1, "Salad": 3, "Soup": 0}}
        )
        assert closed.content == "The poll is closed: **Salad** wins."
        asked = await chat.send("Lunch?")
        assert asked.asking is not None
        assert asked.asking.asks == "element"
        rated = await chat.answer({"submitted": True, "stars": 4, "why": "tasty"})
        assert rated.content == "Rated 4 of 5: tasty"


WEATHER_EXAMPLES = [
    ("16_langchain/app.py", ["ScriptedChatModel", "get_weather", "ScriptedChatModel"]),
    ("21_semantic_kernel/app.py", ["weather-get_weather"]),
    ("22_openai_agents/app.py", ["Agent workflow"]),
    ("23_pydantic_ai/app.py", ["weather"]),
    ("24_ag2/app.py", ["assistant"]),
]


@pytest.mark.parametrize(("name", "steps"), WEATHER_EXAMPLES)
async def test_the_agent_examples_call_their_weather_tool_as_steps(
    name: str, steps: list[str]
) -> None:
    async with ChatClient(example(name)) as chat:
        reply = await chat.send("What's the weather in Paris?")
        assert "Paris: sunny, 21 °C" in reply.content
        assert [s.name for s in reply.steps] == steps
        tool = next(s for root in reply.steps for s in root.walk() if "get_weather" in s.name)
        assert (tool.type, tool.status, tool.output) == ("tool", "done", "Paris: sunny, 21 °C")


async def test_17_langgraph_streams_the_final_nodes_words() -> None:
    async with ChatClient(example("17_langgraph/app.py")) as chat:
        reply = await chat.send("What's the weather in Oslo?")
        assert reply.content == (
            "Good evening, weather fans! The weather in Oslo: snowing, -3 °C. Back to you!"
        )
        (graph,) = reply.steps
        assert [s.name for s in graph.children] == ["agent", "tools", "agent", "final"]
        assert reply.messages[0].tokens  # streamed, from the final node only


@pytest.fixture
def llama_settings() -> Iterator[None]:
    saved = (LlamaSettings._llm, LlamaSettings._embed_model, LlamaSettings._callback_manager)
    yield  # the app sets LlamaIndex's settings for the process
    LlamaSettings._llm, LlamaSettings._embed_model, LlamaSettings._callback_manager = saved


@pytest.mark.usefixtures("llama_settings")
async def test_18_llama_index_answers_from_its_documents() -> None:
    async with ChatClient(example("18_llama_index/app.py")) as chat:
        reply = await chat.send("How do bees make honey?")
    assert reply.content.startswith("Honey bees make honey from the nectar of flowers.")
    query, llm = reply.steps
    assert [(s.name, s.type) for s in query.walk()] == [("query", "run"), ("retrieve", "retrieval")]
    assert (llm.name, llm.type, llm.output) == ("llm", "llm", reply.content)
    first = reply.step("retrieve").elements[0]
    assert (first.name, first.display) == ("Source 1", "side")
    assert "Honey bees make honey from the nectar" in (first.content or "")


@pytest.fixture
def openai_instrumented() -> Iterator[None]:
    yield  # the app instruments the openai client for the process
    uninstrument_openai()


@pytest.mark.usefixtures("openai_instrumented")
async def test_19_openai_with_its_client_answered_by_a_script(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "test")  # its client is made at import: a key
    api = ScriptedOpenAI(FakeModel([ModelReply(["Blue ", "light ", "scatters ", "most."])]))
    async with ChatClient(example("19_openai/app.py")) as chat:
        assert chat.module is not None
        monkeypatch.setattr(chat.module, "client", api.async_client())  # the app's, scripted
        reply = await chat.send("Why is the sky blue?")
        assert reply.content == "Blue light scatters most."
        (step,) = reply.steps
        assert (step.name, step.type, step.status) == ("gpt-4o-mini", "llm", "done")
        assert step.generation is not None
        assert step.generation["tokenCount"] == step.generation["inputTokenCount"] + 4
        messages = chat.user_session["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    assert api.requests[0]["stream_options"] == {"include_usage": True}


async def test_20_mistral_answers_through_its_scripted_api() -> None:
    async with ChatClient(example("20_mistral/app.py")) as chat:
        assert chat.module is not None
        try:
            reply = await chat.send("Why is the sky blue?")
        finally:
            chat.module.offline.close()  # the scripted server the example started
    (step,) = reply.steps
    assert (step.name, step.type, step.status) == ("mistral-small-latest", "llm", "done")
    assert reply.content.startswith("Here is how I would think about **sky blue**.")


async def test_25_mcp_answers_with_the_tools_of_the_server_it_ships(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Its lightchat.toml starts `python server.py`: this interpreter, which has the SDK.
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    async with ChatClient(example("25_mcp/app.py")) as chat:
        reply = await chat.send("What's the weather in Paris, in Fahrenheit?")
        assert chat.user_session["mcp_tools"] == {
            "get_weather": "weather",
            "to_fahrenheit": "weather",
        }
    assert reply.content == "Paris: sunny, 21 °C (69.8 °F)."
    assert [(s.name, s.type, s.status, s.output) for s in reply.steps] == [
        ("get_weather", "tool", "done", "Paris: sunny, 21 °C"),
        ("to_fahrenheit", "tool", "done", "69.8 °F"),
    ]


def tone(seconds: float, rate: int = 24000, hz: float = 440.0, amplitude: float = 0.25) -> bytes:
    """A sine as 16-bit PCM, mono, little-endian."""
    count = int(seconds * rate)
    return b"".join(
        int(amplitude * 32767 * math.sin(2 * math.pi * hz * i / rate)).to_bytes(
            2, "little", signed=True
        )
        for i in range(count)
    )


async def test_26_voice_echo_says_how_long_and_loud_then_plays_the_voice_back() -> None:
    async with ChatClient(example("26_voice_echo") / "app.py") as chat:
        await chat.start()
        session = chat.session
        recording = await session.voice.start()
        assert recording is not None
        voice = tone(1.0)
        step = len(voice) // 5
        for seq in range(5):
            session.voice.chunk(recording.id, seq, voice[seq * step : (seq + 1) * step])
        session.voice.stop(recording.id, 5)
        events = await wait_for_log(
            session.bus, session.id, lambda e: len([x for x in e if isinstance(x, AudioEvent)]) == 5
        )
        assert chat.messages[-1].content == "I heard 1.0 s of voice, at -15 dBFS. Here it is back."
        played = b"".join(base64.b64decode(e.data) for e in events if isinstance(e, AudioEvent))
        assert played == voice
        assert len({e.track for e in events if isinstance(e, AudioEvent)}) == 1


async def test_27_voice_realtime_says_it_needs_a_key_and_takes_no_recording() -> None:
    async with ChatClient(example("27_voice_realtime") / "app.py") as chat:
        assert "set `OPENAI_API_KEY`" in (await chat.start()).content
        assert await chat.session.voice.start() is None
        assert "set `OPENAI_API_KEY`" in chat.messages[-1].content
        assert "set `OPENAI_API_KEY`" in (await chat.send("hello")).content


def test_every_numbered_example_is_tested_here() -> None:
    source = Path(__file__).read_text(encoding="utf-8")
    names = sorted(p.name for p in EXAMPLES.glob("[0-9][0-9]_*"))
    assert len(names) >= 25
    missing = [name for name in names if f'"{name}' not in source]
    assert missing == []


@pytest.mark.parametrize(
    ("name", "client_type"),
    [("28_slack", "slack"), ("29_discord", "discord"), ("30_teams", "teams")],
)
async def test_the_platform_examples_answer_with_a_button(name: str, client_type: str) -> None:
    # In the browser as on their platform (tests/test_platform_*.py run them there).
    async with ChatClient(example(f"{name}/app.py")) as chat:
        ada = User(identifier=f"{client_type}_ada", display_name="Ada")
        await chat.start(user=ada, client_type=client_type)
        reply = await chat.send("hi")
        assert reply.content == f"Hello Ada! You said **hi** (message 1, on {client_type})."
        assert [a.label for a in reply.actions] == ["How many?"]
        assert (await chat.click("How many?")).content == "1 message(s) so far in this chat."
