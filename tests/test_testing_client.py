"""ChatClient, the in-process chat of lightchat.testing: each input, what it returns, the
transcript, and the app loaded from its file as the CLI loads it."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

import lightchat as cl
from lightchat import LightChat, Settings
from lightchat.errors import AppLoadError
from lightchat.testing import (
    ChatClient,
    ChatClientError,
    ChatTimeoutError,
    FakeModel,
    ModelReply,
    SyncChatClient,
)

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]


def rich_app() -> LightChat:
    """An app that uses most of what a chat offers: steps, streams, elements, buttons,
    questions, commands, modes, settings, profiles, errors."""
    app = LightChat(settings=Settings(name="Bot", upload_accept="text/plain,.md"))
    model = FakeModel([lambda prompt: f"You said {prompt}"])

    @app.set_chat_profiles
    async def profiles(user: Any = None, language: Any = None) -> list[cl.ChatProfile]:
        return [cl.ChatProfile(name="Quick"), cl.ChatProfile(name="Thorough", default=True)]

    @app.on_chat_start
    async def start() -> None:
        cl.user_session.set("count", 0)
        await cl.context.emitter.set_commands([{"id": "Search", "description": "Look it up"}])
        await cl.context.emitter.set_modes(
            [
                cl.Mode(
                    id="length",
                    name="Length",
                    options=[
                        cl.ModeOption(id="short", name="Short", default=True),
                        cl.ModeOption(id="long", name="Long"),
                    ],
                )
            ]
        )
        await cl.ChatSettings(
            [
                cl.Select(id="tone", label="Tone", values=["plain", "warm"], initial_index=0),
                cl.Slider(id="speed", label="Speed", initial=5, min=1, max=10, step=1),
                cl.Switch(id="stream", label="Stream", initial=True),
            ]
        ).send()
        user = cl.user_session.get("user")
        who = user.identifier if user else "stranger"
        profile = cl.user_session.get("chat_profile")
        env = cl.user_session.get("env") or {}
        await cl.Message(
            content=f"Hello {who} ({profile}, {cl.context.session.client_type}, "
            f"key {env.get('KEY', '-')})",
            actions=[cl.Action(name="shout", payload={"loud": True}, label="Shout")],
        ).send()

    @app.on_settings_update
    async def settings_changed(settings: dict[str, Any]) -> None:
        await cl.Message(content=f"Settings: {sorted(settings.items())}").send()

    @app.action_callback("shout")
    async def shout(action: cl.Action) -> None:
        await cl.Message(content=f"SHOUT {action.payload}").send()

    @app.on_message
    async def main(message: cl.Message) -> None:
        cl.user_session.set("count", cl.user_session.get("count") + 1)
        text = message.content
        if message.elements:
            texts = [await asyncio.to_thread(Path(str(e.path)).read_text) for e in message.elements]
            names = ", ".join(
                f"{e.name}={text}" for e, text in zip(message.elements, texts, strict=True)
            )
            await cl.Message(content=f"Got {names}").send()
        elif text == "fail":
            raise RuntimeError("the tool broke")
        elif text == "ask":
            answer = await cl.AskUserMessage(content="Your name?", timeout=30).send()
            await cl.Message(content=f"Hi {answer['output'] if answer else '?'}").send()
        elif text == "choose":
            picked = await cl.AskActionMessage(
                content="Pick one",
                actions=[
                    cl.Action(name="yes", payload={"v": 1}, label="Yes"),
                    cl.Action(name="no", payload={"v": 0}, label="No"),
                ],
                timeout=30,
            ).send()
            await cl.Message(content=f"Picked {picked['name'] if picked else None}").send()
        elif text == "upload":
            files = await cl.AskFileMessage(
                content="A text file", accept=["text/plain"], max_files=2, timeout=30
            ).send()
            read = [await asyncio.to_thread(Path(f.path).read_text) for f in files or []]
            await cl.Message(content=f"Read {read}").send()
        elif text == "element":
            element = cl.CustomElement(name="Rating", props={"max": 5})
            rated = await cl.AskElementMessage(
                content="Rate it", element=element, timeout=30
            ).send()
            await cl.Message(content=f"Rated {rated}").send()
        else:
            async with cl.Step(name="plan", type="run") as plan:
                plan.input = text
                async with cl.Step(name="search", type="tool") as search:
                    search.input = text
                    search.output = "2 results"
                    search.elements = [cl.Text(name="source", content="the source")]
                plan.output = "done planning"
            reply = cl.Message(content="")
            async for token in model.stream(text):
                await reply.stream_token(token)
            extra = f" [{message.command}/{message.modes.get('length')}]"
            await reply.stream_token(extra)
            await reply.send()

    return app


async def test_start_runs_on_chat_start_with_the_profile_user_and_keys_given() -> None:
    async with ChatClient(rich_app()) as chat:
        assert chat.transcript == ""
        reply = await chat.start(
            profile="Quick", user="ada", env={"KEY": "k1"}, client_type="copilot"
        )
        assert reply.contents == ["Hello ada (Quick, copilot, key k1)"]
        assert [a.label for a in reply.actions] == ["Shout"]
        assert chat.user_session["count"] == 0
        assert chat.user_session["chat_profile"] == "Quick"
        assert chat.session.user.identifier == "ada"
    async with ChatClient(rich_app()) as chat:
        reply = await chat.start()  # the default profile, nobody signed in
        assert reply.content == "Hello stranger (Thorough, webapp, key -)"
        with pytest.raises(ChatClientError, match="no chat profile 'Slow': 'Quick', 'Thorough'"):
            await chat.start(profile="Slow")


async def test_a_message_returns_its_answer_with_nested_steps_tokens_and_elements() -> None:
    async with ChatClient(rich_app()) as chat:
        reply = await chat.send("hello there")  # starts the chat first, as the page does
        assert chat.messages[0].content.startswith("Hello stranger")
        assert reply.contents == ["You said hello there [None/short]"]
        (message,) = reply.messages
        assert (message.author, message.type) == ("Bot", "assistant_message")
        assert reply.tokens == ["You", " said", " hello", " there", " [None/short]"]
        assert message.tokens == reply.tokens
        (plan,) = reply.steps
        assert (plan.name, plan.type, plan.status) == ("plan", "run", "done")
        assert (plan.input, plan.output) == ("hello there", "done planning")
        (search,) = plan.children
        assert (search.name, search.type, search.status, search.output) == (
            "search",
            "tool",
            "done",
            "2 results",
        )
        assert reply.step("search") == search
        with pytest.raises(LookupError, match="its steps: 'plan', 'search'"):
            reply.step("draft")
        assert [(e.kind, e.name, e.content) for e in reply.elements] == [
            ("text", "source", "the source")
        ]
        assert reply.errors == []
        assert chat.user_session["count"] == 1


async def test_commands_and_modes_are_checked_as_the_composer_checks_them() -> None:
    async with ChatClient(rich_app()) as chat:
        reply = await chat.send("find it", command="Search", modes={"length": "long"})
        assert reply.content == "You said find it [Search/long]"
        reply = await chat.send("/Search typed")  # the command typed, as without JavaScript
        assert reply.content == "You said typed [Search/short]"
        with pytest.raises(ChatClientError, match="no command 'Draw'"):
            await chat.send("x", command="Draw")
        with pytest.raises(ChatClientError, match="'huge' is not a choice of Length"):
            await chat.send("x", modes={"length": "huge"})
        with pytest.raises(ChatClientError, match="Type a message before sending"):
            await chat.send("  ")
        assert "You [/Search length=long]: find it" in chat.transcript


async def test_files_go_through_the_upload_checks(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("from a path")
    async with ChatClient(rich_app()) as chat:
        reply = await chat.send("", files=[notes, ("b.txt", "from bytes")])
        assert reply.content == "Got notes.txt=from a path, b.txt=from bytes"
        (upload,) = [m for m in chat.messages if m.type == "user_message"]
        assert [e.name for e in upload.elements] == ["notes.txt", "b.txt"]
        assert await chat.read_file(upload.elements[1]) == b"from bytes"
        with pytest.raises(ChatClientError, match="not a type this chat accepts"):
            await chat.send("x", files=[("photo.png", b"\x89PNG")])
    async with ChatClient(rich_app(), config={"uploads": False}) as chat:
        with pytest.raises(ChatClientError, match="uploads is off"):
            await chat.send("x", files=[notes])


async def test_an_error_shows_in_the_chat_and_reaches_the_test() -> None:
    async with ChatClient(rich_app()) as chat:
        reply = await chat.send("fail")
        (error,) = reply.errors
        assert error.hook == "on_message"
        assert isinstance(error.exception, RuntimeError)
        assert error.exception.__traceback__ is not None
        assert error.message == "RuntimeError: the tool broke"
        assert [(m.type, m.content) for m in reply.messages] == [
            ("error", "RuntimeError: the tool broke")
        ]
        assert "Error: RuntimeError: the tool broke" in chat.transcript
        again = await chat.send("still here?")  # the session lives on
        assert again.errors == []
        assert again.content.startswith("You said still here?")
        assert chat.errors == [error]


async def test_buttons_are_clicked_by_label_or_name() -> None:
    async with ChatClient(rich_app()) as chat:
        await chat.start()
        assert (await chat.click("Shout")).content == "SHOUT {'loud': True}"
        assert (await chat.click("shout")).content == "SHOUT {'loud': True}"
        with pytest.raises(ChatClientError, match=r"No button 'Whisper' is shown; .*'Shout'"):
            await chat.click("Whisper")


async def test_each_kind_of_question_is_answered() -> None:
    async with ChatClient(rich_app()) as chat:
        with pytest.raises(ChatClientError, match="not started"):
            await chat.answer("Ada")
        asked = await chat.send("ask")
        assert asked.asking is not None
        assert (asked.asking.content, asked.asking.asks) == ("Your name?", "text")
        assert chat.transcript.endswith("Bot: Your name?\n  (waits for an answer)\n")
        with pytest.raises(ChatClientError, match="waits for text"):
            await chat.answer(("a.txt", b"x"))
        answered = await chat.answer("Ada")
        assert answered.contents == ["Hi Ada"]
        assert [m.content for m in answered.updated] == ["Your name?"]  # its form went
        assert answered.asking is None

        await chat.send("choose")
        with pytest.raises(ChatClientError, match="No button 'Maybe'"):
            await chat.answer("Maybe")
        assert (await chat.answer("Yes")).content == "Picked yes"

        await chat.send("upload")
        with pytest.raises(ChatClientError, match="not a type this chat accepts"):
            await chat.answer(("a.md", b"x"))
        reply = await chat.answer([("a.txt", b"one"), ("b.txt", b"two")])
        assert reply.content == "Read ['one', 'two']"

        await chat.send("element")
        with pytest.raises(ChatClientError, match="waits for its element"):
            await chat.answer("5 stars")
        reply = await chat.answer({"submitted": True, "stars": 5})
        assert reply.content == "Rated {'submitted': True, 'stars': 5}"
        with pytest.raises(ChatClientError, match="No question waits"):
            await chat.answer("late")


def slow_app(model: FakeModel) -> LightChat:
    app = LightChat(settings=Settings())

    @app.on_message
    async def main(message: cl.Message) -> None:
        reply = cl.Message(content="")
        async for token in model.stream(message.content):
            await reply.stream_token(token)
        await reply.send()

    @app.on_stop
    async def stopped() -> None:
        await cl.Message(content="Stopped.").send()

    return app


async def test_stop_ends_the_run_in_progress_and_runs_on_stop() -> None:
    model = FakeModel([ModelReply("one two three four five six", delay=0.05)])
    async with ChatClient(slow_app(model)) as chat:
        await chat.start()
        sending = asyncio.create_task(chat.send("count"))
        await chat.wait_for("one two")
        stop = await chat.stop()
        reply = await sending
    assert stop.stopped
    assert stop.contents == ["Stopped."]
    assert reply.stopped
    assert reply.contents == ["one two", "Stopped."]  # what streamed stays, then on_stop's
    assert reply.tokens == ["one", " two"]
    nothing = FakeModel(["quick"])
    async with ChatClient(slow_app(nothing)) as chat:
        await chat.send("hi")
        assert not (await chat.stop()).stopped  # nothing ran
        with pytest.raises(
            ChatTimeoutError, match=r"(?s)Waited 0.01 s for 'never'.*Assistant: quick"
        ):
            await chat.wait_for("never", timeout=0.01)


async def test_settings_are_checked_as_the_dialog_checks_them() -> None:
    async with ChatClient(rich_app()) as chat:
        await chat.start()
        assert chat.user_session["chat_settings"] == {"tone": "plain", "speed": 5, "stream": True}
        reply = await chat.update_settings({"tone": "warm", "stream": False})
        assert reply.content == "Settings: [('speed', 5), ('stream', False), ('tone', 'warm')]"
        with pytest.raises(ChatClientError, match="“Speed” must be between 1 and 10; 11 is not"):
            await chat.update_settings({"speed": 11})
        with pytest.raises(ChatClientError, match="has no option “loud”"):
            await chat.update_settings({"tone": "loud"})
        with pytest.raises(ChatClientError, match="no setting 'color'; its settings: 'tone'"):
            await chat.update_settings({"color": "red"})
        assert chat.user_session["chat_settings"]["tone"] == "warm"
    async with ChatClient(rich_app()) as chat:
        reply = await chat.start(settings={"speed": 9})
        assert reply.contents[-1] == "Settings: [('speed', 9), ('stream', True), ('tone', 'plain')]"


def resumable_app(resumes: bool) -> LightChat:
    app = LightChat(settings=Settings())

    @app.on_chat_start
    async def start() -> None:
        cl.user_session.set("questions", [])

    if resumes:

        @app.on_chat_resume
        async def resume(thread: dict[str, Any]) -> None:
            asked = [s["output"] for s in thread["steps"] if s["type"] == "user_message"]
            cl.user_session.set("questions", asked)
            await cl.Message(content=f"Welcome back ({thread['metadata']['mood']})").send()

    @app.on_message
    async def main(message: cl.Message) -> None:
        questions = cl.user_session.get("questions")
        questions.append(message.content)
        cl.user_session.set("mood", "curious")
        await cl.Message(content=f"Question {len(questions)}").send()

    @app.on_chat_end
    async def end() -> None:
        ended.append(cl.user_session.get("questions"))

    ended: list[Any] = []
    app.ended = ended  # type: ignore[attr-defined]
    return app


async def test_a_past_chat_resumes_with_its_messages_and_state() -> None:
    app = resumable_app(resumes=True)
    async with ChatClient(app) as chat:
        await chat.send("first")
        await chat.send("second")
        thread = chat.thread
        assert [(s["type"], s["output"]) for s in thread["steps"]] == [
            ("user_message", "first"),
            ("assistant_message", "Question 1"),
            ("user_message", "second"),
            ("assistant_message", "Question 2"),
        ]
        assert thread["metadata"]["mood"] == "curious"
        reply = await chat.resume()  # this chat, as after a restart
        assert app.ended == [["first", "second"]]  # type: ignore[attr-defined]
        assert reply.contents == ["Welcome back (curious)"]
        assert (await chat.send("third")).content == "Question 3"
    async with ChatClient(app) as other:
        await other.resume(thread)  # in another client, from the thread
        assert [m.content for m in other.messages][:2] == ["first", "Question 1"]
        assert (await other.send("again")).content == "Question 3"
    async with ChatClient(resumable_app(resumes=False)) as chat:
        await chat.resume(thread)
        with pytest.raises(ChatClientError, match="read-only"):
            await chat.send("more")


async def test_the_transcript_reads_the_same_on_every_run() -> None:
    texts = []
    for _ in range(2):
        async with ChatClient(rich_app()) as chat:
            await chat.start(user="ada")
            await chat.send("line one\nline two")
            await chat.send("fail")
            await chat.send("choose")
            texts.append(chat.transcript)
    assert texts[0] == texts[1]
    assert texts[0] == textwrap.dedent(
        """\
        Bot: Hello ada (Thorough, webapp, key -)
          [button] Shout
        You [length=short]: line one
          line two
        > plan (run, done)
          input:
            line one
            line two
          output:
            done planning
          > search (tool, done)
            input:
              line one
              line two
            output:
              2 results
            [text] source
              the source
        Bot: You said line one
          line two [None/short]
        You [length=short]: fail
        Error: RuntimeError: the tool broke
        You [length=short]: choose
        Bot: Pick one
          [button] Yes
          [button] No
          (waits for a click)
        """
    )


async def test_a_hanging_chat_times_out_with_its_transcript() -> None:
    app = LightChat(settings=Settings())
    release = asyncio.Event()

    @app.on_message
    async def main(message: cl.Message) -> None:
        await cl.Message(content="Thinking...").send()
        await release.wait()

    async with ChatClient(app, timeout=0.05) as chat:
        with pytest.raises(
            ChatTimeoutError, match=r"(?s)still running after 0.05 s.*Assistant: Thinking"
        ):
            await chat.send("hi")
        release.set()


async def test_the_app_starts_and_shuts_down_around_the_client() -> None:
    app = LightChat(settings=Settings())
    events: list[str] = []

    @app.on_app_startup
    async def up() -> None:
        events.append("startup")

    @app.on_chat_start
    async def start() -> None:
        events.append("chat start")

    @app.on_chat_end
    async def end() -> None:
        events.append("chat end")

    @app.on_app_shutdown
    async def down() -> None:
        events.append("shutdown")

    client = ChatClient(app)
    with pytest.raises(ChatClientError, match="not open"):
        await client.start()
    async with client as chat:
        await chat.start()
    assert events == ["startup", "chat start", "chat end", "shutdown"]
    with pytest.raises(ChatClientError, match="closed"):
        await client.open()


APP_FILE = """\
import os
import lightchat as cl
from helper_words import WORD

