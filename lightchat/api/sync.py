"""Sync and async code together: ``make_async`` runs blocking code in a thread,
``run_sync`` awaits a coroutine from sync code (a sync callback's worker thread), and
``sleep`` waits without holding up other chats.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from lightchat.chat.session import _current, in_loop_thread

P = ParamSpec("P")
R = TypeVar("R")


def make_async(func: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Turn a blocking function into a coroutine function that runs it in a thread.

    The thread sees the chat's context, so ``cl.user_session`` and ``run_sync`` work there.
    """

    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return await asyncio.to_thread(func, *args, **kwargs)

    return wrapper


def run_sync(co: Coroutine[Any, Any, R]) -> R:
    """Run a coroutine from sync code and return its result.

    In a sync callback (a worker thread) it runs on the chat's event loop and waits, e.g.
    ``cl.run_sync(cl.Message("hi").send())``. With no chat and no loop, it just runs it.
    """
    session = _current.get(None)
    if session is not None and not in_loop_thread(session):
        return asyncio.run_coroutine_threadsafe(co, session.loop).result()
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(co)
    co.close()
    raise RuntimeError("run_sync() cannot wait on the event loop's own thread; use await.")


async def sleep(duration: float) -> None:
    """Wait ``duration`` seconds without holding up other chats (Chainlit's ``cl.sleep``)."""
    await asyncio.sleep(duration)
