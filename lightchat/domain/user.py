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

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

__all__ = ["PersistedUser", "User", "is_admin"]


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


ADMIN_ROLE = "admin"
"""The ``role`` in a user's metadata that makes them an admin (see ``is_admin``)."""


def is_admin(user: User | None, admins: Collection[str] = ()) -> bool:
    """Whether ``user`` is an admin of the app: a signed-in user whose metadata has
    ``"role": "admin"``, as the app's auth callback returns them::

        return cl.User(identifier=username, metadata={"role": "admin"})

    or whose identifier is one of ``admins`` (``Settings.admins``). Only admins see a
    chat's debug details (``Settings.debug``) once the app has sign-in, and the
    analytics page.
    """
    if user is None:
        return False
    if user.identifier in admins:
        return True
    role = user.metadata.get("role") if isinstance(user.metadata, dict) else None
    return isinstance(role, str) and role.strip().lower() == ADMIN_ROLE
