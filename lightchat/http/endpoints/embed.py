"""The chat as a fragment for a host app's own page: the message list and the composer.

A host page that embeds the chat (``lightchat.embed``, the ``chat()`` macro) holds an empty
container that loads ``{prefix}/embed`` with htmx. The fragment is rendered here, for the
request, like the chat page: it carries the browser's form token and the chat's stream, and
every ownership check of the chat page applies (``chat_or_404``). Loading it from the host
page, rather than rendering it in the host's templates, keeps the chat's state, its token
and its owner checks in one place, and needs no inline script or style, so it works under
the host page's own strict CSP.

- ``GET /embed`` starts a new chat (``?profile=`` as on ``/``) and answers its fragment;
- ``GET /embed/{chat_id}`` answers the fragment of a chat of the one asking (404 otherwise).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from lightchat.chat.session import ChatSession
from lightchat.domain.transcript import Transcript
from lightchat.http.endpoints.env import env_of
from lightchat.http.endpoints.start import start_chat, start_context
from lightchat.http.locate import chat_or_404
from lightchat.http.web import (
    VARY,
    base,
    browser,
    chat_renderer,
    chat_url,
    problem,
    services,
    signed_in,
)


async def embed_new(request: Request) -> Response:
    """Start a chat and answer its fragment."""
    found = services(request)
    owner = browser(request)
    if owner is None:
        return problem(request, 400, "This request names no browser; open the app's page.")
    env: dict[str, str] | None = {}
    if found.settings.user_env:
        env = env_of(request, owner)
    if env is None:
        # The app needs the user's keys first: the fragment links to the form.
        html = found.renderer.page("_embed_env.html", base=base(request))
        return HTMLResponse(html, headers={"Cache-Control": "no-store", **VARY})
    return await _fragment(request, await start_chat(request, owner, env))


async def embed_chat(request: Request) -> Response:
    """The fragment of a chat that belongs to the one asking."""
    return await _fragment(request, await chat_or_404(request))


async def _fragment(request: Request, session: ChatSession) -> Response:
    found = services(request)
    session.touch()
    transcript = Transcript.from_entries(await found.bus.read(session.id))
    given = {}
    history = found.history
    if history is not None and history.ready and found.settings.feedback:
        given = await history.feedback(session.thread_id, session.owner)
    context = {
        "transcript": transcript,
        "base": base(request),
        "chat_id": session.id,
        "chat_url": chat_url(request, session.id),
        "history": False,
        "read_only": session.read_only,
        "prompt": "",
        "feedback": given,
        "user": signed_in(request),
        **await start_context(request, session, transcript),
    }
    renderer = chat_renderer(request, session)  # after start_context: the profile's settings
    composer = renderer.block("chat.html", "composer", **context)
    html = renderer.page("_embed.html", composer=composer, **context)
    return HTMLResponse(html, headers={"Cache-Control": "no-store", **VARY})
