"""Sharing a chat (``features.allow_thread_sharing``): its owner shares it and stops sharing
it; anyone the app allows reads it at its link, ``/share/<thread id>``, as a read-only page.

Sharing is on when the setting is, the app keeps history, people sign in (Chainlit shares
only signed-in users' threads: a browser's chats have nobody to share them with) and the
app has ``@on_shared_thread_view``, which decides who may read a shared chat (Chainlit's
rule: without it, nothing is shared). Otherwise every URL here is a 404.

- ``GET /chat/<id>/share``: what the chat's sharing is (a dialog for htmx, a page without
  JavaScript): its link, with "Copy link" and "Stop sharing" while it is shared;
- ``POST /chat/<id>/share`` and ``/unshare``: share it (its link, the thread's id, stays
  the same however often it is shared) or stop sharing it; the owner's only, with the form
  token and same-origin checks every write has (middleware);
- ``GET /share/<id>``: the shared page (see ``lightchat.chat.sharing`` for who may read
  it); a chat not shared, unknown, no longer shared or refused is one and the same 404.
  The page asks search engines not to index it and names nobody but the app;
- ``GET /share/<id>/elements/<element id>`` (and ``/view``, ``/jsx``): the files, side
  elements and JSX elements' frames of a chat shown there, to whom may read the chat
  only. The chat's own element URLs stay its owner's.

These URLs are not under ``/chat/``, so with several workers any worker answers them from
the database (nothing is forwarded to the chat's worker): a share reads what the chat's
worker wrote, which is at most a tenth of a second behind.
"""

from __future__ import annotations

from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from lightchat.auth.sessions import identifier_of
from lightchat.chat.history import History
from lightchat.chat.sharing import SharedChat, open_shared
from lightchat.chat.threads import ThreadLink
from lightchat.domain.events import MessageData, MessageEvent, StepEvent
from lightchat.domain.transcript import Transcript
from lightchat.http.endpoints.custom import frame_response
from lightchat.http.endpoints.elements import element_response
from lightchat.http.web import (
    NOT_FOUND,
    VARY,
    Services,
    base,
    browser,
    chat_url,
    go_to,
    is_htmx,
    public_url,
    services,
    signed_in,
)

NOT_SHARED = "This shared chat does not exist, or it is not shared with you."
"""The one 404 of a shared chat's link that cannot be read, whatever the reason."""

NOTHING_TO_SHARE = "Nothing to share yet: this chat has no messages."

CALLBACK = "on_shared_thread_view"

_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    # A shared chat is for the people its link is given to, not for search engines.
    "X-Robots-Tag": "noindex, nofollow",
}


def sharing_offered(found: Services) -> bool:
    """True when the app lets its users share chats (see the module docstring); the chat
    page then shows "Share". A data layer of the app's own that cannot share (no
    ``share_thread``) turns it off once it is open."""
    history = found.history
    return (
        found.settings.allow_thread_sharing
        and found.settings.history
        and (found.auth is not None or found.host_auth)
        and CALLBACK in found.chats.registry.callbacks
        and (history is None or not history.ready or history.can_share)
    )


def _history(request: Request) -> History:
    """The history, when sharing is on; else the 404 of a URL that is not there."""
    found = services(request)
    if not sharing_offered(found) or found.history is None:
        raise HTTPException(404, NOT_FOUND)
    return found.history


def share_path(thread_id: str) -> str:
    """The path of a chat's shared page inside the app: its stable link."""
    return f"/share/{quote(thread_id, safe='')}"


# -- the owner's side -----------------------------------------------------------------------


async def _owned(request: Request) -> tuple[History, str, str]:
    """The history, the owner asking, and the id of the chat in the URL."""
    history = _history(request)
    owner = browser(request)
    if owner is None:
        raise HTTPException(404, NOT_FOUND)
    return history, owner, request.path_params["chat_id"]


def _not_owned(request: Request, owner: str, thread_id: str) -> HTTPException:
    """The 404 of a chat that is not the owner's thread: nothing to share yet for a chat
    of theirs that has said nothing, the usual 404 otherwise."""
    if services(request).chats.get(thread_id, owner) is not None:
        return HTTPException(404, NOTHING_TO_SHARE)
    return HTTPException(404, NOT_FOUND)