GREETING = os.environ["GREETING"]

@cl.on_chat_start
async def start():
    await cl.Message(content=f"{GREETING} {WORD}").send()

@cl.on_message
async def main(message: cl.Message):
    await cl.Message(content=message.content.upper()).send()
"""


async def test_an_app_file_loads_as_the_cli_loads_it_and_leaves_nothing_behind(
    tmp_path: Path,
) -> None:
    (tmp_path / "app.py").write_text(APP_FILE)
    (tmp_path / "helper_words.py").write_text('WORD = "world"\n')
    (tmp_path / ".env").write_text("GREETING=Hello\n")
    default = dict(vars(cl.default_app))
    path = list(sys.path)
    assert "GREETING" not in os.environ
    async with ChatClient(tmp_path / "app.py") as chat, ChatClient(str(tmp_path / "app.py")) as b:
        assert (await chat.start()).content == "Hello world"  # the .env beside the app
        assert (await b.send("shout")).content == "SHOUT"
        assert chat.app is not b.app
        assert chat.module is not None
        assert chat.module.GREETING == "Hello"
        assert vars(cl.default_app) == default  # the callbacks went to the clients' apps
    sys.modules.pop("helper_words", None)
    assert "GREETING" not in os.environ
    assert sys.path == path
    assert vars(cl.default_app) == default
    with pytest.raises(AppLoadError, match="No file"):
        await ChatClient(tmp_path / "missing.py").open()
    (tmp_path / "broken.py").write_text("import lightchat\nraise ImportError('no such model')\n")
    with pytest.raises(AppLoadError, match="no such model"):
        await ChatClient(tmp_path / "broken.py").open()
    assert "GREETING" not in os.environ  # read from the .env, then put back
    assert sys.path == path


async def test_an_app_that_fails_to_start_leaves_nothing_open() -> None:
    app = LightChat(settings=Settings())

    @app.on_app_startup
    async def up() -> None:
        raise ConnectionError("no database")

    @app.on_app_shutdown
    async def down() -> None:
        raise AssertionError("never started, so never shut down")

    client = ChatClient(app)
    with pytest.raises(ConnectionError, match="no database"):
        await client.open()
    with pytest.raises(ChatClientError, match="closed"):
        await client.start()


async def test_a_module_is_taken_as_it_is(tmp_path: Path) -> None:
    (tmp_path / "explicit_echo.py").write_text(
        "from lightchat import LightChat, Message\n"
        "app = LightChat()\n"
        "@app.on_message\n"
        "async def echo(message):\n"
        "    await Message(content=message.content).send()\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        import explicit_echo  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("explicit_echo", None)
    async with ChatClient(explicit_echo) as chat:
        assert chat.app is explicit_echo.app
        assert (await chat.send("same")).content == "same"


async def test_a_client_test_takes_milliseconds() -> None:
    async with ChatClient(rich_app()) as chat:
        began = time.perf_counter()
        await chat.start()
        for _ in range(5):
            await chat.send("hello")
        spent = time.perf_counter() - began
    assert spent < 1.0, f"six inputs took {spent:.3f} s"


def test_the_sync_client_has_the_same_inputs() -> None:
    with SyncChatClient(rich_app()) as chat:
        assert chat.start(user="bo").content == "Hello bo (Thorough, webapp, key -)"
        assert chat.send("hi").content == "You said hi [None/short]"
        assert chat.click("Shout").content == "SHOUT {'loud': True}"
        chat.send("ask")
        assert chat.answer("Bo").content == "Hi Bo"
        assert chat.update_settings({"speed": 2}).content.startswith("Settings:")
        assert chat.user_session["count"] == 2
        assert chat.run(chat.client.send("again")).content == "You said again [None/short]"
        assert "Bo" in chat.transcript
        assert chat.steps[0].name == "plan"
        assert chat.errors == []
    with pytest.raises(ChatClientError, match="not open"):
        chat.send("after")
