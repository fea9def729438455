"""Endpoints of rich conversations: action clicks, answers to file questions, uploads, and
the element files a chat shows.

Every one goes through ``chat_or_404``, so a chat (and each element, action and question in
it) is reachable only by the browser it belongs to. Uploads are checked here, on the
server, against the accepted types, the size and the count, whatever the page said; they
are stored under names the storage makes up, never the client's.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import mimetypes
import re
from collections.abc import AsyncIterator
from functools import cache
from pathlib import Path
from urllib.parse import quote

from starlette.datastructures import FormData, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.types import Receive, Scope, Send

from lightchat.chat.session import AskClosedError, ChatSession
from lightchat.chat.upload_copies import copy_path
from lightchat.domain.events import (
    JSON_MAX_DEPTH,
    WINDOW_MESSAGE_MAX_BYTES,
    ElementData,
    MessageData,
    new_id,
)
from lightchat.domain.transcript import Transcript
from lightchat.errors import LightChatError
from lightchat.files import FileStorage, FileTooLargeError, MissingFileError
from lightchat.http.endpoints.static import StaticFiles
from lightchat.http.locate import RemoteChat, chat_for_input, chat_or_404, stream_chat
from lightchat.http.web import (
    JSONField,
    after_post,
    base,
    chat_url,
    is_htmx,
    json_field,
    problem,
    read_form,
    services,
    settle_without_js,
)
from lightchat.storage import BucketStorage

#: Kinds shown by the browser itself; every other file is a download.
_INLINE_KINDS = frozenset({"image", "pyplot", "audio", "video", "pdf", "plotly"})

_FILE_CSP = "sandbox; default-src 'none'; img-src 'self' data:; media-src 'self'"
_PLOT_CSP = (
    "sandbox allow-scripts; default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data: blob:; font-src data:"
)


#: What a custom element's name may be (it names its files: elements/<name>.html, .js).
CUSTOM_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")


class UploadRefused(LightChatError):
    """An upload broke a limit; the message says which and what to do."""


def accepts(accept: list[str], name: str, mime: str) -> bool:
    """Whether a file (by its name, and the type its name implies) is one of ``accept``.

    Entries are MIME types (``text/plain``), families (``image/*``), extensions (``.pdf``)
    or ``*/*``; an empty list accepts everything.

    >>> accepts(["image/*", ".pdf"], "cat.PNG", "image/png"), accepts([".pdf"], "a.exe", "")
    (True, False)
    """
    if not accept:
        return True
    lowered = name.lower()
    for entry in accept:
        entry = entry.strip().lower()
        if entry in ("*", "*/*"):
            return True
        if entry.startswith("."):
            if lowered.endswith(entry):
                return True
        elif entry.endswith("/*"):
            if mime.startswith(entry[:-1]):
                return True
        elif entry == mime:
            return True
    return False


def kind_of(mime: str) -> str:
    """The element kind an uploaded file is shown as."""
    if mime == "application/pdf":
        return "pdf"
    family = mime.partition("/")[0]
    return family if family in ("image", "audio", "video") else "file"


async def keep_uploads(
    session: ChatSession,
    uploads: list[UploadFile],
    *,
    accept: list[str],
    max_bytes: int,
    max_files: int,
) -> list[ElementData]:
    """Check uploads against the limits and keep them; raises ``UploadRefused`` (keeping
    none of them) when one breaks a limit."""
    uploads = [u for u in uploads if u.filename]
    if len(uploads) > max_files:
        raise UploadRefused(
            f"{len(uploads)} files were sent; at most {max_files} may go at once. Send fewer files."
        )
    checked: list[tuple[UploadFile, str, str]] = []
    for upload in uploads:
        name = _clean_name(upload.filename or "file")
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
        if not accepts(accept, name, mime):
            raise UploadRefused(
                f"{name!r} is not a type this chat accepts ({', '.join(accept)}). "
                "Choose another file."
            )
        if upload.size is not None and upload.size > max_bytes:
            raise UploadRefused(_too_large(name, max_bytes))
        checked.append((upload, name, mime))
    files = session.files
    if files is None:
        raise UploadRefused("This app does not keep files, so uploads are off.")
    kept: list[ElementData] = []
    path = getattr(files, "path", None)
    try:
        for upload, name, mime in checked:
            element_id = new_id()
            chunks = _chunks(upload, max_bytes)
            copy = None
            if path is None:
                # Files in a bucket: the app reads the upload from a local copy (path=).
                copy = await asyncio.to_thread(copy_path, session, element_id, name)
                chunks = _copied(chunks, copy)
            try:
                stored = await files.put(chunks, name=name, mime=mime)
            except FileTooLargeError:
                raise UploadRefused(_too_large(name, max_bytes)) from None
            local = path(stored.key) if path is not None else copy
            kept.append(
                ElementData(
                    id=element_id,
                    kind=kind_of(mime),
                    name=name,
                    key=stored.key,
                    mime=mime,
                    size=stored.size,
                    extra={"path": str(local)} if local is not None else {},
                )
            )
    except BaseException:
        for element in kept:  # all or nothing: a refused batch leaves no files behind
            if element.key:
                await files.delete(element.key)
            if path is None and element.extra.get("path"):
                await asyncio.to_thread(Path(element.extra["path"]).unlink, missing_ok=True)
        raise
    return kept


async def _copied(chunks: AsyncIterator[bytes], copy: Path) -> AsyncIterator[bytes]:
    """``chunks`` as they come, each also written to ``copy`` (removed if they fail)."""
    handle = await asyncio.to_thread(copy.open, "xb")
    try:
        async for chunk in chunks:
            await asyncio.to_thread(handle.write, chunk)
            yield chunk
        await asyncio.to_thread(handle.close)
    except BaseException:
        handle.close()
        await asyncio.shield(asyncio.to_thread(copy.unlink, missing_ok=True))
        raise


async def _chunks(upload: UploadFile, max_bytes: int) -> AsyncIterator[bytes]:
    read = 0
    while chunk := await upload.read(64 * 1024):
        read += len(chunk)
        if read > max_bytes:
            raise FileTooLargeError(upload.filename or "file")
        yield chunk


def _too_large(name: str, max_bytes: int) -> str:
    return f"{name!r} is larger than {max_bytes / (1024 * 1024):g} MB. Choose a smaller file."


def _clean_name(name: str) -> str:
    """The last part of a client's file name, without control characters."""
    name = name.replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:200] or "file"


