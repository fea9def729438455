"""Chainlit's import path for ``context`` (the current chat's session,
emitter and step) and ``init_http_context``: ``from lightchat.context import ...``."""

from lightchat.api.context import Context, context, init_http_context

__all__ = ["Context", "context", "init_http_context"]
