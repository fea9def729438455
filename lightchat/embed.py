"""A chat inside a host Starlette or FastAPI app: mounted under a path, sharing its users,
shown in its pages.

Mounting. A ``LightChat`` is an ASGI app, so ``host.mount("/chat", chat)`` serves it under
``/chat``: every link, form, redirect, cookie path, stream and static file follows the prefix
(``scope["root_path"]``). Hosts do not run a mounted app's lifespan, so a chat mounted that
way starts its history and its reaper with its first request. ``mount`` does better: it
mounts the chat and starts it and stops it with the host (streams then end on shutdown)::

    from fastapi import FastAPI
    import lightchat

    host = FastAPI()
    chat = lightchat.LightChat(host_auth=True)   # the host's signed-in users are the chat's

    @chat.on_message
    async def answer(message):
        await lightchat.Message(content=message.content).send()

    lightchat.embed.mount(host, "/chat", chat)

``lightchat.utils.mount_chainlit(app=host, target="app.py", path="/chat")`` does the same for
an app file, under the name Chainlit users know.

Host users: see ``lightchat.auth.host``.

Host templates. ``templates(env)`` lets the host's Jinja environment import the macros of
``lightchat/embed.html``: ``head(prefix)`` (the chat's CSS and scripts) and ``chat(prefix)``
(a region that loads the chat's message list and composer, see ``lightchat.http.endpoints.embed``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

from starlette.routing import Mount

from lightchat.__about__ import __version__
from lightchat.app import LightChat
from lightchat.auth.host import HostAuth
from lightchat.errors import ConfigError
from lightchat.ui.render import add_host_templates

__all__ = ["mount", "mount_at_root", "templates"]


class _Host(Protocol):
    """What ``mount`` needs of a host app: a Starlette or FastAPI app."""

    @property
    def router(self) -> Any: ...


def mount(
    host: _Host,
    path: str,
    app: LightChat,
    *,
    host_auth: HostAuth | None = None,
    name: str | None = None,
) -> None:
    """Serve ``app`` under ``path`` in ``host``, started and stopped with the host's lifespan.

    ``host_auth`` (when given) sets ``app.host_auth`` (see ``lightchat.auth.host``). Call it before
    the host starts serving. Raises ``ConfigError`` for a path that is not ``/name``.
    """
    if not path.startswith("/") or path.endswith("/") or "//" in path:
        raise ConfigError(
            f"Cannot mount a chat at {path!r}: give a path such as '/chat' (a leading slash, "
            "no trailing one)."
        )
    if host_auth is not None:
        if app.built:
            raise ConfigError("host_auth must be set before the chat starts serving.")
        app.host_auth = host_auth
    router = host.router
    router.routes.append(Mount(path, app=app, name=name))
    router.lifespan_context = _with_chat(router.lifespan_context, app)


def mount_at_root(host: _Host, app: LightChat) -> None:
    """Serve ``app`` at ``host``'s root, after the host's own routes (a path they do not
    answer goes to the chat), started and stopped with the host's lifespan: how
    ``lightchat serve`` serves an app file's routes of its own (``lightchat.server``)."""
    router = host.router
    router.routes.append(Mount("", app=app))
    router.lifespan_context = _with_chat(router.lifespan_context, app)


def _with_chat(
    lifespan: Callable[[Any], contextlib.AbstractAsyncContextManager[Any]], app: LightChat
) -> Callable[[Any], contextlib.AbstractAsyncContextManager[Any]]:
    """The host's lifespan, with the chat started after it starts and stopped before it ends."""

    @contextlib.asynccontextmanager
    async def both(host: Any) -> AsyncIterator[Any]:
        async with lifespan(host) as state:
            await app.start()
            try:
                yield state
            finally:
                await app.stop()

    return both


def templates(env: Any) -> None:
    """Let the host's Jinja ``Environment`` import ``lightchat/embed.html``'s macros.

    ``{% from "lightchat/embed.html" import head, chat %}``; the host's own templates keep
    their names (the macros are looked for after them).
    """
    add_host_templates(env)
    env.globals.setdefault("lightchat_version", __version__)