def form_files(form: FormData, field: str) -> list[UploadFile]:
    """The files posted under ``field``."""
    return [value for value in form.getlist(field) if isinstance(value, UploadFile)]


def composer_accept(accept: str) -> list[str]:
    """The ``upload_accept`` setting as a list."""
    return [entry.strip() for entry in accept.split(",") if entry.strip()]


async def click(request: Request) -> Response:
    """An action was clicked: it answers its question, or its callback runs."""
    session = await chat_for_input(request)
    if session.read_only:
        return problem(request, 409, "This past chat is read-only.")
    try:
        session.click(request.path_params["action_id"])
    except LookupError as exc:
        return problem(request, 404, str(exc))
    await settle_without_js(request, session)
    return after_post(request, session)


PAYLOAD = JSONField(
    "payload",
    not_json=(
        f"The action's payload must be a JSON object (at most "
        f"{WINDOW_MESSAGE_MAX_BYTES // 1024} KB, nested at most {JSON_MAX_DEPTH} deep)."
    ),
    too_large=f"The action's payload is larger than {WINDOW_MESSAGE_MAX_BYTES // 1024} KB.",
    default="{}",
)


async def element_action(request: Request) -> Response:
    """A custom element called an action: form fields ``name`` and ``payload`` (JSON).

    Only a ``CustomElement`` of the chat calls actions this way (any other element, or an
    unknown id, is a 404). Both fields come from the browser: the callback gets them as
    sent, untrusted (see ``CustomElement``); a button's action (``click``) runs with what
    the server gave it instead.
    """
    session = await chat_for_input(request)
    if session.read_only:
        return problem(request, 409, "This past chat is read-only.")
    form = await read_form(request)
    await form.close()
    name = form.get("name")
    if not isinstance(name, str) or not name:
        return problem(request, 400, "Name the action to call (a form field 'name').")
    payload = json_field(form, PAYLOAD)
    if not isinstance(payload, dict):
        return problem(request, 400, PAYLOAD.not_json)
    try:
        session.call_action(request.path_params["element_id"], name, payload)
    except LookupError as exc:
        return problem(request, 404, str(exc))
    await settle_without_js(request, session)
    return after_post(request, session)


