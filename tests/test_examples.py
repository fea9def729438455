"""The examples: each one loads the way `lightchat serve` loads it, so none can rot."""

from __future__ import annotations

import asyncio
import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
from llama_index.core import Settings as LlamaSettings

import lightchat
from lightchat import LightChat
from lightchat.api.message import Message
from lightchat.chat.session import ChatSession
from lightchat.cli import load_app
from lightchat.config.settings import Settings
from lightchat.domain.events import MessageData, StepData
from lightchat.files import LocalFileStorage
from lightchat.testing import tokenize
from tests.helpers import WAIT_S, contents, events_of, new_session

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
APPS = sorted(p for p in EXAMPLES.glob("[0-9]*.py"))

pytestmark = pytest.mark.timeout(20)


def test_there_are_examples() -> None:
    assert len(APPS) >= 4
    assert APPS[0].name == "01_quickstart.py"


@pytest.mark.usefixtures("isolated_import")
@pytest.mark.parametrize("path", APPS, ids=lambda p: p.name)
def test_each_example_loads_as_the_cli_loads_it(path: Path) -> None:
    app = load_app(str(path))
    assert isinstance(app, LightChat)
    assert "on_message" in app.callbacks
    module = sys.modules[path.stem]
    assert module.__doc__, f"{path.name} needs a docstring saying what it shows"


@pytest.mark.usefixtures("isolated_import")
@pytest.mark.anyio
async def test_the_explicit_app_example_answers() -> None:
    app = load_app(str(EXAMPLES / "04_explicit_app.py"))
    assert app is not lightchat.default_app
    session = new_session(app, app.settings)
    async with asyncio.timeout(WAIT_S):
        await session.send_user_message("hello")
    assert contents(await events_of(session)) == ["You said: *hello*"]


@pytest.mark.usefixtures("isolated_import")
@pytest.mark.anyio
async def test_the_sync_example_greets_from_a_worker_thread() -> None:
    app = load_app(str(EXAMPLES / "03_sync.py"))
    session = new_session(app)
    async with asyncio.timeout(WAIT_S):
        await session.start()
    assert contents(await events_of(session)) == ["Send me a word and I'll reverse it."]


@pytest.fixture
def demo_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    yield importlib.import_module("demo_model")
    sys.modules.pop("demo_model", None)


def test_demo_model_answers_vary_with_the_question(demo_model: ModuleType) -> None:
    questions = [
        "What is a vector database?",
        "How do I learn the piano?",
        "Why is the sky blue?",
        "Tips for writing tests",
    ]
    answers = [demo_model.answer(q) for q in questions]
    assert len(set(answers)) == len(answers)
    assert demo_model.answer(questions[0]) == answers[0]  # the same question, the same answer
    assert "vector" in answers[0].lower()
    assert "piano" in answers[1].lower()


def test_demo_model_writes_code_when_asked(demo_model: ModuleType) -> None:
    coded = demo_model.answer("Write a python function that counts words")
    assert "```python\n" in coded
    assert coded.count("```") == 2
    plain = demo_model.answer("Why is the sky blue?")
    assert "```" not in plain
    table = demo_model.answer("Compare Django versus Flask")
    assert "|---|" in table
    assert "django" in table.lower()


def test_demo_model_uses_context_and_streams_the_answer(demo_model: ModuleType) -> None:
    answer = demo_model.answer("search engines", "3 documents about search engines")
    assert "3 documents about search engines" in answer
    tokens = demo_model.stream("search engines", "3 documents about search engines")
    assert len(tokens) > 10
    assert "".join(tokens) == answer
    assert tokens == tokenize(answer)


@pytest.mark.usefixtures("isolated_import")
@pytest.mark.anyio
async def test_the_rich_example_asks_a_name_then_answers_with_buttons(tmp_path: Path) -> None:
    app = load_app(str(EXAMPLES / "06_rich.py"))
    session = ChatSession(
        app,
        new_session(app).bus,
        Settings(),
        owner="tester",
        message_factory=Message.from_data,
        files=LocalFileStorage(tmp_path),
    )
    async with asyncio.timeout(WAIT_S):
        session.start()
        await session.settled()  # the chat waits for the user's name
        assert session.asking
        await session.send_user_message("Ada")  # answered: waits until the run settles
        assert "Nice to meet you, **Ada**" in contents(await events_of(session))[-1]
        await session.send_user_message("picture")
    shown = session.transcript.items.values()
    kinds = sorted(e.kind for m in shown if hasattr(m, "elements") for e in m.elements)
    assert kinds == ["file", "image", "tasklist", "text", "text"]
    assert all(a.label in ("Shout", "Done") for m in shown for a in getattr(m, "actions", []))


