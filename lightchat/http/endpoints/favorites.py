"""Favourite messages (``features.favorites``): a signed-in user marks their own messages
with a star, and the composer's "Favorites" lists them to send one again.

- ``POST /chat/<id>/messages/<message id>/favorite`` (``favorite=1`` or ``0``): the star
  on one of the user's messages of this chat; htmx gets the star again, a plain form a 303
  back to the message.
- ``GET /chat/<id>/favorites``: the list, newest first (or what the app set with
  ``emitter.set_favorites``): a dialog for htmx, a page without JavaScript, where each
  entry is a form that sends it to the chat.
- ``POST /chat/<id>/favorites/<message id>/remove``: unmark one from the list (a message
  of any of the user's chats); htmx gets the list again, a plain form a 303 back to it.

Every one is a 404 unless the app keeps favourites (history, sign-in, and a data layer
that can), and checks that the chat and the message are the signed-in user's: someone
else's (or a missing one) gets the same 404. A change is also told to the chat it was
made from (``FavoriteEvent``), so its other pages show the star as it is now.
"""

from __future__ import annotations

import re

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from lightchat.chat.history import History
from lightchat.chat.session import ChatSession
from lightchat.domain.events import FavoriteData, FavoriteEvent
from lightchat.http.locate import chat_or_404
from lightchat.http.web import (
    VARY,
    base,
    browser,
    chat_renderer,
    chat_url,
    go_to,
    is_htmx,
    read_form,
    services,
    signed_in,
)

OFF = "Favorites are turned off in this app."
NOT_YOURS = "This message does not exist, or it is not yours."
BAD_VALUE = "Say favorite=1 to add the message to your favorites, or favorite=0 to remove it."

_MESSAGE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""A message id as lightchat makes them (and a little more); anything else is no message."""


async def _keeper(request: Request) -> tuple[History, str]:
    """The history and the signed-in user's key; 404 unless the app keeps favourites (it
    waits for a history still opening, in the first moments after start)."""
    found = services(request)
    history = found.history
    owner = browser(request)
    if not found.settings.favorites or history is None or owner is None:
        raise HTTPException(404, OFF)
    if signed_in(request) is None or not await history.wait_ready() or not history.can_favorite:
        raise HTTPException(404, OFF)
    return history, owner


async def _chat(request: Request) -> ChatSession:
    """The chat in the URL, if it is the user's and its settings keep favourites."""
    session = await chat_or_404(request)
    if not session.settings.favorites:  # a chat profile turned them off
        raise HTTPException(404, OFF)
    return session


def favorites_offered(request: Request, session: ChatSession) -> bool:
    """Whether a chat's page offers favourites: the stars on the user's messages and the
    composer's "Favorites" (the app keeps them, and the user is signed in). A history
    still opening is taken to keep them: the page does not wait for it."""
    history = services(request).history
    return (
        session.settings.favorites
        and services(request).settings.favorites
        and history is not None
        and (history.can_favorite or not history.ready)
        and history.failed is None
        and signed_in(request) is not None
    )


def _message_id(request: Request) -> str:
    message_id: str = request.path_params["message_id"]
    if not _MESSAGE_ID.fullmatch(message_id):
        raise HTTPException(404, NOT_YOURS)
    return message_id


def _wanted(form: FormData) -> bool:
    raw = form.get("favorite")
    if raw not in ("0", "1"):
        raise HTTPException(400, BAD_VALUE)
    return raw == "1"


def _html(html: str) -> HTMLResponse:
    return HTMLResponse(html, headers={**VARY, "Cache-Control": "no-store"})


async def toggle(request: Request) -> Response:
    """Mark one of the user's messages of this chat as a favourite, or unmark it."""
    history, owner = await _keeper(request)
    session = await _chat(request)
    message_id = _message_id(request)
    favorite = _wanted(await read_form(request))
    try:
        await history.mark_favorite(
            message_id, owner, favorite=favorite, thread_id=session.thread_id
        )
    except LookupError:
        raise HTTPException(404, NOT_YOURS) from None
    session.emit(FavoriteEvent(message_id, favorite))
    url = chat_url(request, session.id)
    if not is_htmx(request):
        return go_to(request, f"{url}#msg-{message_id}")
    html = chat_renderer(request, session).page(
        "_favorite.html", message={"id": message_id, "favorite": favorite}, chat_url=url
    )
    return _html(html)


async def _listed(history: History, owner: str, session: ChatSession) -> list[FavoriteData]:
    """What the chat's "Favorites" lists: what the app set, else the user's favourites."""
    shown = session.transcript.favorites
    return list(shown) if shown is not None else await history.favorites(owner)


async def favorites(request: Request) -> Response:
    """The user's favourite messages: a dialog for htmx, a page without JavaScript."""
    history, owner = await _keeper(request)
    session = await _chat(request)
    modal = is_htmx(request)
    url = chat_url(request, session.id)
    html = chat_renderer(request, session).page(
        "_favorites.html" if modal else "favorites.html",
        favorites=await _listed(history, owner, session),
        chat_url=url,
        modal=modal,
        base=base(request),
        back_url=url,
    )
    return _html(html)


async def remove(request: Request) -> Response:
    """Unmark a favourite from the list (a message of any of the user's chats)."""
    history, owner = await _keeper(request)
    session = await _chat(request)
    message_id = _message_id(request)
    try:
        thread_id = await history.mark_favorite(message_id, owner, favorite=False)
    except LookupError:
        raise HTTPException(404, NOT_YOURS) from None
    # This chat lists the user's own favourites again; the message's chat, if it is open
    # here, shows its star unpressed.
    session.emit(FavoriteEvent(message_id, False))
    elsewhere = services(request).chats.get(thread_id, owner)
    if elsewhere is not None and elsewhere is not session:
        elsewhere.emit(FavoriteEvent(message_id, False))
    url = chat_url(request, session.id)
    if not is_htmx(request):
        return go_to(request, f"{url}/favorites")
    html = chat_renderer(request, session).page(
        "_favorites_list.html",
        favorites=await _listed(history, owner, session),
        chat_url=url,
    )
    return _html(html)