async def answer_files(request: Request) -> Response:
    """Files uploaded in answer to an ``AskFileMessage``."""
    session = await chat_or_404(request)
    message_id = request.path_params["message_id"]
    question = session.file_question(message_id)
    if question is None or question.ask is None:
        return problem(request, 409, "This question was answered already or has timed out.")
    ask = question.ask
    form = await read_form(request)
    try:
        uploads = form_files(form, "files")
        if not uploads:
            return problem(request, 400, "Choose a file to upload.")
        try:
            kept = await keep_uploads(
                session,
                uploads,
                accept=ask.accept,
                max_bytes=ask.max_size_mb * 1024 * 1024,
                max_files=ask.max_files,
            )
        except UploadRefused as exc:
            return problem(request, 400, str(exc))
    finally:
        await form.close()
    try:
        session.answer_files(message_id, kept)
    except AskClosedError as exc:
        files = session.files
        for element in kept:
            if files is not None and element.key:
                await files.delete(element.key)
        return problem(request, 409, str(exc))
    await settle_without_js(request, session)
    return after_post(request, session)


async def element_file(request: Request) -> Response:
    """An element's bytes, for the chat that shows it only.

    With several workers any worker serves them (``lightchat.http.middleware.forwarding``
    does not pass these on): the chat is authorised as for its stream, and a chat running on another
    worker has its elements looked up in its log."""
    chat = await stream_chat(request)
    element_id = request.path_params["element_id"]
    found = services(request)
    if isinstance(chat, RemoteChat):
        element = Transcript.from_entries(await found.bus.read(chat.id)).element(element_id)
    else:
        element = chat.element(element_id)
    return await element_response(request, element)


async def element_response(request: Request, element: ElementData | None) -> Response:
    """What an element's URL answers: its file, or, for a Plotly figure kept as JSON, the
    page of its frame (``plot_page``)."""
    files = services(request).chats.files
    if element is not None and element.kind == "plotly" and element.mime == PLOT_JSON:
        return await plot_page(request, files, element)
    return await file_response(files, element)


async def file_response(files: FileStorage | None, element: ElementData | None) -> Response:
    """The bytes of an element that its asker may see (the caller checked), with the
    headers that keep an active file from running as a page of the app; a 404 for an
    element without a stored file."""
    if element is None or element.key is None or files is None:
        raise HTTPException(404, "This file does not exist, or it is not part of this chat.")
    mime = element.mime or "application/octet-stream"
    inline = element.kind in _INLINE_KINDS and not _active(mime, element.kind)
    disposition = f"{'inline' if inline else 'attachment'}; filename*=UTF-8''{quote(element.name)}"
    if isinstance(files, BucketStorage) and files.signed_urls:
        # The bucket answers, for a short while, whoever holds the URL: it is made only
        # now, for a caller that may see the element, and never cached.
        url = await files.read_url(element.key, disposition=disposition, mime=mime)
        return RedirectResponse(url, 307, headers={"Cache-Control": "no-store"})
    try:
        chunks = await files.open(element.key)
    except MissingFileError:
        raise HTTPException(404, "This file is no longer stored.") from None
    headers = {
        "Content-Disposition": disposition,
        "Content-Security-Policy": _PLOT_CSP if element.kind == "plotly" else _FILE_CSP,
        "Cache-Control": "private, max-age=3600",
        "X-Content-Type-Options": "nosniff",
    }
    if element.size is not None:
        headers["Content-Length"] = str(element.size)
    return StreamingResponse(chunks, media_type=mime, headers=headers)


# -- Plotly figures ---------------------------------------------------------------------------

PLOT_JSON = "application/json"
"""The type of a Plotly figure kept as its JSON (``lightchat.api.elements.Plotly``)."""

PLOTLY_FILE = "plotly.min.js"

