"""HTTP endpoints of a chat, and the one declarative list of routes.

Every chat URL checks that the chat belongs to the browser (or signed-in user) asking (see
``lightchat.http.web``); sign-in and its gate are in ``lightchat.http.endpoints.auth``.
HTMX requests (``HX-Request``) get fragments or 204; plain form posts (no JavaScript) get a
303 to the chat page once the answer is complete. The history's endpoints (search, rename,
delete, feedback, export) are in ``lightchat.http.endpoints.history``; chat profiles, starters and
chat settings in ``lightchat.http.endpoints.start``.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, urlencode

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route

from lightchat.bus import LogCompacted
from lightchat.chat.session import ChatSession
from lightchat.domain.transcript import Transcript
from lightchat.http.endpoints.analytics import (
    analytics_csv,
    analytics_page,
    review_element_file,
    review_element_view,
    review_thread,
)
from lightchat.http.endpoints.audio import audio_chunk, end_recording, start_recording
from lightchat.http.endpoints.auth import login, login_form, logout, token_page, token_sign_in
from lightchat.http.endpoints.copilot import (
    copilot_script,
    function_result,
    reopen_chat,
    window_message,
)
from lightchat.http.endpoints.custom import (
    element_cancel,
    element_delete,
    element_frame,
    element_message,
    element_props,
    element_submit,
    vendor_file,
)
from lightchat.http.endpoints.debug import (
    debug_allowed,
    debug_log,
    debug_page,
    debug_replay,
    event_times,
    run_rows,
)
from lightchat.http.endpoints.elements import (
    UploadRefused,
    answer_files,
    click,
    composer_accept,
    element_action,
    element_file,
    element_script,
    element_view,
    form_files,
    keep_uploads,
    plotly_script,
)
from lightchat.http.endpoints.embed import embed_chat, embed_new
from lightchat.http.endpoints.env import env_form, env_of, save_env
from lightchat.http.endpoints.favorites import favorites, favorites_offered, remove, toggle
from lightchat.http.endpoints.history import (
    LiveThreads,
    delete,
    delete_form,
    export_json,
    export_markdown,
    feedback,
    history_page,
    rename,
    rename_form,
    sidebar,
)
from lightchat.http.endpoints.mcp import mcp_connect, mcp_dialog, mcp_disconnect
from lightchat.http.endpoints.oauth import oauth_finish, oauth_start
from lightchat.http.endpoints.share import (
    share,
    shared_element_file,
    shared_element_frame,
    shared_element_view,
    shared_page,
    sharing_form,
    sharing_offered,
    unshare,
)
from lightchat.http.endpoints.start import (
    confirm_new_chat,
    edit_settings,
    save_settings,
    settings_form,
    start_chat,
    start_context,
)
from lightchat.http.endpoints.static import StaticFiles
from lightchat.http.endpoints.theme import public_file, set_theme, theme_css
from lightchat.http.locate import RemoteChat, chat_for_input, chat_or_404, stream_chat
from lightchat.http.web import (
    VARY,
    after_post,
    base,
    browser,
    chat_renderer,
    chat_url,
    is_htmx,
    problem,
    read_form,
    services,
    settle_without_js,
    signed_in,
)
from lightchat.http.web import Services as Services
from lightchat.ui.debug_view import DEBUG_VIEW, debug_view
from lightchat.ui.i18n import say
from lightchat.ui.run_log import RunLogStream
from lightchat.ui.sse import CLOSING, PING, PING_SECONDS, RELOAD, Encoder, event_stream
from lightchat.ui.stream_view import StreamView

STATIC_DIR = Path(__file__).parents[1] / "static"
STATIC = StaticFiles(STATIC_DIR)
"""lightchat's static files, compressed and versioned (one for every app in the process)."""


