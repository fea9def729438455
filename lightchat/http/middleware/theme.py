"""``ThemeCookie``: each page is painted in its browser's theme (see
``lightchat.http.endpoints.theme`` for the toggle that sets the cookie)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from lightchat.ui.theme import THEME, THEME_COOKIE, chosen_theme


class ThemeCookie:
    """Plain ASGI middleware: keeps each request's theme (its cookie, else ``default``) in
    ``lightchat.ui.theme.THEME`` while it is answered."""

    def __init__(self, app: ASGIApp, default: str) -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cookie = Request(scope).cookies.get(THEME_COOKIE)
        reset = THEME.set(chosen_theme(cookie, self.default))
        try:
            await self.app(scope, receive, send)
        finally:
            THEME.reset(reset)
