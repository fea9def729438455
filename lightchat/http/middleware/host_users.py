"""``HostUsers``: a chat mounted in a host app that signs its users in takes the host's
user as the request's signed-in user (``LightChat(host_auth=...)``; how the user is read
is ``lightchat.auth.host``). A request the host signed nobody in for is refused (401)
before any endpoint runs; only the static files and the health and readiness checks stay
open.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from lightchat.auth.host import Reader
from lightchat.auth.sessions import USER_SCOPE_KEY
from lightchat.http.web import is_htmx, problem, route_path
from lightchat.ui.i18n import notice

logger = logging.getLogger("lightchat")

NOT_SIGNED_IN = (
    "You are not signed in. Sign in to the site this chat is part of, then open it again."
)


class HostUsers:
    """Plain ASGI middleware: the host's user becomes the request's signed-in user;
    a request without one is refused (see the module docstring)."""

    def __init__(self, app: ASGIApp, read: Reader) -> None:
        self.app = app
        self.read = read

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = route_path(scope)
        if path in ("/-/health", "/-/ready") or path.startswith("/-/static/"):
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        try:
            user = await self.read(request)
        # The host's function failed: nobody is signed in; the traceback is in the log.
        except Exception:
            logger.exception("Error in host_auth")
            user = None
        if user is not None:
            scope[USER_SCOPE_KEY] = user
            await self.app(scope, receive, send)
            return
        if path.endswith("/events") and not is_htmx(request):
            refusal = PlainTextResponse(
                notice(NOT_SIGNED_IN), status_code=401, headers={"Cache-Control": "no-store"}
            )
            await refusal(scope, receive, send)
            return
        await problem(request, 401, NOT_SIGNED_IN)(scope, receive, send)
