"""The chat's "MCP servers" dialog (``features.mcp``): the servers it is connected to, with
their tools and how each stands, a form to connect another, and "Disconnect" for each.

- ``GET /chat/<id>/mcp``: the dialog for htmx, a page of its own without JavaScript;
- ``POST /chat/<id>/mcp``: connect the server the form names ("Name", then "Command" for a
  stdio server, or "URL" with its transport and optional headers, one ``Name: value`` per
  line); the chat remembers it for the user's next chats (``lightchat.chat.mcp``);
- ``POST /chat/<id>/mcp/disconnect``: end the connection named by the form's ``name``, and
  forget it.

Who: only whoever may write to the chat, as for a message: sign-in when the app has it
(the gate), the chat's owner (anyone else gets the 404 of a chat that does not exist), and
the form token (the middleware's 403); a user who is not signed in adds no stdio server
unless the app allows it (``mcp_stdio_anonymous``). A server the chat or the connector
refuses, or that fails to connect, is a 400 whose alert, in the dialog, says why; nothing
is connected then. With MCP off, each URL here is a 404.

What is shown: names, commands and URLs as the user typed them (a command's ``NAME=value``
values left out), the tools as their server describes them, and why a server failed: all
of it escaped as text. Headers are listed by name only: their values never come back.

The URLs are under ``/chat/<id>``, so with several workers they are answered by the worker
that owns the chat, where its connections live.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from lightchat.chat.mcp import McpServices
from lightchat.chat.session import ChatSession
from lightchat.domain.mcp import McpKind, McpRefused, McpServerSpec
from lightchat.http.locate import chat_for_input, chat_or_404
from lightchat.http.web import VARY, base, chat_renderer, chat_url, is_htmx, read_form, services

NO_MCP = "This app does not connect MCP servers."

MAX_FIELD_CHARS = 2000
"""The longest command or URL the form takes."""
MAX_HEADERS = 20
"""The most headers a server is sent with."""
MAX_HEADERS_CHARS = 8000
"""The most text the form's headers take, all lines together."""

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")
"""A header's name (HTTP's ``token``)."""

_TRANSPORTS: dict[str, McpKind] = {"streamable-http": "streamable-http", "sse": "sse"}


def _mcp_of(session: ChatSession) -> McpServices:
    """The chat's MCP services; a 404 while MCP is off."""
    found = session.mcp.services
    if found is None:
        raise HTTPException(404, NO_MCP)
    return found


def _dialog(
    request: Request,
    session: ChatSession,
    *,
    error: str = "",
    status: int = 200,
    typed: dict[str, str] | None = None,
) -> Response:
    """The dialog as the chat's connections stand: for htmx, the dialog; else the page."""
    mcp = _mcp_of(session)
    modal = is_htmx(request)
    html = chat_renderer(request, session).page(
        "_mcp.html" if modal else "mcp.html",
        modal=modal,
        base=base(request),
        chat_url=chat_url(request, session.id),
        connections=session.mcp.list(),
        kinds=mcp.kinds,
        stdio=("stdio" in mcp.kinds) and (session.user is not None or mcp.stdio_anonymous),
        transports=[kind for kind in ("streamable-http", "sse") if kind in mcp.kinds],
        error=error,
        typed=typed or {},
        max_field_chars=MAX_FIELD_CHARS,
    )
    return HTMLResponse(html, status_code=status, headers={**VARY, "Cache-Control": "no-store"})


async def mcp_dialog(request: Request) -> Response:
    """The chat's MCP servers, and the form to connect another."""
    session = await chat_or_404(request)
    return _dialog(request, session)


def _text(form: Any, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def parse_headers(text: str) -> dict[str, str]:
    """Headers written one ``Name: value`` per line (blank lines skipped); ``McpRefused``
    for a line that is not one, a name given twice, or too many."""
    headers: dict[str, str] = {}
    if len(text) > MAX_HEADERS_CHARS:
        raise McpRefused(f"The headers take at most {MAX_HEADERS_CHARS:,} characters.")
    for line in text.splitlines():
        if not line.strip():
            continue
        name, colon, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if not colon or not _TOKEN.fullmatch(name):
            raise McpRefused("Write each header as “Name: value”, one per line.")
        if name.lower() in (known.lower() for known in headers):
            raise McpRefused(f"The header {name} is given twice.")
        headers[name] = value
        if len(headers) > MAX_HEADERS:
            raise McpRefused(f"A server is sent at most {MAX_HEADERS} headers.")
    return headers


def spec_of(fields: dict[str, str], headers_text: str, mcp: McpServices) -> McpServerSpec:
    """The server the form names; ``McpRefused`` (for the dialog) for a form that names
    none, or both a command and a URL, or a kind the app does not connect."""
    name, command, url = fields["name"], fields["command"].strip(), fields["url"].strip()
    if len(command) > MAX_FIELD_CHARS or len(url) > MAX_FIELD_CHARS:
        raise McpRefused(f"A command or a URL is at most {MAX_FIELD_CHARS:,} characters long.")
    if command and url:
        raise McpRefused("Give a command or a URL, not both.")
    if command:
        return McpServerSpec(name=name, kind="stdio", command=command)
    if not url:
        if "stdio" in mcp.kinds:
            raise McpRefused("Give the server's command, or its URL.")
        raise McpRefused("Give the server's URL.")
    offered = [kind for kind in ("streamable-http", "sse") if kind in mcp.kinds]
    kind = _TRANSPORTS.get(fields["transport"]) or (offered[0] if offered else "streamable-http")
    return McpServerSpec(name=name, kind=kind, url=url, headers=parse_headers(headers_text))


async def mcp_connect(request: Request) -> Response:
    """Connect the server the form names (see the module docstring)."""
    session = await chat_for_input(request)
    mcp = _mcp_of(session)
    if session.read_only:
        return _dialog(request, session, error="This past chat is read-only.", status=409)
    form = await read_form(request)
    try:
        if any(isinstance(value, UploadFile) for _, value in form.multi_items()):
            return _dialog(request, session, error="This form takes text, not files.", status=400)
        fields = {key: _text(form, key) for key in ("name", "command", "url", "transport")}
        headers_text = _text(form, "headers")
    finally:
        await form.close()
    # What the user typed comes back in the form after a refusal, the headers excepted.
    typed = {key: value[:MAX_FIELD_CHARS] for key, value in fields.items()}
    try:
        view = await session.mcp.connect(spec_of(fields, headers_text, mcp))
    except McpRefused as exc:
        return _dialog(request, session, error=str(exc), status=400, typed=typed)
    if is_htmx(request):
        return _dialog(request, session)
    # No JavaScript: what on_mcp_connect shows in the chat is there when the user goes back.
    hooked = session.mcp.hooked(view.name)
    if hooked is not None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(hooked), services(request).settings.form_wait_s)
    return RedirectResponse(f"{chat_url(request, session.id)}/mcp", status_code=303, headers=VARY)


async def mcp_disconnect(request: Request) -> Response:
    """End the connection the form names, and forget it for the user's next chats."""
    session = await chat_for_input(request)
    _mcp_of(session)
    form = await read_form(request)
    try:
        name = _text(form, "name")
    finally:
        await form.close()
    try:
        await session.mcp.disconnect(name)
    except LookupError as exc:
        return _dialog(request, session, error=str(exc.args[0]), status=404)
    if is_htmx(request):
        return _dialog(request, session)
    return RedirectResponse(f"{chat_url(request, session.id)}/mcp", status_code=303, headers=VARY)
