"""A stand-in for a chat platform in tests: an HTTP server on a loopback port that answers
the platform's API calls as the platform would, and records them, so a test checks what
the app posted. The platform's real SDK runs in the app, pointed here."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import anyio
from aiohttp import web

import lightchat as cl
from lightchat import LightChat, Settings

WAIT_S = 10.0


@dataclass
class Call:
    """One request the app made: its method (the path's last part), values and body."""

    method: str
    path: str
    values: dict[str, Any]
    headers: Mapping[str, str]
    body: bytes = b""
    request: web.Request | None = None
    """The request itself (to answer with a websocket)."""
    verb: str = "POST"


Answer = Callable[[Call], Awaitable[web.StreamResponse] | web.StreamResponse]


@dataclass
class FakePlatform:
    """The server: ``answers`` by path prefix (longest first); every request recorded."""

    answers: dict[str, Answer]
    calls: list[Call] = field(default_factory=list)
    url: str = ""
    _changed: asyncio.Condition | None = None
    _runner: web.AppRunner | None = None

    async def __aenter__(self) -> Self:
        self._changed = asyncio.Condition()
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = b"" if request.headers.get("Upgrade") else await request.read()
        values: dict[str, Any] = dict(request.query)
        kind = request.content_type
        if kind == "application/json" and body:
            loaded = json.loads(body)
            if isinstance(loaded, dict):
                values.update(loaded)
        elif kind == "application/x-www-form-urlencoded":
            values.update((await request.post()).items())
        path = request.path
        call = Call(
            path.rsplit("/", 1)[-1],
            path,
            values,
            dict(request.headers),
            body,
            request,
            request.method,
        )
        self.calls.append(call)
        assert self._changed is not None
        async with self._changed:
            self._changed.notify_all()
        for prefix in sorted(self.answers, key=len, reverse=True):
            if path.startswith(prefix):
                answer = self.answers[prefix](call)
                if asyncio.iscoroutine(answer):
                    return await answer  # type: ignore[no-any-return]
                return answer  # type: ignore[return-value]
        return web.json_response({"ok": False, "error": "unknown_method"}, status=404)

    def named(self, method: str) -> list[Call]:
        """The calls of one method, in order."""
        return [c for c in self.calls if c.method == method]

    async def wait_for(self, check: Callable[[list[Call]], Any], timeout: float = WAIT_S) -> Any:
        """Wait until ``check(calls)`` is true (checked after each call); its value."""
        assert self._changed is not None
        async with asyncio.timeout(timeout), self._changed:
            while not (found := check(self.calls)):
                await self._changed.wait()
        return found


def counting_app(
    tmp_path: Path, describe: Callable[[cl.User], list[str]]
) -> tuple[LightChat, list[str]]:
    """The app the platforms' tests serve: each answer counts the chat's messages, says the
    client and what ``describe`` tells of the user and the platform's event, lists the files
    it got (sending one back when it got some), and has a button "More". Returns the app and
    the messages it saw."""
    app = LightChat(settings=Settings(app_dir=str(tmp_path)))
    seen: list[str] = []

    @app.on_chat_start
    async def start() -> None:
        cl.user_session.set("count", 0)

    @app.on_message
    async def main(message: cl.Message) -> None:
        count = cl.user_session.get("count") + 1
        cl.user_session.set("count", count)
        user = cl.user_session.get("user")
        seen.append(message.content)
        lines = [
            f"You said **{message.content}** ({count})",
            f"client {cl.user_session.get('client_type')}, user {user.identifier}",
            *describe(user),
        ]
        for element in message.elements:
            assert element.path is not None
            lines.append(f"file {element.name}: {await anyio.Path(element.path).read_text()}")
        elements: list[cl.Element] = [cl.File(name="answer.txt", content=b"the answer")]
        await cl.Message(
            content="\n".join(lines),
            actions=[cl.Action(name="more", payload={"n": count}, label="More")],
            elements=elements if message.elements else [],
        ).send()

    @app.action_callback("more")
    async def more(action: cl.Action) -> None:
        await cl.Message(content=f"More for {action.payload['n']}").send()

    return app, seen
