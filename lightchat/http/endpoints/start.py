"""How a chat starts and how it is set up: chat profiles, starters, and chat settings.

Profiles and starters come from the app's ``@set_chat_profiles``, ``@set_starters`` and
``@set_starter_categories``, called when a page needs them (with the user and the browser's
language). A new chat gets the profile named by ``/?profile=NAME``, else the default one;
an unknown name is a 400. An empty chat shows the profile's description and the starters,
each a plain form that posts its message to the chat like the composer does.

The settings form belongs to the chat session (``ChatSettings.send()`` puts it there). Its
page (``/chat/ID/settings``) is the dialog for htmx and a page of its own without
JavaScript; a post is checked against every input on the server (a bad value is a 400 that
names the input, and changes nothing), then ``on_settings_update`` runs in the chat's turn.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from lightchat.api.starters import ChatProfile, Starter, StarterCategory, checked
from lightchat.api.widgets import MAX_TEXT_CHARS, SettingError, parse_settings
from lightchat.chat.session import ChatSession
from lightchat.config.registry import Registry, invoke
from lightchat.domain.events import MessageData
from lightchat.domain.transcript import Transcript
from lightchat.http.locate import chat_for_input, chat_or_404, registered
from lightchat.http.web import (
    VARY,
    base,
    chat_url,
    escape,
    is_htmx,
    problem,
    read_form,
    services,
    signed_in,
)
from lightchat.ui.i18n import say
from lightchat.ui.render import hx_partial

logger = logging.getLogger("lightchat")

NO_SETTINGS = "This chat has no settings."


@dataclass(slots=True)
class StartView:
    """What an empty chat shows: the profile's description, starters and categories."""

    description: str = ""
    starters: list[Starter] = field(default_factory=list)
    categories: list[StarterCategory] = field(default_factory=list)


def language(request: Request) -> str | None:
    """The browser's preferred language (``"en-US"``), from ``Accept-Language``."""
    first = request.headers.get("accept-language", "").split(",")[0]
    tag = first.split(";")[0].strip()
    return tag if tag and tag != "*" and len(tag) <= 35 else None


async def _offer(
    registry: Registry, hook: str, user: Any, lang: str | None, kind: type, *more: Any
) -> Any:
    """What the app's ``hook`` offers (a list of ``kind``), or [] when it has no such hook
    or the hook fails. It gets the user, the language and ``more``, as many as it takes."""
    func = registry.callbacks.get(hook)
    if func is None:
        return []
    try:
        return checked(await invoke(func, user, lang, *more), kind, f"@{hook}")
    # A broken list of starters or profiles must not take the chat down with it: the error
    # goes to the server log with its traceback, and the chat goes on without the list.
    except Exception:
        logger.exception("Error in @%s", hook)
        return []


async def chat_profiles(registry: Registry, user: Any, lang: str | None) -> list[ChatProfile]:
    """The app's chat profiles for this user (none without ``@set_chat_profiles``)."""
    found: list[ChatProfile] = await _offer(registry, "set_chat_profiles", user, lang, ChatProfile)
    return found


def default_profile(profiles: list[ChatProfile]) -> ChatProfile | None:
    """The profile a new chat gets when none is chosen: the default one, else the first."""
    return next((p for p in profiles if p.default), profiles[0] if profiles else None)


async def chosen_profile(request: Request) -> ChatProfile | None:
    """The profile a new chat starts with: ``?profile=``, else the default.

    Raises a 400 for a name the app does not offer.
    """
    registry = services(request).chats.registry
    wanted = request.query_params.get("profile")
    if wanted is None and "set_chat_profiles" not in registry.callbacks:
        return None
    profiles = await chat_profiles(registry, signed_in(request), language(request))
    if wanted is None:
        return default_profile(profiles)
    for profile in profiles:
        if profile.name == wanted:
            return profile
    names = ", ".join(f"“{p.name}”" for p in profiles[:20]) or "none"
    raise HTTPException(400, say("notice.no_profile", name=wanted[:100], names=names))


async def start_chat(
    request: Request, owner: str, env: dict[str, str], client_type: str = "webapp"
) -> ChatSession:
    """A new chat for ``owner``: the chosen profile (see ``chosen_profile``), the signed-in
    user, the keys they gave (``env``, for ``user_session.get("env")``) and where it is
    shown (``client_type``); with several workers it is noted as running on this one. Its
    ``on_chat_start`` begins on the next turn of the loop, with all of that in place, the
    profile's ``config_overrides`` too (``session.settings``)."""
    found = services(request)
    profile = await chosen_profile(request)
    name = profile.name if profile is not None else None
    session = found.chats.create(owner, profile=name, user=signed_in(request))
    if profile is not None:
        session.settings = profile.settings_for(found.settings)
    session.data["env"] = env
    session.client_type = client_type
    session.languages = request.headers.get("accept-language", "")[:1000]
    session.environ = {
        "HTTP_" + name.upper().replace("-", "_"): value
        for name, value in request.headers.items()
        if name != "cookie"  # the browser's own secrets stay with the browser
    }
    await registered(request, session)
    return session