_FIGURE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; base-uri 'none'; form-action 'none'"
)
"""The policy of a figure's frame: only lightchat's own script and plotly.js run (no
inline script, no eval; the figure is data), which is what lets the frame keep the app's
origin (it is not sandboxed, ``_element.html``): a sandboxed frame has an origin of its
own each time, whose requests Chromium never answers from its cache, so every figure
would fetch plotly.js (4.8 MB) again. plotly.js sets styles inline."""


@cache
def plotly_files() -> StaticFiles:
    """plotly.js as the installed ``plotly`` package ships it (``package_data``), served
    at ``/-/plotly/plotly.min.js`` like lightchat's static files: compressed once,
    cached for good under its version. Found without importing plotly; nothing is served
    when it is not installed."""
    spec = importlib.util.find_spec("plotly")
    folder = Path(spec.origin).parent / "package_data" if spec and spec.origin else None
    return StaticFiles(folder, only=(PLOTLY_FILE,))


async def plotly_script(scope: Scope, receive: Receive, send: Send) -> None:
    """The ASGI app at ``/-/plotly``: plotly.js (see ``plotly_files``)."""
    await plotly_files()(scope, receive, send)


async def plot_page(request: Request, files: FileStorage | None, element: ElementData) -> Response:
    """The page of a Plotly figure's frame: its JSON, drawn by ``lightchat.plot.js`` with
    plotly.js from its one cached URL (``templates/plot.html``)."""
    if element.key is None or files is None:
        raise HTTPException(404, "This file does not exist, or it is not part of this chat.")
    try:
        chunks = await files.open(element.key)
        data = b"".join([chunk async for chunk in chunks])
    except MissingFileError:
        raise HTTPException(404, "This file is no longer stored.") from None
    try:
        figure = json.loads(data)
    except ValueError:
        figure = {}
    plotly = plotly_files()
    version = await asyncio.to_thread(lambda: plotly.version)  # plotly.js read once
    html = services(request).renderer.page(
        "plot.html",
        base=base(request),
        plot_name=element.name,
        plotly_version=version,
        figure=figure if isinstance(figure, dict) else {},
    )
    headers = {
        "Content-Security-Policy": _FIGURE_CSP,
        "Cache-Control": "private, max-age=3600",
        "X-Content-Type-Options": "nosniff",
    }
    return HTMLResponse(html, headers=headers)


def _active(mime: str, kind: str) -> bool:
    """True for types a browser would run as a document (HTML, SVG, XML) unless the
    element is a plot that lightchat made."""
    if kind == "plotly":
        return False
    return mime in ("text/html", "image/svg+xml", "application/xhtml+xml") or mime.endswith("+xml")


async def element_script(request: Request) -> Response:
    """The app's script for a custom element: ``elements/<name>.js`` in the app's folder."""
    name = request.path_params["name"]
    path = await asyncio.to_thread(_element_script, services(request).settings.app_dir, name)
    if path is None:
        raise HTTPException(404, "There is no such element script.")
    return FileResponse(path, media_type="text/javascript", headers={"Cache-Control": "no-cache"})


def _element_script(app_dir: str, name: str) -> Path | None:
    """The file of a custom element's script, if the name is valid and the file is there."""
    if not CUSTOM_NAME.fullmatch(name):
        return None
    folder = Path(app_dir, "elements").resolve()
    path = (folder / f"{name}.js").resolve()
    return path if path.is_relative_to(folder) and path.is_file() else None


async def element_view(request: Request) -> Response:
    """One element on a page of its own (``display="page"``), or as the side panel's
    content for htmx (``display="side"``)."""
    session = await chat_or_404(request)
    element = session.element(request.path_params["element_id"])
    if element is None:
        raise HTTPException(404, "This element does not exist, or it is not part of this chat.")
    found = services(request)
    url = chat_url(request, session.id)
    if is_htmx(request):
        html = found.renderer.side_panel(element, url)
        return HTMLResponse(html, headers={"Vary": "HX-Request"})
    holder = session.transcript.holder(element.id)
    html = found.renderer.page(
        "element.html",
        element=element,
        holder=holder if isinstance(holder, MessageData) else None,
        base=base(request),
        chat_url=url,
    )
    return HTMLResponse(html, headers={"Vary": "HX-Request"})
