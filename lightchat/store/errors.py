"""Exceptions raised by the store.

They extend lightchat's tree (``lightchat.errors``)::

    LightChatError
    └── StoreError                 the store refused or could not do something
        ├── NotFoundError          no such thread/step/file, or it belongs to someone else
        ├── ConflictError          a thread with that id already exists
        └── InvalidCursorError     a pagination cursor that this store did not hand out

File storage has its own errors, in ``lightchat.files``.

``NotFoundError`` is deliberately the same for "missing" and "not yours": an endpoint maps it
to 404 and so never tells a visitor which thread ids exist.
"""

from __future__ import annotations

from lightchat.errors import LightChatError


class StoreError(LightChatError):
    """Base class for the errors the store raises on purpose."""


class NotFoundError(StoreError, LookupError):
    """The thread (or step, element, file) does not exist, or belongs to another owner.

    Map it to "404 Not Found": never reveal that someone else's thread exists.
    """


class ConflictError(StoreError):
    """An object with that id exists already (e.g. ``create_thread`` with a used id)."""


class InvalidCursorError(StoreError, ValueError):
    """A pagination cursor that was not produced by ``list_threads``.

    Map it to "400 Bad Request", or start again from the first page.
    """
