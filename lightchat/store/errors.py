"""Exceptions raised by the store.

They extend lightchat's tree (``lightchat.errors``)::

    LightChatError
    └── StoreError                 the store refused or could not do something
        ├── NotFoundError          no such thread/step/file, or it belongs to someone else
        ├── ConflictError          a thread with that id already exists
        ├── InvalidCursorError     a pagination cursor that this store did not hand out
        ├── FileTooLargeError      an upload is over the storage's size limit
        └── InvalidKeyError        a file key that this storage did not hand out

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


class FileTooLargeError(StoreError, ValueError):
    """A file is larger than the storage's ``max_bytes``; nothing was kept."""


class InvalidKeyError(StoreError, ValueError):
    """A storage key that the storage did not generate (e.g. a path with ``..``)."""