async def new_chat(request: Request) -> Response:
    """Start a chat and send the browser to it."""
    found = services(request)
    if request.headers.get("sec-fetch-dest") not in (None, "document", "iframe", "empty"):
        # An image, script or style pointing at "/" (e.g. `![](/)` in an answer) would start
        # a chat with every load: only a page (or htmx) starts one.
        return PlainTextResponse("Open this address as a page to start a chat.", 400)
    owner = browser(request)  # every page request has one (lightchat.http.middleware.csrf gives it)
    if owner is None:
        return problem(request, 400, "This request names no browser; open the app's page.")
    env: dict[str, str] | None = {}
    if found.settings.user_env:
        env = env_of(request, owner)
    if env is None:
        # The app needs the user's keys first; the form comes back here with the query.
        query = request.url.query
        response = RedirectResponse(f"{base(request)}/env{'?' + query if query else ''}", 303)
    else:
        # The copilot widget (lightchat/static/copilot.js) opens its chats with ?client=.
        copilot = request.query_params.get("client") == "copilot"
        session = await start_chat(request, owner, env, "copilot" if copilot else "webapp")
        url = chat_url(request, session.id)
        prompt = request.query_params.get("prompt")
        if prompt:
            url += "?" + urlencode({"prompt": prompt[: found.settings.max_message_chars]})
        response = RedirectResponse(url, status_code=303)
    return response


async def chat_page(request: Request) -> Response:
    """The chat as it stands; its stream continues from exactly this point."""
    session = await chat_or_404(request)
    found = services(request)
    session.touch()
    history = found.history
    entries = await found.bus.read(session.id)
    transcript = Transcript.from_entries(entries)
    given = {}
    if history is not None and history.ready and found.settings.feedback:
        given = await history.feedback(session.thread_id, session.owner, fresh=session.fresh)
    # First: it gives a chat reopened from history its profile's settings.
    start = await start_context(request, session, transcript)
    side = await sidebar(request, session.owner, session.id, wait=False)
    # Debug mode's details (step times, tracebacks, "Run details") for whom may see them.
    with debug_view(debug_allowed(request)):
        html = chat_renderer(request, session).page(
            "chat.html",
            favorites_on=favorites_offered(request, session),
            transcript=transcript,
            base=base(request),
            chat_id=session.id,
            chat_url=chat_url(request, session.id),
            # The copilot widget's panel is small: no history, a compact header.
            copilot=session.client_type == "copilot",
            # Shown in a frame (the browser says so): the page lists lightchat.framed.js at
            # once, so no window message of its first moments is missed.
            framed=request.headers.get("sec-fetch-dest") == "iframe",
            new_chat_url=_new_chat_url(request, session),
            confirm_new_chat_url=_new_chat_url(request, session, confirm=True),
            frame_ancestors=found.settings.frame_sources(),
            history=history is not None and session.client_type != "copilot",
            sharing=sharing_offered(found) and session.client_type != "copilot",
            read_only=session.read_only,
            prompt=request.query_params.get("prompt", "")[: found.settings.max_message_chars],
            feedback=given,
            user=signed_in(request),
            run_rows=run_rows(request, session, entries),
            **side,
            **start,
        )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


def _new_chat_url(request: Request, session: ChatSession, *, confirm: bool = False) -> str:
    """Where "New chat" goes: a chat like this one (same profile, same client: a new chat
    in the copilot's panel stays compact); with ``confirm``, the question before it
    (``Settings.confirm_new_chat``), which comes back to this chat if cancelled."""
    profile = session.data.get("chat_profile")
    query = {"profile": profile if isinstance(profile, str) else "", "client": session.client_type}
    kept = {key: value for key, value in query.items() if value and value != "webapp"}
    if confirm:
        kept["chat"] = session.id
        return f"{base(request)}/new-chat?{urlencode(kept, quote_via=quote)}"
    return f"{base(request)}/{'?' + urlencode(kept, quote_via=quote) if kept else ''}"


_EVENT_ID = re.compile(r"[0-9]{1,18}")
"""An event's number in a stream (``Last-Event-ID``, ``?after=``): ASCII digits, as the
stream writes them, within the 64-bit numbers of a Redis stream's ids."""

NO_RESUME_POINT = "Last-Event-ID and ?after= take a whole number: 1 to 18 digits, 0-9."


def _resume_point(request: Request) -> int:
    """The event a stream starts after (0: from the start); a 400 for anything else."""
    raw = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
    if not _EVENT_ID.fullmatch(raw):
        raise HTTPException(400, NO_RESUME_POINT)
    return int(raw)


async def _reload() -> AsyncIterator[bytes]:
    yield RELOAD