@pytest.mark.usefixtures("isolated_import")
@pytest.mark.anyio
async def test_the_start_helpers_example_offers_profiles_starters_and_settings() -> None:
    app = load_app(str(EXAMPLES / "07_start_helpers.py"))
    profiles = await app.callbacks["set_chat_profiles"]()
    assert [(p.name, p.default) for p in profiles] == [("Quick", True), ("Thorough", False)]
    assert [s.label for s in await app.callbacks["set_starters"]()] == [
        "Why is the sky blue?",
        "Vector databases",
    ]
    session = new_session(app)
    session.data["chat_profile"] = "Quick"
    async with asyncio.timeout(WAIT_S):
        await session.start()
        assert session.data["chat_settings"] == {"style": "plain", "speed": 60, "stream": True}
        await session.update_settings({"speed": 200, "stream": False})
        await session.send_user_message("Why is the sky blue?")
    answers = contents(await events_of(session))
    assert answers[0] == "Settings saved: style **plain**, streaming off at 200 tokens per second."
    assert answers[1].endswith("_Pick the Thorough profile for the whole answer._")


@pytest.mark.usefixtures("isolated_import")
@pytest.mark.anyio
async def test_the_composer_example_offers_commands_modes_a_counter_and_sources(
    tmp_path: Path,
) -> None:
    app = load_app(str(EXAMPLES / "08_composer.py"))
    assert (Path(app.settings.app_dir) / "elements" / "Counter.html").is_file()
    session = ChatSession(
        app,
        new_session(app).bus,
        Settings(),
        owner="tester",
        message_factory=Message.from_data,
        files=LocalFileStorage(tmp_path),
    )
    transcript = session.transcript
    async with asyncio.timeout(WAIT_S):
        await session.start()
        assert [(c.id, c.button) for c in transcript.commands] == [
            ("Search", True),
            ("Summarize", False),
        ]
        assert [(m.id, [o.id for o in m.options]) for m in transcript.modes] == [
            ("length", ["short", "long"])
        ]
        welcome = next(m for m in transcript.items.values() if isinstance(m, MessageData))
        (counter,) = welcome.elements
        assert (counter.kind, counter.name) == ("custom", "Counter")
        for _ in range(2):
            await session.call_action(counter.id, "increment", {"by": 1})
        for forged in ({"by": 1000}, {"by": "9"}, {"by": True}):  # the browser's, untrusted
            await session.call_action(counter.id, "increment", forged)
        redrawn = session.element(counter.id)
        assert redrawn is not None
        assert json.loads(redrawn.content or "") == {"count": 2}
        await session.send_user_message("How many times did I click?")
        assert contents(await events_of(session))[-1] == "You clicked **2** times."

        await session.send_user_message("vector databases", command="Search", modes={})
        assert transcript.sidebar is not None
        assert transcript.sidebar.title == "Sources for “vector databases”"
        assert [e.name for e in transcript.sidebar.elements] == ["notes.md", "faq.md"]
        assert (
            "I found 2 sources; they are in the side panel."
            in contents(await events_of(session))[-1]
        )

        await session.send_user_message("Why is the sky blue?", modes={"length": "short"})
        assert transcript.sidebar.elements == []  # closed by the next message
        answer = contents(await events_of(session))[-1]
        assert answer.endswith("_Pick the Long length for the whole answer._")
        await session.send_user_message("Why is the sky blue?", modes={"length": "long"})
        assert len(contents(await events_of(session))[-1]) > len(answer)


@pytest.mark.usefixtures("isolated_import")
@pytest.mark.anyio
async def test_the_llama_index_example_answers_from_its_documents_with_its_steps() -> None:
    saved = (LlamaSettings._llm, LlamaSettings._embed_model, LlamaSettings._callback_manager)
    try:
        app = load_app(str(EXAMPLES / "18_llama_index" / "app.py"))
        session = new_session(app, app.settings)
        async with asyncio.timeout(WAIT_S * 2):
            await session.start()
            await session.send_user_message("How do bees make honey?")
    finally:  # the app set LlamaIndex's settings for the process
        LlamaSettings._llm, LlamaSettings._embed_model, LlamaSettings._callback_manager = saved
    answer = contents(await events_of(session))[-1]
    assert answer.startswith("Honey bees make honey from the nectar of flowers.")
    steps = [i for i in session.transcript.items.values() if isinstance(i, StepData)]
    query, retrieve, llm = steps
    assert [(s.name, s.type, s.status) for s in steps] == [
        ("query", "run", "done"),
        ("retrieve", "retrieval", "done"),
        ("llm", "llm", "done"),
    ]
    assert retrieve.parent_id == query.id
    assert retrieve.output.startswith("Retrieved the following sources: Source 1 (score 0.")
    first = retrieve.elements[0]
    assert (first.name, first.display) == ("Source 1", "side")
    assert "Honey bees make honey from the nectar" in (first.content or "")
    assert llm.output == answer
    assert llm.generation is not None
    assert llm.generation["model"] == "reading-model"
