"""A FastAPI app with its own pages and sign-in, and a lightchat chat mounted inside it.

- ``/`` is the host's own page (its own Jinja template and strict CSP) with the chat
  embedded by the ``head`` and ``chat`` macros of ``lightchat/embed.html``;
- ``/chat/`` is the full chat page, served by the mounted app;
- ``/login`` is the host's (demo) sign-in: any name signs in, kept in Starlette's session
  cookie; ``AuthenticationMiddleware`` turns it into ``request.user``, which the chat uses.

Run it from this folder::

    pip install fastapi uvicorn
    HOST_SECRET=$(python -c "import secrets; print(secrets.token_urlsafe(32))") \\
        uvicorn main:host --port 8000
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from chat import chat
from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
    SimpleUser,
    UnauthenticatedUser,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.middleware.sessions import SessionMiddleware
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import lightchat.embed

HERE = Path(__file__).resolve().parent
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'"


class SessionUsers(AuthenticationBackend):
    """The host's users: the name kept in its session cookie."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser]:
        name = conn.session.get("user")
        if isinstance(name, str) and name:
            return AuthCredentials(["authenticated"]), SimpleUser(name)
        return AuthCredentials(), UnauthenticatedUser()


class HostCSP:
    """The host's own strict CSP on its pages (the chat sets its own on its answers)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_csp(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    header
                    for header in message.get("headers", [])
                    if header[0] != b"content-security-policy"
                ]
                message["headers"] = [*headers, (b"content-security-policy", CSP.encode())]
            await send(message)

        if scope["type"] == "http" and not str(scope.get("path", "")).startswith("/chat"):
            await self.app(scope, receive, with_csp)
            return
        await self.app(scope, receive, send)


host = FastAPI(
    middleware=[
        Middleware(HostCSP),
        Middleware(
            SessionMiddleware,
            secret_key=os.environ.get("HOST_SECRET") or secrets.token_urlsafe(32),
            same_site="lax",
        ),
        Middleware(AuthenticationMiddleware, backend=SessionUsers()),
    ]
)
templates = Jinja2Templates(directory=HERE / "templates")
lightchat.embed.templates(templates.env)  # {% from "lightchat/embed.html" import ... %}
lightchat.embed.mount(host, "/chat", chat)  # started and stopped with the host


def _local(next_url: str) -> str:
    parts = urlsplit(next_url)
    if parts.scheme or parts.netloc or not next_url.startswith("/") or next_url.startswith("//"):
        return "/"
    return next_url


@host.get("/", response_class=HTMLResponse)
async def home(request: Request) -> Response:
    if not request.user.is_authenticated:
        return RedirectResponse("/login", status_code=303)
    return templates.TemplateResponse(request, "index.html", {"user": request.user})


@host.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "/") -> Response:
    return templates.TemplateResponse(request, "login.html", {"next": _local(next)})


@host.post("/login")
async def login(request: Request, name: str = Form(...), next: str = Form("/")) -> Response:
    request.session["user"] = name.strip()[:64] or "guest"
    return RedirectResponse(_local(next), status_code=303)


@host.post("/logout")
async def logout(request: Request) -> Response:
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
