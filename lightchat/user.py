"""Chainlit's import path for ``User`` and ``PersistedUser``: ``from lightchat.user import ...``."""

from lightchat.domain.user import PersistedUser, User

__all__ = ["PersistedUser", "User"]
