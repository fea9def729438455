"""Chainlit's import path for ``context`` (the current chat's session,
emitter and step): ``from lightchat.context import ...``."""

from lightchat.api.context import Context, context

__all__ = ["Context", "context"]