async def chat_events(request: Request) -> Response:
    """The chat's events after a point, as server-sent events, for as long as the page is open.

    With several workers, any worker streams any chat: one that runs on another worker is
    read from the bus, and taken over here if its worker dies (see ``RemoteChat``).
    """
    session: ChatSession | RemoteChat = await stream_chat(request)
    found = services(request)
    after = _resume_point(request)
    bus = found.bus
    try:
        seen = await bus.read(session.id, 0, after)
    except LogCompacted:
        # The page's point was folded into a snapshot: only a fresh page can go on.
        return event_stream(_reload())
    view = StreamView(
        chat_renderer(request, session),
        Transcript.from_entries(seen),
        base=base(request),
        chat_url=chat_url(request, session.id),
        interval=found.settings.render_interval_ms / 1000,
    )
    debug = debug_allowed(request)
    log_rows = None
    if debug and getattr(session, "client_type", "webapp") != "copilot":
        log_rows = RunLogStream(
            chat_renderer(request, session),
            seen,
            event_times(session),
            chat_url=chat_url(request, session.id),
        )

    encoder = Encoder()
    # The page's history sidebar, kept as it is (its page asks: ?threads=).
    live = LiveThreads.of(request, session.owner, session.id, view.renderer)

    async def events() -> AsyncIterator[bytes]:
        nonlocal session
        DEBUG_VIEW.set(debug)  # this stream's own task renders what it sends
        session.connections += 1
        seq = after
        sent = time.monotonic()
        if live is not None:
            live.open()
        try:
            if live is not None and live.due:  # changed since the page's list was made
                yield encoder.encode(await live.chunks(seq))
            while not bus.closed and not session.closed:
                deadline = view.next_deadline()
                timeout = PING_SECONDS if deadline is None else deadline - time.monotonic()
                if isinstance(session, RemoteChat):
                    timeout = min(timeout, session.interval)
                try:
                    entries = await bus.wait(session.id, seq, max(timeout, 0.0))
                except LogCompacted:  # it fell too far behind a compaction
                    yield RELOAD
                    return
                if not entries and isinstance(session, RemoteChat):
                    taken = await session.check()
                    if taken is not None:  # its worker died: the chat goes on here
                        session.connections -= 1
                        session = taken
                        session.connections += 1
                        continue
                now = time.monotonic()
                chunks = view.feed(entries, now) if entries else view.due(now)
                if log_rows is not None and entries:
                    chunks += log_rows.feed(entries)
                if entries:
                    seq = entries[-1].seq
                if live is not None and live.due:
                    chunks = [*chunks, *await live.chunks(seq)]
                if chunks:
                    yield encoder.encode(chunks)
                    sent = now
                elif now - sent >= PING_SECONDS:
                    yield PING
                    sent = now
            if session.closed:
                yield CLOSING
        finally:
            session.connections -= 1
            session.touch()
            if live is not None:
                live.close()

    return event_stream(events())


async def post_message(request: Request) -> Response:
    """Take a user message: shown at once, answered by ``on_message`` in turn."""
    session = await chat_for_input(request)
    settings = session.settings  # the app's, or its chat profile's (config_overrides)
    if session.read_only:
        return problem(
            request,
            409,
            "This past chat is read-only: the app does not reopen old conversations. "
            "Start a new chat to go on.",
        )
    form = await read_form(request)
    try:
        content = form.get("content")
        if not isinstance(content, str):
            content = ""
        uploads = form_files(form, "files") if settings.uploads else []
        uploads = [u for u in uploads if u.filename]
        if not content.strip() and not uploads:
            return problem(request, 400, "Type a message before sending.")
        if len(content) > settings.max_message_chars:
            return problem(
                request,
                413,
                say(
                    "notice.message_too_long",
                    length=f"{len(content):,}",
                    limit=f"{settings.max_message_chars:,}",
                ),
            )
        try:
            content, command, modes = composer_choices(session, form, content)
        except ValueError as exc:
            return problem(request, 400, str(exc))
        try:
            elements = await keep_uploads(
                session,
                uploads,
                accept=composer_accept(settings.upload_accept),
                max_bytes=settings.upload_max_size_mb * 1024 * 1024,
                max_files=settings.upload_max_files,
            )
        except UploadRefused as exc:
            return problem(request, 400, str(exc))
    finally:
        await form.close()  # uploads are spooled to temporary files until kept
    session.send_user_message(content, elements=elements, command=command, modes=modes)
    await settle_without_js(request, session)
    return after_post(request, session)


