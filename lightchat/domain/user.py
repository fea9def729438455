"""The signed-in user, as the auth callbacks return it and the chat sees it.

Plain data, with Chainlit's names: an auth callback returns a ``User`` (or None to refuse
the sign-in), and the chat finds it in ``cl.context.session.user`` and
``cl.user_session.get("user")``::

    @cl.password_auth_callback
    def auth(username: str, password: str) -> cl.User | None:
        if check_password(username, password):
            return cl.User(identifier=username, metadata={"role": "admin"})
        return None
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["PersistedUser", "User"]


@dataclass
class User:
    """A person signed in to the app.

    ``identifier`` names them for good (an email, a user name): their chats belong to it.
    ``display_name`` is shown in the user menu (the identifier when None); ``metadata`` is
    the app's own (roles, preferences...), kept in the session cookie, so keep it small
    and JSON-serializable.
    """

    identifier: str
    display_name: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """What the UI calls the user: the display name, else the identifier."""
        return self.display_name or self.identifier

    def to_dict(self) -> dict[str, Any]:
        """The user as a dict (``identifier``, ``display_name``, ``metadata``)."""
        return {
            "identifier": self.identifier,
            "display_name": self.display_name,
            "metadata": dict(self.metadata),
        }


@dataclass
class PersistedUser(User):
    """A user as the data layer keeps them: with the store's ``id`` and ``createdAt``."""

    id: str = ""
    createdAt: str = ""  # Chainlit's field name, camel case included

    def to_dict(self) -> dict[str, Any]:
        """The user as a dict, with ``id`` and ``createdAt``."""
        return {**super().to_dict(), "id": self.id, "createdAt": self.createdAt}
