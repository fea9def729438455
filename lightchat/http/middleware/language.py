"""``Languages``: each request is answered in its browser's language (see
``lightchat.ui.i18n``): its ``Accept-Language`` and the app's translations are kept for the
request while it is answered, and answers that depend on them say so (``Vary``).

With a forced language (``Settings.language``, Chainlit's ``ui.language``), every request
is taken as asking for that language: its ``Accept-Language`` header is replaced, so the
pages, the notices and what the app's callbacks are told (the user's language) all agree.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lightchat.ui.i18n import ACCEPT_LANGUAGE, MAX_HEADER_CHARS, TRANSLATIONS, Translations

_LANGUAGE_DEPENDENT = (b"text/html", b"text/plain")


class Languages:
    """Keeps each request's ``Accept-Language`` in ``ACCEPT_LANGUAGE`` while it is answered,
    the app's ``translations`` in ``TRANSLATIONS``, and marks HTML and plain-text answers
    ``Vary: Accept-Language``."""

    def __init__(
        self, app: ASGIApp, translations: Translations | None = None, forced: str = ""
    ) -> None:
        self.app = app
        self.translations = translations
        self.forced = forced

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        header = ""
        if self.forced:
            header = self.forced
            others = [(k, v) for k, v in scope.get("headers", []) if k != b"accept-language"]
            scope["headers"] = [*others, (b"accept-language", self.forced.encode("latin-1"))]
        for name, value in scope.get("headers", []):
            if name == b"accept-language":
                header = value.decode("latin-1")[:MAX_HEADER_CHARS]
                break
        reset = ACCEPT_LANGUAGE.set(header)
        reset_texts = TRANSLATIONS.set(self.translations)

        async def send_varied(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                kind = headers.get("content-type", "").encode("latin-1")
                varies = {part.strip().lower() for part in headers.get("vary", "").split(",")}
                # An answer relayed from another worker has it already.
                if kind.startswith(_LANGUAGE_DEPENDENT) and "accept-language" not in varies:
                    headers.add_vary_header("Accept-Language")
            await send(message)

        try:
            await self.app(scope, receive, send_varied)
        finally:
            TRANSLATIONS.reset(reset_texts)
            ACCEPT_LANGUAGE.reset(reset)