def composer_choices(
    session: ChatSession, form: FormData, content: str
) -> tuple[str, str | None, dict[str, str]]:
    """The command and modes a message was sent with, checked against what the chat offers.

    A message starting with ``/name`` picks the command ``name`` (how it is typed without
    JavaScript); the command's name is then taken out of the text. Raises ``ValueError``
    with a message for the user.
    """
    offered = {command.id for command in session.transcript.commands}
    raw = form.get("command")
    command = raw if isinstance(raw, str) and raw else None
    if command is None and content.startswith("/"):
        word, _, rest = content[1:].partition(" ")
        if word in offered:
            command, content = word, rest.lstrip()
    if command is not None and command not in offered:
        raise ValueError(f"There is no command {command!r} in this chat.")
    modes: dict[str, str] = {}
    for mode in session.transcript.modes:
        value = form.get(f"mode:{mode.id}")
        default = mode.get_default_option()
        if not isinstance(value, str) or not value:
            if default is not None:
                modes[mode.id] = default.id
            continue
        if mode.get_option_by_id(value) is None:
            raise ValueError(f"{value!r} is not a choice of {mode.name}.")
        modes[mode.id] = value
    return content, command, modes


async def edit_message(request: Request) -> Response:
    """The user edited one of their messages: the chat goes on from it, with the new text."""
    session = await chat_for_input(request)
    settings = session.settings
    if session.read_only or not settings.edit:
        return problem(request, 409, "Messages in this chat cannot be edited.")
    form = await read_form(request)
    content = form.get("content")
    await form.close()
    if not isinstance(content, str) or not content.strip():
        return problem(request, 400, "Type a message before sending.")
    if len(content) > settings.max_message_chars:
        limit = f"{settings.max_message_chars:,}"
        return problem(request, 413, say("notice.edit_too_long", limit=limit))
    try:
        await session.edit(request.path_params["message_id"], content)
    except LookupError as exc:
        return problem(request, 404, str(exc))
    await settle_without_js(request, session)
    return after_post(request, session)


async def regenerate(request: Request) -> Response:
    """Answer the user's message before this answer again."""
    session = await chat_for_input(request)
    if session.read_only or not session.settings.edit:
        return problem(request, 409, "Answers in this chat cannot be regenerated.")
    try:
        await session.regenerate(request.path_params["message_id"])
    except LookupError as exc:
        return problem(request, 404, str(exc))
    except ValueError as exc:
        return problem(request, 409, str(exc))
    await settle_without_js(request, session)
    return after_post(request, session)


async def stop(request: Request) -> Response:
    """Stop the running callback; what it already showed stays."""
    session = await chat_or_404(request)
    await session.stop()
    return after_post(request, session)


NO_README = "This app has no readme."


async def readme(request: Request) -> Response:
    """The app's readme (``lightchat.md``): a dialog for htmx, a page without JavaScript."""
    renderer = services(request).renderer
    html = renderer.readme_html()
    if html is None:
        raise HTTPException(404, NO_README)
    chat = request.query_params.get("chat", "")
    modal = is_htmx(request)
    page = renderer.page(
        "_readme.html" if modal else "readme.html",
        readme=html,
        modal=modal,
        base=base(request),
        back_url=chat_url(request, chat) if chat else f"{base(request)}/",
    )
    return HTMLResponse(page, headers=VARY)


async def health(request: Request) -> Response:
    """Liveness: the process answers."""
    return PlainTextResponse("ok")


READY_TIMEOUT_S = 3.0
"""How long the readiness check waits for the database and the bus to answer."""


async def ready(request: Request) -> Response:
    """Readiness: 200 when this worker can take chats (the history's database and the bus
    answer), else 503 with the reason in plain words, as while it shuts down.

    A load balancer or orchestrator sends traffic only to ready workers; ``/-/health``
    (liveness) only says that the process answers. The answer names the worker's process
    id (to tell workers apart behind one address) and never a host, user or secret.
    """
    reason = await _not_ready(services(request))
    headers = {"Cache-Control": "no-store"}
    if reason:
        return PlainTextResponse(
            f"not ready: {reason}\n", status_code=503, headers={**headers, "Retry-After": "5"}
        )
    return PlainTextResponse(f"ready: worker {os.getpid()}\n", headers=headers)