async def start_context(
    request: Request, session: ChatSession, transcript: Transcript
) -> dict[str, Any]:
    """What the chat page shows of profiles, starters and settings."""
    registry = session.registry
    lang = language(request)
    profiles = await chat_profiles(registry, session.user, lang)
    current = session.data.get("chat_profile")
    profile = next((p for p in profiles if p.name == current), None)
    if profile is not None:
        # A chat reopened from history (or taken over) gets its profile's settings here.
        session.settings = profile.settings_for(services(request).settings)
    start: StartView | None = None
    empty = not any(
        isinstance(item, MessageData) and item.type == "user_message"
        for item in transcript.items.values()
    )
    if empty:
        start = StartView()
        if not session.read_only:
            if profile is not None and profile.starters is not None:
                start.starters = list(profile.starters)
            else:
                start.starters = await _offer(registry, "set_starters", session.user, lang, Starter)
            start.categories = await _offer(
                registry, "set_starter_categories", session.user, lang, StarterCategory, current
            )
            start.description = profile.markdown_description if profile else ""
    return {
        "chat_profiles": profiles,
        "chat_profile": current,
        "start": start,
        "has_settings": bool(session.settings_widgets),
    }


async def confirm_new_chat(request: Request) -> Response:
    """ "Start a new chat?" (``Settings.confirm_new_chat``): the dialog for htmx, a page
    without JavaScript. "Confirm" opens ``/`` with the same profile and client (which
    starts the chat), "Cancel" goes back to the chat named by ``?chat=``."""
    kept = {key: request.query_params.get(key, "") for key in ("profile", "client")}
    query = urlencode({key: value for key, value in kept.items() if value}, quote_via=quote)
    chat = request.query_params.get("chat", "")
    modal = is_htmx(request)
    html = services(request).renderer.page(
        "_confirm_new_chat.html" if modal else "confirm_new_chat.html",
        modal=modal,
        base=base(request),
        start_url=f"{base(request)}/{'?' + query if query else ''}",
        back_url=chat_url(request, chat) if chat else f"{base(request)}/",
    )
    return HTMLResponse(html, headers={**VARY, "Cache-Control": "no-store"})


# -- chat settings --------------------------------------------------------------------------


def _settings_page(
    request: Request, session: ChatSession, *, error: str = "", status: int = 200
) -> Response:
    """The settings form as it stands: the dialog for htmx, a page without JavaScript."""
    current = session.data.get("chat_settings") or {}
    widgets = session.settings_widgets
    context = {
        "widgets": widgets,
        "values": {w.id: current.get(w.id, w.initial) for w in widgets},
        "chat_url": chat_url(request, session.id),
        "base": base(request),
        "error": error,
        "modal": is_htmx(request),
        "max_setting_chars": MAX_TEXT_CHARS,
        "live": "on_settings_edit" in session.registry.callbacks,
    }
    name = "_settings.html" if is_htmx(request) else "settings.html"
    html = services(request).renderer.page(name, **context)
    return HTMLResponse(html, status_code=status, headers={**VARY, "Cache-Control": "no-store"})


async def settings_form(request: Request) -> Response:
    """The chat's settings form."""
    session = await chat_or_404(request)
    if not session.settings_widgets:
        raise HTTPException(404, NO_SETTINGS)
    return _settings_page(request, session)


async def _posted_settings(request: Request, session: ChatSession) -> dict[str, Any] | Response:
    """The settings a form posted, checked against every input; or the answer that says
    what is wrong (a 409 for a read-only chat, a 400 naming the input)."""
    if session.read_only:
        return problem(request, 409, "This past chat is read-only.")
    widgets = session.settings_widgets
    if not widgets:
        raise HTTPException(404, NO_SETTINGS)
    form = await read_form(request)
    posted: dict[str, list[str]] = {}
    try:
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                return _refused(request, session, "Settings take text, not files.")
            posted.setdefault(key, []).append(value)
    finally:
        await form.close()
    current = dict(session.data.get("chat_settings") or {})
    try:
        return parse_settings(widgets, posted, current)
    except SettingError as exc:
        return _refused(request, session, str(exc))


async def save_settings(request: Request) -> Response:
    """New settings: checked against every input, kept, then ``on_settings_update`` runs."""
    session = await chat_for_input(request)
    values = await _posted_settings(request, session)
    if isinstance(values, Response):
        return values
    done = session.update_settings(values)
    if is_htmx(request):
        # The dialog goes away; what on_settings_update shows comes through the stream.
        return HTMLResponse(hx_partial("lc-dialog", "innerHTML"), headers=VARY)
    # No JavaScript: nothing can stream, so answer with the chat once it has settled.
    with contextlib.suppress(TimeoutError):
        wait = services(request).settings.form_wait_s
        await asyncio.wait_for(asyncio.shield(done), wait)
        await asyncio.wait_for(asyncio.shield(session.settled()), wait)
    return RedirectResponse(chat_url(request, session.id), status_code=303, headers=VARY)


async def edit_settings(request: Request) -> Response:
    """The settings form as the user is editing it (htmx posts it on each change, when the
    app has ``@on_settings_edit``): checked, then passed to ``on_settings_edit``; nothing is
    kept until the user confirms."""
    session = await chat_for_input(request)
    values = await _posted_settings(request, session)
    if isinstance(values, Response):
        return values
    session.edit_settings(values)
    return Response(status_code=204, headers=VARY)


def _refused(request: Request, session: ChatSession, detail: str) -> Response:
    """A 400 that says which setting is wrong: in the dialog for htmx, on the settings
    page without JavaScript."""
    if is_htmx(request):
        notice = f'<p role="alert">{escape(detail)}</p>'
        body = hx_partial("lc-settings-notice", "innerHTML", notice)
        return HTMLResponse(body, status_code=400, headers=VARY)
    return _settings_page(request, session, error=detail, status=400)
