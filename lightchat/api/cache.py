"""``cl.cache``: a function's results kept for the life of the process, by arguments.

As Chainlit's: decorate what is slow to make and the same for every chat (a model, an
index, a client), and it is made once::

    @cl.cache
    def load_model(name: str):
        return SentenceTransformer(name)

The key is the function and its arguments (which must be hashable). Sync functions are
guarded by a lock, so two chats asking at once make the value once; an async function's
result is kept the same way (its coroutine runs once per key). An exception is not kept:
the next call tries again. With ``lightchat run --no-cache`` (``LIGHTCHAT_NO_CACHE=1``),
every call computes afresh.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import os
import threading
from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

F = TypeVar("F", bound=Callable[..., Any])

NO_CACHE_ENV = "LIGHTCHAT_NO_CACHE"
"""Set (to anything but empty or 0) to make ``@cache`` keep nothing."""

_values: dict[Hashable, Any] = {}
_lock = threading.Lock()
_async_locks: dict[Hashable, asyncio.Lock] = {}


def _key(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Hashable:
    return (func.__module__, func.__qualname__, args, tuple(sorted(kwargs.items())))


def _off() -> bool:
    return os.environ.get(NO_CACHE_ENV, "") not in ("", "0")


def cache(func: F) -> F:
    """Keep ``func``'s results by arguments for the life of the process (see the module
    docstring)."""
    if inspect.iscoroutinefunction(func):

        @functools.wraps(func)
        async def cached_async(*args: Any, **kwargs: Any) -> Any:
            if _off():
                return await func(*args, **kwargs)
            key = _key(func, args, kwargs)
            if key in _values:
                return _values[key]
            with _lock:
                lock = _async_locks.setdefault(key, asyncio.Lock())
            async with lock:
                if key not in _values:
                    _values[key] = await func(*args, **kwargs)
            return _values[key]

        return cast(F, cached_async)

    @functools.wraps(func)
    def cached(*args: Any, **kwargs: Any) -> Any:
        if _off():
            return func(*args, **kwargs)
        key = _key(func, args, kwargs)
        with _lock:
            if key not in _values:
                _values[key] = func(*args, **kwargs)
            return _values[key]

    return cast(F, cached)
