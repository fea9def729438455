"""Chainlit's import path for ``user_session`` (``from lightchat.user_session import ...``)."""

from lightchat.api.context import SessionAccessor, UserSession, user_session

__all__ = ["SessionAccessor", "UserSession", "user_session"]
