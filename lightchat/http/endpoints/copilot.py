"""The copilot widget's script, and window messages from the page that frames a chat.

The widget (``static/copilot.js``) is one ``<script>`` tag on another site's page: it adds a
button that opens the chat in an ``iframe`` (``/?client=copilot``). The chat page then talks
to its host page with ``postMessage``, checked both ways against the origins the app lets
frame it (``Settings.frame_ancestors``): what the app sends with ``send_window_message``
arrives on the chat's stream and ``lightchat.js`` posts it up; what the host posts down,
``lightchat.js`` sends here, and ``@on_window_message`` runs with it.

The chat can also call a function of the host page (``CopilotFunction``): the call goes up
the same way as a window message, and the page's result comes back down to the chat page,
which posts it here under the call's random id, for the callback waiting for it.

Those posts are ordinary writes of the chat page (same origin, form token, owner check): the
host page never calls the app itself, so the app needs no CORS for the widget.

The widget remembers the chat it showed (in the host page's ``sessionStorage``) and, after
the host page reloads or moves on, opens ``/chat/ID/copilot``: that chat again if this
browser still has it, else a new one. The id is only a chat to try; the checks are the
chat page's.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from lightchat.chat.session import CallClosedError
from lightchat.domain.events import WINDOW_MESSAGE_MAX_BYTES
from lightchat.http.locate import chat_or_404
from lightchat.http.web import (
    VARY,
    JSONField,
    base,
    browser,
    chat_url,
    json_field,
    problem,
    read_form,
    services,
)
from lightchat.ui.i18n import current_translations

SCRIPT = Path(__file__).parents[2] / "static" / "copilot.js"

TEXTS_SLOT = b"{} /* texts */"
"""Where the script's texts go, in the visitor's language (keys ``copilot.*``)."""

SCRIPT_MAX_AGE_S = 300
"""How long browsers keep the widget's script: its address has no version in it (host pages
write it once), so a new release reaches them within minutes, and the ETag makes the
check cheap."""


async def copilot_script(request: Request) -> Response:
    """The widget's script (``/copilot/index.js``, Chainlit's address, and ``/-/copilot.js``),
    with its texts in the visitor's language."""
    translations = current_translations()
    texts = {key: translations.t(f"copilot.{key}") for key in ("open", "close", "title")}
    body = SCRIPT.read_bytes().replace(TEXTS_SLOT, json.dumps(texts).encode(), 1)
    etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
    headers = {
        "Cache-Control": f"public, max-age={SCRIPT_MAX_AGE_S}",
        "ETag": etag,
        "Vary": "Accept-Language",
        # Loaded by other sites' pages, including ones that isolate themselves (COEP).
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


async def reopen_chat(request: Request) -> Response:
    """The chat the widget showed before its host page reloaded (``/chat/ID/copilot``):
    back to it if this browser still has it, else on to a new copilot chat.

    The id comes from the host page's storage, which anyone on that page can write, so
    it is only a chat to try: the owner check is the chat page's (an unknown chat and
    someone else's look the same), and a chat that has ended reopens from history as on
    the app's own page.
    """
    owner = browser(request)
    chat_id = request.path_params["chat_id"]
    running = None if owner is None else services(request).chats.get(chat_id, owner)
    try:
        session = running or await chat_or_404(request)
    except HTTPException as exc:
        if exc.status_code != 404:
            raise
        return RedirectResponse(f"{base(request)}/?client=copilot", 303, headers=VARY)
    if running is None:
        # Reopened just now: history keeps no client type, and it is shown in the panel.
        session.client_type = "copilot"
    return RedirectResponse(chat_url(request, session.id), 303, headers=VARY)


WINDOW_DATA = JSONField(
    "data",
    missing="A window message needs its data (JSON) in 'data'.",
    not_json="A window message's data must be JSON.",
    too_large=(
        f"This window message is larger than {WINDOW_MESSAGE_MAX_BYTES // 1024} KB; send less."
    ),
)


async def window_message(request: Request) -> Response:
    """A message the framing page posted to the chat (its JSON in the ``data`` field):
    ``@on_window_message`` runs with it, in turn."""
    session = await chat_or_404(request)
    form = await read_form(request)
    await form.close()
    data = json_field(form, WINDOW_DATA)
    if session.read_only:
        return problem(request, 409, "This past chat is read-only; start a new chat to go on.")
    try:
        session.window_message(data)
    except LookupError as exc:
        return problem(request, 409, str(exc))
    return Response(status_code=204, headers=VARY)


RESULT_MISSING = "A function's result needs its JSON in 'result'."
RESULT_TOO_LARGE = (
    f"This function's result is larger than {WINDOW_MESSAGE_MAX_BYTES // 1024} KB; "
    "answer with less."
)
RESULT_NOT_JSON = "A function's result must be JSON."
CALL_CLOSED = "This function call was answered already, has timed out, or does not exist."
RESULT = JSONField(
    "result", missing=RESULT_MISSING, not_json=RESULT_NOT_JSON, too_large=RESULT_TOO_LARGE
)


async def function_result(request: Request) -> Response:
    """The host page's answer to a function call of the chat (``CopilotFunction``): its
    JSON in the ``result`` field, handed as data to the callback waiting for it."""
    session = await chat_or_404(request)
    form = await read_form(request)
    await form.close()
    result = json_field(form, RESULT)
    try:
        session.answer_call(request.path_params["call_id"], result)
    except CallClosedError:
        return problem(request, 404, CALL_CLOSED)
    return Response(status_code=204, headers=VARY)
