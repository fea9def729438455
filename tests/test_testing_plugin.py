"""The pytest plugin that comes with lightchat (lightchat_pytest): the ``chat`` fixture for
the app named by the ``lightchat_app`` ini option or marker, in async and plain tests, and
the transcript in a failing test's report. Each test runs an inner pytest (pytester) on a
small app, as an app's author would, with lightchat's plugin and pytest's own only (the
entry point that loads it by itself is checked on its own)."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
import textwrap

import pytest

# Imported here, once: pytester's inner runs forget the modules they import themselves.
import lightchat.testing.client  # noqa: F401

pytest_plugins = ["pytester"]

pytestmark = pytest.mark.timeout(60)

APP = """\
import lightchat as cl

@cl.on_chat_start
async def start():
    await cl.Message(content="Welcome!").send()

@cl.on_message
async def main(message: cl.Message):
    if message.content == "boom":
        raise ValueError("the tool exploded")
    await cl.Message(content=f"Echo: {message.content}").send()

@cl.on_chat_end
async def end():
    with open("ended.txt", "a") as log:
        log.write("ended\\n")
"""

OTHER_APP = """\
import lightchat as cl

@cl.on_message
async def main(message: cl.Message):
    await cl.Message(content="The other app.").send()
"""


@pytest.fixture(autouse=True)
def only_lightchats_plugin(monkeypatch: pytest.MonkeyPatch, pytester: pytest.Pytester) -> None:
    """Inner runs load lightchat's plugin (``-p lightchat_pytest``) and no other installed
    one: their own imports (Hypothesis, coverage...) would cost each run seconds."""
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")
    pytester.plugins = []
    run = pytester.runpytest

    def with_lightchat(*args: str | os.PathLike[str]) -> pytest.RunResult:
        return run("-p", "lightchat_pytest", *args)

    monkeypatch.setattr(pytester, "runpytest", with_lightchat)


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    """A project with an app and ``lightchat_app = app.py`` in its pytest.ini."""
    pytester.makefile(".py", app=APP, other_app=OTHER_APP)
    pytester.makeini("[pytest]\nlightchat_app = app.py\n")
    return pytester


def test_pytest_loads_the_plugin_by_itself() -> None:
    (entry,) = [
        e for e in importlib.metadata.entry_points(group="pytest11") if e.name == "lightchat"
    ]
    assert entry.value == "lightchat_pytest"
    assert entry.dist is not None
    assert entry.dist.name == "lightchat"


def test_the_fixture_runs_the_configured_app_in_async_and_plain_tests(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_app="""
        from lightchat.testing import ChatClient, SyncChatClient

        async def test_async(chat):
            assert isinstance(chat, ChatClient)
            assert (await chat.start()).content == "Welcome!"
            assert (await chat.send("hi")).content == "Echo: hi"

        def test_plain(chat):
            assert isinstance(chat, SyncChatClient)
            assert chat.send("hi").content == "Echo: hi"
            assert chat.transcript.startswith("Assistant: Welcome!")
        """
    )
    result = project.runpytest()  # no plugin of async tests but lightchat's
    result.assert_outcomes(passed=2)
    assert (project.path / "ended.txt").read_text() == "ended\nended\n"  # both chats closed


def test_the_marker_names_the_app_and_wins_over_the_ini_option(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_marked="""
        import pytest

        @pytest.mark.lightchat_app("other_app.py")
        async def test_other(chat):
            assert (await chat.send("hi")).content == "The other app."

        @pytest.mark.lightchat_app("app.py", timeout=3, config={"name": "Bot"})
        def test_options(chat):
            assert chat.client.timeout == 3
            assert chat.start().messages[0].author == "Bot"

        @pytest.mark.lightchat_app("app.py", retries=3)
        def test_unknown_option(chat):
            pass

        async def test_configured(chat):
            assert (await chat.send("hi")).content == "Echo: hi"
        """
    )
    result = project.runpytest()
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*takes the app's path, and the client's timeout= and config=*"])


def test_async_tests_that_anyio_runs_get_an_open_chat_too(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_anyio="""
        import pytest

        @pytest.fixture
        def anyio_backend():
            return "asyncio"

        @pytest.mark.anyio
        async def test_under_anyio(chat):
            assert (await chat.send("hi")).content == "Echo: hi"
        """
    )
    project.runpytest("-p", "anyio").assert_outcomes(passed=1)
    assert (project.path / "ended.txt").read_text() == "ended\n"


def test_a_failing_test_shows_the_transcript_and_the_callbacks_tracebacks(
    project: pytest.Pytester,
) -> None:
    project.makepyfile(
        test_failing="""
        async def test_async_fails(chat):
            await chat.send("hi")
            reply = await chat.send("boom")
            assert reply.errors == []

        def test_plain_fails(chat):
            chat.send("plain question")
            assert chat.send("again").content == "something else"
        """
    )
    result = project.runpytest()
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ test_async_fails _*",
            "*- Captured log call -*",
            "ERROR * Error in on_message of chat *",
            "Traceback (most recent call last):",
            '*raise ValueError("the tool exploded")',
            "ValueError: the tool exploded",
            "*- lightchat transcript -*",
            "Assistant: Welcome!",
            "You: hi",
            "Assistant: Echo: hi",
            "You: boom",
            "Error: ValueError: the tool exploded",
            "*_ test_plain_fails _*",
            "*- lightchat transcript -*",
            "You: plain question",
            "Assistant: Echo: plain question",
            "You: again",
            "Assistant: Echo: again",
        ]
    )
    assert (project.path / "ended.txt").read_text() == "ended\nended\n"


def test_without_an_app_the_fixture_says_how_to_name_one(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_unnamed="""
        def test_needs_an_app(chat):
            pass
        """
    )
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        ["*needs the app to run: set `lightchat_app = app.py`*@pytest.mark.lightchat_app*"]
    )


def test_an_app_that_cannot_load_fails_with_the_clis_message(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nlightchat_app = missing.py\n")
    pytester.makepyfile(test_missing="def test_it(chat):\n    pass\n")
    result = pytester.runpytest()
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*AppLoadError: No file *missing.py*"])


def test_the_plugin_loads_nothing_of_lightchat_until_a_test_asks() -> None:
    """pytest imports the plugin before coverage starts: the package's own import must
    come later, with the fixture, or its module-level lines would go unmeasured."""
    code = textwrap.dedent(
        """
        import sys
        import lightchat_pytest
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("lightchat", "starlette"))
        print(loaded)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
