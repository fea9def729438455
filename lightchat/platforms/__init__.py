"""The same app answering on chat platforms: Slack, Discord and Microsoft Teams.

A platform is on when its variables are set (Chainlit's names): ``SLACK_BOT_TOKEN`` and
``SLACK_SIGNING_SECRET`` (``POST /slack/events``), ``DISCORD_BOT_TOKEN`` (a bot connected to
Discord's gateway), ``TEAMS_APP_ID`` and ``TEAMS_APP_PASSWORD`` (``POST /teams/events``).
Each needs its extra (``lightchat[slack]``, ``[discord]``, ``[teams]``); its module, and
its SDK, is imported only when it is on, so ``import lightchat`` loads none of them.

The platforms' endpoints sit in front of the web app's checks (form tokens, same-origin
writes, sign-in), which are for browsers: each platform checks its own requests (Slack's
signature, the Bot Framework's token) before anything runs.
"""

from __future__ import annotations

import importlib
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from lightchat.errors import ConfigError
from lightchat.http.web import route_path

logger = logging.getLogger("lightchat")

VARIABLES: dict[str, tuple[str, ...]] = {
    "slack": ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"),
    "discord": ("DISCORD_BOT_TOKEN",),
    "teams": ("TEAMS_APP_ID", "TEAMS_APP_PASSWORD"),
}
"""The variables that turn each platform on (all of them set)."""

_CLASSES = {
    "slack": ("lightchat.platforms.slack", "Slack", "slack_bolt"),
    "discord": ("lightchat.platforms.discord", "Discord", "discord"),
    "teams": ("lightchat.platforms.teams", "Teams", "botbuilder"),
}


class Platform(Protocol):
    """One platform's side of the app."""

    path: str | None
    """Its endpoint (None: it connects to the platform itself)."""

    async def handle(self, request: Request) -> Response: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


def enabled(environ: Mapping[str, str] | None = None) -> list[str]:
    """The platforms whose variables are all set."""
    env = os.environ if environ is None else environ
    return [name for name, keys in VARIABLES.items() if all(env.get(k) for k in keys)]


class Platforms:
    """The platforms this app answers on (none when no variables are set)."""

    def __init__(self, services: Any, environ: Mapping[str, str] | None = None) -> None:
        env = dict(os.environ if environ is None else environ)
        self.items: dict[str, Platform] = {}
        for name in enabled(env):
            module_name, class_name, package = _CLASSES[name]
            try:
                module = importlib.import_module(module_name)
            except ModuleNotFoundError as exc:
                if exc.name is None or not exc.name.startswith(package):
                    raise
                raise ConfigError(
                    f"{', '.join(VARIABLES[name])} are set, so the app answers on {name}, "
                    f"which needs its extra: pip install 'lightchat[{name}]'."
                ) from None
            self.items[name] = getattr(module, class_name)(services, env)
        self.endpoints: dict[str, Callable[[Request], Awaitable[Response]]] = {
            p.path: p.handle for p in self.items.values() if p.path
        }

    async def start(self) -> None:
        for name, platform in self.items.items():
            await platform.start()
            logger.info("Answering on %s", name)

    async def close(self) -> None:
        for platform in self.items.values():
            try:
                await platform.close()
            except Exception:
                logger.exception("A platform did not close cleanly")


MAX_BODY_BYTES = 1024 * 1024
"""The largest request a platform endpoint reads (events and activities are small)."""


class PlatformEndpoints:
    """ASGI middleware: the platforms' endpoints, answered before the browser checks.

    A request must say how long it is (``Content-Length``), at most ``MAX_BODY_BYTES``: the
    body is read before its signature can be checked."""

    def __init__(self, app: ASGIApp, platforms: Platforms) -> None:
        self.app = app
        self.platforms = platforms

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            handler = self.platforms.endpoints.get(route_path(scope))
            if handler is not None:
                length = dict(scope["headers"]).get(b"content-length", b"")
                if scope["method"] != "POST":
                    response = Response("Method Not Allowed", 405, {"Allow": "POST"})
                elif not length.isdigit():
                    response = Response("Length Required", 411)
                elif int(length) > MAX_BODY_BYTES:
                    response = Response("Content Too Large", 413)
                else:
                    response = await handler(Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
