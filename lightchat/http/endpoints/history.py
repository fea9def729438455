"""History endpoints: the sidebar's search, rename and delete, feedback, and export.

Every one checks, in the store, that the thread belongs to the browser asking: someone
else's thread (or message) and a missing one get the same 404. None of them reopens a
chat (``on_chat_resume`` runs only when a chat is opened).

Each works without JavaScript, as links and forms answered with pages and 303s back to
where the user was (``?chat=`` names the chat page the request came from); htmx gets the
fragment to swap instead (the thread's list item, the thread list, the feedback block),
or an ``HX-Redirect`` when the page itself must go (its chat was deleted).

The sidebar of an open chat page also follows changes made elsewhere (another tab, another
worker, the app naming a chat): ``LiveThreads`` sends the list again on the page's own
event stream whenever the bus says its owner's list changed (see "Lists of chats" in
``lightchat.bus``).
"""

from __future__ import annotations

import logging
import re
import time
from typing import Any, Literal

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from lightchat.bus import ListWatch
from lightchat.chat.export import content_disposition, thread_json_text, thread_markdown
from lightchat.chat.history import History
from lightchat.chat.threads import (
    MAX_COMMENT_CHARS,
    MAX_SEARCH_CHARS,
    ThreadLink,
    clean_name,
    recency_groups,
)
from lightchat.config.registry import invoke
from lightchat.domain.types import Feedback
from lightchat.http.web import (
    NOT_FOUND,
    VARY,
    base,
    browser,
    chat_url,
    go_to,
    is_htmx,
    problem,
    read_form,
    services,
    signed_in,
)
from lightchat.ui.i18n import say
from lightchat.ui.render import Renderer, hx_partial
from lightchat.ui.stream_view import Chunk

logger = logging.getLogger("lightchat")

_CHAT_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def _history(request: Request) -> History:
    history = services(request).history
    if history is None:
        raise HTTPException(404, NOT_FOUND)
    return history


def _owner(request: Request) -> str:
    owner = browser(request)
    if owner is None:
        raise HTTPException(404, NOT_FOUND)
    return owner


async def _thread(request: Request) -> tuple[History, str, ThreadLink]:
    """The history, the owner, and the thread in the URL; 404 unless it is the owner's."""
    history = _history(request)
    owner = _owner(request)
    link = await history.thread(request.path_params["chat_id"], owner)
    if link is None:
        raise HTTPException(404, NOT_FOUND)
    return history, owner, link


def _current(request: Request, form: FormData | None = None) -> str | None:
    """The chat whose page the request came from (``chat=``), if it looks like a chat id."""
    raw = form.get("chat") if form is not None else request.query_params.get("chat")
    return raw if isinstance(raw, str) and _CHAT_ID.fullmatch(raw) else None


def _back_url(request: Request, current: str | None) -> str:
    """Where to go back to: the chat the user came from, or the history page."""
    return chat_url(request, current) if current else f"{base(request)}/history"


