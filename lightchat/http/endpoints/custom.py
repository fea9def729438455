"""Endpoints of custom elements beyond their action calls: the page of a JSX element's
frame, the element's new props, its removal and its messages (``updateElement``,
``deleteElement``, ``sendUserMessage``), the
answer to an ``AskElementMessage`` (``submitElement``, ``cancelElement``), and the vendored
files the frame runs.

Every chat URL here goes through ``chat_or_404`` or ``chat_for_input``, so only the
browser (or user) the chat belongs to reaches its elements; the posts pass the form
token and same-origin checks of every write. What they carry is JSON from the browser,
checked by ``json_field`` (size, depth, no NaN) and handed to the app as untrusted data.
"""

from __future__ import annotations

import asyncio
import gzip
import mimetypes
import re
from pathlib import Path

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

from lightchat.chat.session import AskClosedError, ChatSession
from lightchat.domain.events import JSON_MAX_DEPTH, WINDOW_MESSAGE_MAX_BYTES, ElementData
from lightchat.http.locate import chat_for_input, chat_or_404
from lightchat.http.web import (
    JSONField,
    after_post,
    base,
    json_field,
    problem,
    read_form,
    services,
    settle_without_js,
)
from lightchat.ui.i18n import say
from lightchat.ui.jsx import VENDOR_DIR, jsx_path

JSX_CSP = (
    "sandbox allow-scripts; default-src 'none'; script-src 'self' 'unsafe-eval'; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:; "
    "font-src 'self' data: https:; media-src 'self' data: blob: https:; connect-src 'none'; "
    "form-action 'none'; base-uri 'none'"
)
"""The policy of a JSX element's frame (``jsx_csp`` adds who may frame it): the element's
code is evaluated there (Babel turns it into a function), which the chat page's policy
never allows; the sandbox gives the frame an origin of its own, so that code reaches
neither the chat page nor the app's cookies, and it talks to the page only by
``postMessage``."""


def jsx_csp(frame_sources: str) -> str:
    """``JSX_CSP`` with its ``frame-ancestors``: the chat page (``'self'``), and whoever may
    frame the chat page (``Settings.frame_sources``: a copilot's host page), since every
    ancestor of a frame must be allowed."""
    others = [s for s in frame_sources.split() if s not in ("'self'", "'none'")]
    return f"{JSX_CSP}; frame-ancestors " + " ".join(["'self'", *others])


_KB = WINDOW_MESSAGE_MAX_BYTES // 1024

PROPS = JSONField(
    "props",
    missing="Send the element's new props as JSON in the field 'props'.",
    not_json=(
        f"An element's props must be a JSON object (at most {_KB} KB, nested at most "
        f"{JSON_MAX_DEPTH} deep)."
    ),
    too_large=f"An element's props are larger than {_KB} KB.",
)

VALUES = JSONField(
    "values",
    not_json=(
        f"What an element submits must be a JSON object (at most {_KB} KB, nested at "
        f"most {JSON_MAX_DEPTH} deep)."
    ),
    too_large=f"What an element submits is larger than {_KB} KB.",
)

READ_ONLY = "This past chat is read-only."
NO_JSX = "This element is not drawn from a JSX file."
EMPTY = "Type a message before sending."
COMMAND_CHARS = 100
LONG_COMMAND = "A command's name is at most 100 characters long."


async def element_frame(request: Request) -> Response:
    """The page of a JSX custom element's frame: the vendored runtime, the element's
    source, props and icons as data, under ``JSX_CSP``."""
    session = await chat_or_404(request)
    return await frame_response(request, session.element(request.path_params["element_id"]))


async def frame_response(request: Request, element: ElementData | None) -> Response:
    """The frame's page of a JSX custom element a chat shows (None: it shows no such
    element, a 404), for its own chat or for a shared chat's page."""
    if element is None or element.kind != "custom":
        raise HTTPException(404, "This element does not exist, or it is not part of this chat.")
    found = services(request)
    path = await asyncio.to_thread(jsx_path, found.settings.app_dir, element.name)
    if path is None:
        raise HTTPException(404, NO_JSX)
    source = await asyncio.to_thread(path.read_text, "utf-8")
    html = found.renderer.jsx_frame(element, source, base(request))
    headers = {
        "Content-Security-Policy": jsx_csp(found.settings.frame_sources()),
        "Cache-Control": "no-store",
        "Vary": "Cookie",
    }
    return HTMLResponse(html, headers=headers)


async def element_props(request: Request) -> Response:
    """A custom element's new props (``updateElement``): the JSON object in ``props``."""
    session = await chat_for_input(request)
    if session.read_only:
        return problem(request, 409, READ_ONLY)
    form = await _form(request)
    props = json_field(form, PROPS)
    if not isinstance(props, dict):
        return problem(request, 400, PROPS.not_json)
    try:
        session.update_element(request.path_params["element_id"], props)
    except LookupError as exc:
        return problem(request, 404, str(exc))
    return after_post(request, session)