def _sharing_view(request: Request, link: ThreadLink, *, stopped: bool = False) -> Response:
    """What the chat's sharing is: a dialog for htmx, a page without JavaScript."""
    modal = is_htmx(request)
    html = services(request).renderer.page(
        "_share.html" if modal else "share.html",
        base=base(request),
        link=link,
        modal=modal,
        stopped=stopped,
        share_link=public_url(request, share_path(link.id)),
        chat_url=chat_url(request, link.id),
    )
    return HTMLResponse(html, headers={**VARY, "Cache-Control": "no-store"})


async def sharing_form(request: Request) -> Response:
    """The chat's sharing: its link while it is shared, else a button to share it."""
    history, owner, thread_id = await _owned(request)
    link = await history.thread(thread_id, owner)
    if link is None:
        raise _not_owned(request, owner, thread_id)
    return _sharing_view(request, link)


async def share(request: Request) -> Response:
    """Share the chat: its dialog with the link for htmx, its sharing page without."""
    history, owner, thread_id = await _owned(request)
    link = await history.share(thread_id, owner, shared=True)
    if link is None:
        raise _not_owned(request, owner, thread_id)
    if not is_htmx(request):
        return go_to(request, f"{chat_url(request, thread_id)}/share")
    return _sharing_view(request, link)


async def unshare(request: Request) -> Response:
    """Stop sharing the chat: its link shows the 404 to everybody else from now on."""
    history, owner, thread_id = await _owned(request)
    link = await history.share(thread_id, owner, shared=False)
    if link is None:
        raise _not_owned(request, owner, thread_id)
    if not is_htmx(request):
        return go_to(request, f"{chat_url(request, thread_id)}/share")
    return _sharing_view(request, link, stopped=True)


# -- the reader's side ----------------------------------------------------------------------


async def _shared(request: Request) -> SharedChat:
    """The shared chat in the URL as the one asking may read it; the one 404 if not."""
    history = _history(request)
    found = services(request)
    viewer = browser(request)
    if viewer is None:
        raise HTTPException(404, NOT_SHARED)
    callback = found.chats.registry.callbacks.get(CALLBACK)
    chat = await open_shared(
        history,
        callback,
        request.path_params["thread_id"],
        viewer,
        signed_in(request),
        identifier_of,
    )
    if chat is None:
        raise HTTPException(404, NOT_SHARED)
    return chat


def _transcript(chat: SharedChat) -> Transcript:
    """The shared chat's messages and steps, for the templates that show a log."""
    transcript = Transcript()
    for item in chat.items:
        transcript.apply_event(
            MessageEvent(item) if isinstance(item, MessageData) else StepEvent(item)
        )
    return transcript


async def shared_page(request: Request) -> Response:
    """The shared chat, read-only: its log, without composer, feedback, edits or actions."""
    chat = await _shared(request)
    url = base(request) + share_path(chat.id)
    html = services(request).renderer.page(
        "shared.html",
        chat=chat,
        transcript=_transcript(chat),
        base=base(request),
        chat_url=url,
        owner_url=chat_url(request, chat.id) if chat.by_owner else None,
        read_only=True,
        feedback_on=False,
        user=signed_in(request),
    )
    return HTMLResponse(html, headers=_PAGE_HEADERS)


async def shared_element_file(request: Request) -> Response:
    """The bytes of an element of a shared chat, for whom may read the chat."""
    chat = await _shared(request)
    element = chat.element(request.path_params["element_id"])
    return await element_response(request, element)


async def shared_element_frame(request: Request) -> Response:
    """The frame's page of a JSX custom element of a shared chat, for whom may read the
    chat. What the element asks of the chat (new props, actions, messages) has nowhere to
    go from a read-only page: it is drawn as it was last saved."""
    chat = await _shared(request)
    return await frame_response(request, chat.element(request.path_params["element_id"]))


async def shared_element_view(request: Request) -> Response:
    """A side or page element of a shared chat: the side panel's content for htmx, a page
    of its own without JavaScript."""
    chat = await _shared(request)
    element = chat.element(request.path_params["element_id"])
    if element is None:
        raise HTTPException(404, "This element does not exist, or it is not part of this chat.")
    renderer = services(request).renderer
    url = base(request) + share_path(chat.id)
    if is_htmx(request):
        return HTMLResponse(renderer.side_panel(element, url), headers={**VARY, **_PAGE_HEADERS})
    html = renderer.page(
        "element.html", element=element, holder=None, base=base(request), chat_url=url
    )
    return HTMLResponse(html, headers={**VARY, **_PAGE_HEADERS})