def _html(html: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(html, status_code=status, headers={**VARY, "Cache-Control": "no-store"})


async def sidebar(
    request: Request,
    owner: str | None,
    current: str | None,
    search: str = "",
    *,
    wait: bool = True,
) -> dict[str, Any]:
    """What ``_history.html`` needs: the owner's threads (matching ``search``) by recency.

    With ``wait=False`` a page does not wait for a store still opening (the first second
    after start): the list then loads itself once the page is shown.
    """
    history = services(request).history
    loading = history is not None and not history.ready and not wait
    links = await history.threads(owner, search=search) if history and owner and not loading else []
    return {
        "history_loading": loading,
        "thread_groups": recency_groups(links),
        "q": search,
        "current_chat": current,
        "back_url": _back_url(request, current),
        # When the list was made (ms): the page's stream sends it again if it changed since.
        "threads_at": int(time.time() * 1000),
    }


class LiveThreads:
    """The history sidebar of a chat page, kept as it is by the page's event stream.

    The page asks for it with ``?threads=<when its list was made, ms>`` on its stream. The
    stream watches its owner's lists on the bus (``open``; ``close`` when it ends); when a
    change was announced (or the page's list is older than the last change this worker
    heard of, or the stream resumes after a break, when it may have missed one),
    ``chunks`` gives the list as it is now, as an out-of-band swap of ``#lc-threads``, with
    the chat marked current. Only the stream's owner's chats are read, ever.
    """

    def __init__(self, request: Request, owner: str, chat_id: str, renderer: Renderer) -> None:
        self._request = request
        self._owner = owner
        self._chat = chat_id
        self._renderer = renderer
        raw = request.query_params.get("threads", "")
        self._since = int(raw) / 1000 if raw.isdigit() and len(raw) < 16 else None
        self._resumed = "last-event-id" in request.headers
        self.watch: ListWatch | None = None

    @classmethod
    def of(
        cls, request: Request, owner: str, chat_id: str, renderer: Renderer
    ) -> LiveThreads | None:
        """The live sidebar for a stream whose page shows one (``?threads=``), with history."""
        if "threads" not in request.query_params or services(request).history is None:
            return None
        return cls(request, owner, chat_id, renderer)

    def open(self) -> None:
        """Start listening (when the stream starts)."""
        bus = services(self._request).bus
        self.watch = bus.watch_lists(self._owner, self._chat, self._since)
        if self._resumed:
            self.watch.changed = True

    def close(self) -> None:
        """Stop listening (the stream ended)."""
        if self.watch is not None:
            services(self._request).bus.unwatch_lists(self.watch)
            self.watch = None

    @property
    def due(self) -> bool:
        """True when the list must be sent again."""
        return self.watch is not None and self.watch.changed

    async def chunks(self, seq: int) -> list[Chunk]:
        """The list as it is now, if it changed (``seq``: the stream's position)."""
        if self.watch is None or not self.watch.changed:
            return []
        self.watch.changed = False
        context = await sidebar(self._request, self._owner, self._chat)
        html = self._renderer.page("_threads.html", base=base(self._request), live=True, **context)
        return [Chunk(hx_partial("lc-threads", "outerHTML", html), None, seq)]


async def history_page(request: Request) -> Response:
    """The threads, searched by ``?q=``: the list for htmx, a page without JavaScript."""
    _history(request)
    search = request.query_params.get("q", "").strip()
    if len(search) > MAX_SEARCH_CHARS:
        return problem(request, 400, say("notice.search_too_long", limit=MAX_SEARCH_CHARS))
    current = _current(request)
    context = await sidebar(request, browser(request), current, search)
    renderer = services(request).renderer
    template = "_threads.html" if is_htmx(request) else "history.html"
    return _html(renderer.page(template, base=base(request), user=signed_in(request), **context))


# -- rename ---------------------------------------------------------------------------------


def _rename_form(
    request: Request,
    link: ThreadLink,
    current: str | None,
    *,
    name: str | None = None,
    error: str | None = None,
) -> HTMLResponse:
    """The rename form: inline in the sidebar for htmx, a page without JavaScript."""
    template = "_rename.html" if is_htmx(request) else "rename.html"
    html = services(request).renderer.page(
        template,
        base=base(request),
        link=link,
        name_value=link.name if name is None else name,
        error=error,
        current_chat=current,
        back_url=_back_url(request, current),
    )
    return _html(html, 400 if error else 200)


async def rename_form(request: Request) -> Response:
    """The form that renames a thread."""
    _, _, link = await _thread(request)
    return _rename_form(request, link, _current(request))


async def rename(request: Request) -> Response:
    """Rename a thread: its list item for htmx, back to where the user was without."""
    history, owner, link = await _thread(request)
    form = await read_form(request)
    current = _current(request, form)
    raw = form.get("name")
    typed = raw if isinstance(raw, str) else ""
    try:
        name = clean_name(typed)
    except ValueError as exc:
        return _rename_form(request, link, current, name=typed, error=str(exc))
    renamed = await history.rename(link.id, owner, name)
    if renamed is None:  # deleted meanwhile
        raise HTTPException(404, NOT_FOUND)
    if not is_htmx(request):
        return go_to(request, _back_url(request, current))
    html = services(request).renderer.page(
        "_thread.html", base=base(request), link=renamed, current_chat=current
    )
    return _html(html)


# -- delete ---------------------------------------------------------------------------------


async def delete_form(request: Request) -> Response:
    """Ask before deleting: a dialog for htmx, a page without JavaScript."""
    _, _, link = await _thread(request)
    current = _current(request)
    html = services(request).renderer.page(
        "_confirm_delete.html" if is_htmx(request) else "confirm_delete.html",
        base=base(request),
        link=link,
        modal=is_htmx(request),
        current_chat=current,
        back_url=_back_url(request, current),
    )
    return _html(html)


async def delete(request: Request) -> Response:
    """Delete a thread and end its chat; a new chat if the user was in it."""
    history = _history(request)
    owner = _owner(request)
    thread_id = request.path_params["chat_id"]
    form = await read_form(request)
    current = _current(request, form)
    # Ended first, so that nothing the chat still does is written after the delete.
    ended = await services(request).chats.end(thread_id, owner)
    deleted = await history.delete(thread_id, owner)
    if not (deleted or ended):
        raise HTTPException(404, NOT_FOUND)
    if current == thread_id:
        return go_to(request, f"{base(request)}/")
    if not is_htmx(request):
        return go_to(request, _back_url(request, current))
    context = await sidebar(request, owner, current)
    html = services(request).renderer.page("_history_update.html", base=base(request), **context)
    return _html(html)


# -- feedback -------------------------------------------------------------------------------


def _verdict(form: FormData) -> int | None:
    raw = form.get("value")
    if raw is None:
        return None
    if raw not in ("0", "1"):
        raise HTTPException(400, "Feedback is 1 (helpful) or 0 (not helpful).")
    return int(raw)


async def feedback(request: Request) -> Response:
    """Press "Helpful"/"Not helpful" (again: take it back) or save a comment."""
    history = _history(request)
    owner = _owner(request)
    if not services(request).settings.feedback:
        raise HTTPException(404, "Feedback is turned off in this app.")
    thread_id = request.path_params["chat_id"]
    message_id = request.path_params["message_id"]
    form = await read_form(request)
    value = _verdict(form)
    raw = form.get("comment")
    comment = " ".join(raw.split()) if isinstance(raw, str) else None
    if value is None and comment is None:
        return problem(request, 400, "Choose Helpful or Not helpful.")
    if comment is not None and len(comment) > MAX_COMMENT_CHARS:
        return problem(
            request,
            400,
            say(
                "notice.comment_too_long",
                length=f"{len(comment):,}",
                limit=f"{MAX_COMMENT_CHARS:,}",
            ),
        )
    try:
        given = await history.give_feedback(
            thread_id, message_id, owner, value=value, comment=comment
        )
    except LookupError:
        raise HTTPException(404, "This message does not exist, or it is not yours.") from None
    except ValueError as exc:
        return problem(request, 400, str(exc))
    if given is not None:
        await _tell_app(request, thread_id, message_id, given.value, given.comment)
    url = chat_url(request, thread_id)
    if not is_htmx(request):
        return go_to(request, f"{url}#msg-{message_id}")
    html = services(request).renderer.page(
        "_feedback.html",
        message={"id": message_id},
        feedback={message_id: given} if given else {},
        chat_url=url,
    )
    return _html(html)


async def _tell_app(
    request: Request, thread_id: str, message_id: str, value: int, comment: str | None
) -> None:
    """Call ``@on_feedback`` with the saved feedback; its error is logged, not shown (the
    feedback is saved all the same)."""
    callback = services(request).chats.registry.callbacks.get("on_feedback")
    if callback is None:
        return
    verdict: Literal[0, 1] = 1 if value else 0
    given = Feedback(forId=message_id, value=verdict, threadId=thread_id, comment=comment)
    try:
        await invoke(callback, given)
    except Exception:  # the app's callback failed: the user's feedback is kept
        logger.exception("Error in @on_feedback")


# -- export ---------------------------------------------------------------------------------


async def _export(request: Request, extension: str) -> Response:
    history = _history(request)
    owner = _owner(request)
    chat = request.path_params["chat_id"]
    stored = await history.load(chat, owner)
    if stored is None:
        if services(request).chats.get(chat, owner) is not None:
            raise HTTPException(404, "Nothing to export yet: this chat has no messages.")
        raise HTTPException(404, NOT_FOUND)
    if extension == "md":
        body, media_type = thread_markdown(stored), "text/markdown; charset=utf-8"
    else:
        body, media_type = thread_json_text(stored), "application/json"
    name = stored.thread.name or "chat"
    headers = {
        "Content-Disposition": content_disposition(name, extension),
        "Cache-Control": "no-store",
    }
    return Response(body, media_type=media_type, headers=headers)


async def export_markdown(request: Request) -> Response:
    """The thread as a Markdown file."""
    return await _export(request, "md")


async def export_json(request: Request) -> Response:
    """The thread as a JSON file."""
    return await _export(request, "json")
