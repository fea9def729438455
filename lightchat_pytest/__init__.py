"""lightchat's pytest plugin: the ``chat`` fixture, a chat with the app under test.

pytest loads it by itself wherever lightchat is installed (the ``pytest11`` entry point;
``-p no:lightchat`` turns it off). The fixture runs the app named by the ``lightchat_app``
ini option, or by the test's ``@pytest.mark.lightchat_app("path/app.py")`` marker (which
wins, and may give the client's ``timeout=`` and ``config=`` too), a path relative to
pytest's rootdir (where ``pytest.ini`` or ``pyproject.toml`` is)::

    # pyproject.toml
    [tool.pytest.ini_options]
    lightchat_app = "app.py"

    # test_app.py
    async def test_the_app_greets(chat):
        reply = await chat.start()
        assert reply.content == "Welcome!"

    def test_the_same_in_a_plain_test(chat):
        assert chat.start().content == "Welcome!"

In an ``async def`` test, ``chat`` is a ``lightchat.testing.ChatClient``, open for the
test's duration on the test's event loop; the plugin runs such a test itself when no
other plugin does (no pytest-asyncio or anyio needed), and leaves it to anyio's or
pytest-asyncio's when they run it. In a plain ``def`` test, ``chat`` is a
``SyncChatClient``: the same methods, called without ``await``. When a test fails, its
report shows the chat's transcript (and pytest's captured log, the tracebacks of the
callbacks' errors).

This module imports only pytest and the standard library: pytest imports it in every
run, before coverage measurement starts; lightchat itself is loaded by the fixture.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from lightchat.testing import ChatClient, SyncChatClient

INI = "lightchat_app"
MARKER = "lightchat_app"

_CLIENT = pytest.StashKey["ChatClient | SyncChatClient"]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        INI,
        "The app the `chat` fixture runs: its file (path/app.py, or path/app.py:name), "
        "relative to the rootdir.",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(path): the app the `chat` fixture runs in this test (relative to the "
        f"rootdir); instead of the `{INI}` ini option.",
    )


_OPTIONS = frozenset({"timeout", "config"})


def _target(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    """The app file the test names (marker, then ini option), from the rootdir, and the
    client's options the marker gives (``timeout=``, ``config=``)."""
    marker = request.node.get_closest_marker(MARKER)
    config = request.config
    options: dict[str, Any] = {}
    if marker is not None:
        if (
            len(marker.args) != 1
            or not isinstance(marker.args[0], str | Path)
            or set(marker.kwargs) - _OPTIONS
        ):
            raise pytest.UsageError(
                f"@pytest.mark.{MARKER} takes the app's path, and the client's timeout= "
                f'and config=: @pytest.mark.{MARKER}("app.py", timeout=5).'
            )
        named = str(marker.args[0])
        options = dict(marker.kwargs)
    else:
        named = str(config.getini(INI) or "")
    if not named:
        raise pytest.UsageError(
            f"The `chat` fixture needs the app to run: set `{INI} = app.py` in the pytest "
            f'configuration, or mark the test @pytest.mark.{MARKER}("app.py").'
        )
    path, colon, name = named.partition(":")
    return str(config.rootpath / path) + colon + name, options


def _uses_chat(item: pytest.Item) -> bool:
    return isinstance(item, pytest.Function) and "chat" in item.fixturenames


@pytest.fixture
def chat(request: pytest.FixtureRequest) -> Iterator[ChatClient | SyncChatClient]:
    """A chat with the app under test (see the module docstring): a ``ChatClient`` in an
    ``async def`` test, a ``SyncChatClient`` in a plain one."""
    # lightchat is imported here, not with the plugin: see the module docstring.
    from lightchat.testing import ChatClient, SyncChatClient

    target, options = _target(request)
    if inspect.iscoroutinefunction(request.function):
        # Opened and closed on the test's own loop, around the test (pytest_runtest_call).
        client: ChatClient | SyncChatClient = ChatClient(target, **options)
        request.node.stash[_CLIENT] = client
        yield client
        return
    sync = SyncChatClient(target, **options)
    request.node.stash[_CLIENT] = sync
    with sync:
        yield sync


def _within_chat(test: Callable[..., Any], client: ChatClient) -> Callable[..., Any]:
    """``test`` with the chat open around it, on whatever loop runs it."""

    @functools.wraps(test)
    async def run(*args: Any, **kwargs: Any) -> Any:
        async with client:
            return await test(*args, **kwargs)

    return run


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    client = item.stash.get(_CLIENT, None)
    if not (isinstance(item, pytest.Function) and inspect.iscoroutinefunction(item.obj)):
        return (yield)
    if client is None or not hasattr(client, "__aenter__"):
        return (yield)
    test = item.obj
    item.obj = _within_chat(test, client)  # type: ignore[arg-type]
    try:
        return (yield)
    finally:
        item.obj = test


@pytest.hookimpl
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    """Run an ``async def`` test of the ``chat`` fixture that no other plugin runs."""
    if not (_uses_chat(pyfuncitem) and inspect.iscoroutinefunction(pyfuncitem.obj)):
        return None
    names = pyfuncitem._fixtureinfo.argnames
    arguments = {name: pyfuncitem.funcargs[name] for name in names}
    with asyncio.Runner() as runner:
        runner.run(pyfuncitem.obj(**arguments))
    return True


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    client = item.stash.get(_CLIENT, None)
    if client is not None and report.failed:
        # The tracebacks of the callbacks' errors are in the log pytest shows beside it.
        transcript = client.transcript or "(the chat never started)\n"
        report.sections.append(("lightchat transcript", transcript))
    if client is not None and report.when == "teardown":
        del item.stash[_CLIENT]  # the chat is over: the session keeps its items, not chats
    return report
