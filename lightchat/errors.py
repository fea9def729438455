"""Exceptions raised by lightchat.

The tree is small on purpose::

    LightChatError            anything lightchat raises on purpose
    ├── ConfigError           a setting or a registration is wrong; the message names the fix
    │   └── ElementPathError  an element's path= is outside the folders it may read
    │                         (also a PermissionError)
    ├── AppLoadError          `lightchat serve` could not find or import the app
    ├── InvalidTokenError     an access token (a JWT) is forged, expired or malformed
    │                         (also a ValueError)
    ├── NoSessionError        API used outside a chat (e.g. Message.send() at import time)
    └── SessionClosedError    input sent to a chat that has ended

Every message says what to do about it, not only what went wrong.
"""

from __future__ import annotations


class LightChatError(Exception):
    """Base class for every error lightchat raises on purpose."""


class ConfigError(LightChatError):
    """A setting, decorator use or callback signature is wrong."""


class ElementPathError(ConfigError, PermissionError):
    """An element made from ``path=`` names a file outside the folders elements may read
    (``Settings.element_dirs``), or something that is not a file."""


class AppLoadError(LightChatError):
    """The app file could not be found, imported, or holds no usable app."""


class InvalidTokenError(LightChatError, ValueError):
    """An access token (``lightchat.auth.decode_jwt``) was refused: its signature, its
    algorithm, its expiry or its claims are wrong. The message says which; ``expired`` is
    true when the token was good but is past its time."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


class NoSessionError(LightChatError):
    """A chat API was used where no chat session is active."""


class SessionClosedError(LightChatError):
    """The chat session has ended and takes no more input."""


class ClusterUnavailable(LightChatError, RuntimeError):
    """Redis did not answer (several workers): nobody can say which worker owns a chat."""


class OwnerGone(LightChatError, RuntimeError):
    """The worker a request was forwarded to stopped before it answered."""


class HandedOver(LightChatError):
    """A worker shutting down handed the chat a request is for over to ``worker``; the
    request goes on there (``lightchat.http.middleware.forwarding`` sends it, with the body it
    kept)."""

    def __init__(self, worker: str) -> None:
        super().__init__(f"The chat was handed over to worker {worker}.")
        self.worker = worker