async def element_message(request: Request) -> Response:
    """A custom element sent a message as the user (``sendUserMessage(text, command)``):
    ``content``, and ``command``, which, as in Chainlit, may be any name (not only one the
    composer offers): it reaches ``message.command`` as the browser sent it, untrusted
    like the ``name`` of an action the element calls."""
    session = await chat_for_input(request)
    if session.read_only:
        return problem(request, 409, READ_ONLY)
    form = await _form(request)
    content, command = form.get("content"), form.get("command") or None
    if not isinstance(content, str) or not content.strip():
        return problem(request, 400, EMPTY)
    limit = session.settings.max_message_chars
    if len(content) > limit:
        length = f"{len(content):,}"
        return problem(
            request, 413, say("notice.message_too_long", length=length, limit=f"{limit:,}")
        )
    if command is not None and (not isinstance(command, str) or len(command) > COMMAND_CHARS):
        return problem(request, 400, LONG_COMMAND)
    try:
        session.custom_element(request.path_params["element_id"])
    except LookupError as exc:
        return problem(request, 404, str(exc))
    session.send_user_message(content, command=command)
    await settle_without_js(request, session)
    return after_post(request, session)


async def element_delete(request: Request) -> Response:
    """A custom element removed itself (``deleteElement``)."""
    session = await chat_for_input(request)
    if session.read_only:
        return problem(request, 409, READ_ONLY)
    await _form(request)
    try:
        session.delete_element(request.path_params["element_id"])
    except LookupError as exc:
        return problem(request, 404, str(exc))
    return after_post(request, session)


async def element_submit(request: Request) -> Response:
    """The user submitted a custom element asked for by ``AskElementMessage``.

    A JSX element (``submitElement(values)``) sends its values as a JSON object in
    ``values``; a template's form sends fields, each one a value (a field given several
    times, a list of them).
    """
    session = await chat_for_input(request)
    form = await _form(request)
    if form.get("values") is not None:
        values = json_field(form, VALUES)
        if not isinstance(values, dict):
            return problem(request, 400, VALUES.not_json)
    else:
        values = _fields(form)
    return await _answer(request, session, {**values, "submitted": True})


async def element_cancel(request: Request) -> Response:
    """The user cancelled a custom element asked for by ``AskElementMessage``."""
    session = await chat_for_input(request)
    await _form(request)
    return await _answer(request, session, {"submitted": False})


async def _answer(request: Request, session: ChatSession, response: dict[str, object]) -> Response:
    """Answer the element's question; a question no longer open is a 409."""
    try:
        session.answer_element(request.path_params["element_id"], response)
    except AskClosedError as exc:
        return problem(request, 409, str(exc))
    await settle_without_js(request, session)
    return after_post(request, session)


async def _form(request: Request) -> FormData:
    form = await read_form(request)
    await form.close()
    return form


def _fields(form: FormData) -> dict[str, object]:
    """A template's form as values: each field (but the form token) as its text, a field
    given several times as the list of its texts; files are left out."""
    values: dict[str, object] = {}
    for key in form:
        if key == "csrf_token":
            continue
        texts = [value for value in form.getlist(key) if isinstance(value, str)]
        if texts:
            values[key] = texts[0] if len(texts) == 1 else texts
    return values


_VENDOR_NAME = re.compile(r"[A-Za-z0-9_.-]{1,100}")


async def vendor_file(request: Request) -> Response:
    """A vendored file (``static/vendor/<package>/<name>``). One kept compressed
    (``<name>.gz``, Babel's) is sent as it is with ``Content-Encoding: gzip`` to a
    browser that accepts it, and unpacked for one that does not."""
    package, name = request.path_params["package"], request.path_params["file"]
    if not (_VENDOR_NAME.fullmatch(package) and _VENDOR_NAME.fullmatch(name)):
        raise HTTPException(404, "There is no such file.")
    if name.startswith(".") or package.startswith("."):
        raise HTTPException(404, "There is no such file.")
    folder = VENDOR_DIR / package
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if name.endswith(".js"):
        kind = "text/javascript"
    headers = {"Cache-Control": "public, max-age=86400", "Vary": "Accept-Encoding"}
    plain = folder / name
    if plain.is_file():
        return FileResponse(plain, media_type=kind, headers=headers)
    packed = folder / f"{name}.gz"
    if not packed.is_file():
        raise HTTPException(404, "There is no such file.")
    if "gzip" in request.headers.get("accept-encoding", ""):
        return FileResponse(
            packed, media_type=kind, headers={**headers, "Content-Encoding": "gzip"}
        )
    body = await asyncio.to_thread(_unpack, packed)
    return Response(body, media_type=kind, headers=headers)


def _unpack(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())