async def _not_ready(found: Services) -> str:
    """Why this worker is not ready ("" when it is)."""
    if found.chats.draining:
        return "this worker is shutting down"
    if found.settings.history:
        if found.history is None:
            return "the app is starting"
        try:
            await asyncio.wait_for(found.history.ping(), READY_TIMEOUT_S)
        except TimeoutError:
            return "the history's database does not answer"
        except ConnectionError as exc:
            return str(exc)
    try:
        answered = await asyncio.wait_for(found.bus.ping(), READY_TIMEOUT_S)
    # A bus over the network may raise its driver's errors rather than answer False; the
    # details stay out of the answer (they may name hosts).
    except Exception:
        answered = False
    if not answered:
        return "the event bus (Redis) does not answer"
    return ""


async def not_found(request: Request, exc: Exception) -> Response:
    """The 404 (and other HTTP errors) as a page, or as a notice for HTMX."""
    assert isinstance(exc, HTTPException)
    if request.url.path.endswith("/events"):
        detail = services(request).renderer.translations.notice(exc.detail)
        return PlainTextResponse(detail, status_code=exc.status_code)
    response = problem(request, exc.status_code, exc.detail)
    response.headers.update(exc.headers or {})  # e.g. a 503's Retry-After
    return response


def routes() -> list[BaseRoute]:
    """Every URL lightchat answers."""
    chat = "/chat/{chat_id:str}"
    return [
        Route("/", new_chat, methods=["GET"], name="new_chat"),
        Route("/embed", embed_new, methods=["GET"], name="embed"),
        Route("/embed/{chat_id:str}", embed_chat, methods=["GET"], name="embed_chat"),
        Route(chat, chat_page, methods=["GET"], name="chat"),
        Route(f"{chat}/events", chat_events, methods=["GET"], name="events"),
        Route(f"{chat}/messages", post_message, methods=["POST"], name="messages"),
        Route(f"{chat}/stop", stop, methods=["POST"], name="stop"),
        Route(f"{chat}/window-message", window_message, methods=["POST"], name="window_message"),
        Route(f"{chat}/functions/{{call_id:str}}", function_result, methods=["POST"]),
        Route(f"{chat}/copilot", reopen_chat, methods=["GET"], name="copilot_chat"),
        Route(f"{chat}/settings", settings_form, methods=["GET"], name="settings_form"),
        Route(f"{chat}/settings", save_settings, methods=["POST"], name="settings"),
        Route(f"{chat}/settings/edit", edit_settings, methods=["POST"], name="settings_edit"),
        Route(f"{chat}/audio", start_recording, methods=["POST"], name="audio"),
        Route(f"{chat}/audio/{{recording:str}}/chunks/{{seq:str}}", audio_chunk, methods=["POST"]),
        Route(f"{chat}/audio/{{recording:str}}/end", end_recording, methods=["POST"]),
        Route(f"{chat}/mcp", mcp_dialog, methods=["GET"], name="mcp"),
        Route(f"{chat}/mcp", mcp_connect, methods=["POST"], name="mcp_connect"),
        Route(f"{chat}/mcp/disconnect", mcp_disconnect, methods=["POST"], name="mcp_disconnect"),
        Route(f"{chat}/messages/{{message_id:str}}/favorite", toggle, methods=["POST"]),
        Route(f"{chat}/favorites", favorites, methods=["GET"], name="favorites"),
        Route(f"{chat}/favorites/{{message_id:str}}/remove", remove, methods=["POST"]),
        Route(f"{chat}/messages/{{message_id:str}}/edit", edit_message, methods=["POST"]),
        Route(f"{chat}/messages/{{message_id:str}}/regenerate", regenerate, methods=["POST"]),
        Route(f"{chat}/actions/{{action_id:str}}", click, methods=["POST"], name="action"),
        Route(f"{chat}/asks/{{message_id:str}}/files", answer_files, methods=["POST"]),
        Route(f"{chat}/elements/{{element_id:str}}", element_file, methods=["GET"]),
        Route(f"{chat}/elements/{{element_id:str}}/view", element_view, methods=["GET"]),
        Route(f"{chat}/elements/{{element_id:str}}/actions", element_action, methods=["POST"]),
        Route(f"{chat}/elements/{{element_id:str}}/jsx", element_frame, methods=["GET"]),
        Route(f"{chat}/elements/{{element_id:str}}/props", element_props, methods=["POST"]),
        Route(f"{chat}/elements/{{element_id:str}}/delete", element_delete, methods=["POST"]),
        Route(f"{chat}/elements/{{element_id:str}}/message", element_message, methods=["POST"]),
        Route(f"{chat}/elements/{{element_id:str}}/submit", element_submit, methods=["POST"]),
        Route(f"{chat}/elements/{{element_id:str}}/cancel", element_cancel, methods=["POST"]),
        Route("/env", env_form, methods=["GET"], name="env"),
        Route("/env", save_env, methods=["POST"]),
        Route("/history", history_page, methods=["GET"], name="history"),
        Route(f"{chat}/rename", rename_form, methods=["GET"], name="rename_form"),
        Route(f"{chat}/rename", rename, methods=["POST"], name="rename"),
        Route(f"{chat}/delete", delete_form, methods=["GET"], name="delete_form"),
        Route(f"{chat}/delete", delete, methods=["POST"], name="delete"),
        Route(f"{chat}/feedback/{{message_id:str}}", feedback, methods=["POST"], name="feedback"),
        Route(f"{chat}/export.md", export_markdown, methods=["GET"], name="export_md"),
        Route(f"{chat}/export.json", export_json, methods=["GET"], name="export_json"),
        Route(f"{chat}/debug", debug_page, methods=["GET"], name="debug"),
        Route(f"{chat}/debug/log.jsonl", debug_log, methods=["GET"], name="debug_log"),
        Route(f"{chat}/debug/replay", debug_replay, methods=["GET"], name="debug_replay"),
        Route(f"{chat}/share", sharing_form, methods=["GET"], name="sharing"),
        Route(f"{chat}/share", share, methods=["POST"], name="share"),
        Route(f"{chat}/unshare", unshare, methods=["POST"], name="unshare"),
        Route("/share/{thread_id:str}", shared_page, methods=["GET"], name="shared"),
        Route("/share/{thread_id:str}/elements/{element_id:str}", shared_element_file),
        Route("/share/{thread_id:str}/elements/{element_id:str}/view", shared_element_view),
        Route("/share/{thread_id:str}/elements/{element_id:str}/jsx", shared_element_frame),
        Route("/analytics", analytics_page, methods=["GET"], name="analytics"),
        Route("/analytics/{name:str}.csv", analytics_csv, methods=["GET"], name="analytics_csv"),
        Route("/analytics/threads/{thread_id:str}", review_thread, methods=["GET"]),
        Route("/analytics/threads/{thread_id:str}/elements/{element_id:str}", review_element_file),
        Route(
            "/analytics/threads/{thread_id:str}/elements/{element_id:str}/view",
            review_element_view,
        ),
        Route("/login", login_form, methods=["GET"], name="login"),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"], name="logout"),
        Route("/auth/jwt", token_page, methods=["GET"], name="token_sign_in"),
        Route("/auth/jwt", token_sign_in, methods=["POST"]),
        Route("/auth/oauth/{provider:str}", oauth_start, methods=["GET"], name="oauth"),
        Route("/auth/oauth/{provider:str}/callback", oauth_finish, methods=["GET"]),
        Route("/readme", readme, methods=["GET"], name="readme"),
        Route("/new-chat", confirm_new_chat, methods=["GET"], name="confirm_new_chat"),
        Route("/-/health", health, methods=["GET"], name="health"),
        Route("/-/ready", ready, methods=["GET"], name="ready"),
        Route("/-/theme.css", theme_css, methods=["GET"], name="theme_css"),
        Route("/-/theme", set_theme, methods=["POST"], name="theme"),
        Route("/public/{path:path}", public_file, methods=["GET", "HEAD"], name="public"),
        Route("/-/copilot.js", copilot_script, methods=["GET"], name="copilot"),
        Route("/copilot/index.js", copilot_script, methods=["GET"]),  # Chainlit's address
        Route("/-/elements/{name:str}.js", element_script, methods=["GET"]),
        # Before the static files: a vendored file may be kept compressed (see vendor_file).
        Route("/-/static/vendor/{package:str}/{file:str}", vendor_file, methods=["GET"]),
        Mount("/-/static", STATIC, name="static"),
        # plotly.js, for the frames of Plotly figures (see plot_page).
        Mount("/-/plotly", plotly_script, name="plotly"),
    ]
