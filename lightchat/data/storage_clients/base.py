"""Chainlit's ``BaseStorageClient`` and ``storage_expiry_time`` (seconds a signed URL
lasts: ``STORAGE_EXPIRY_TIME``, read at import as Chainlit reads it)."""

from lightchat.storage import BaseStorageClient
from lightchat.storage import storage_expiry_time as _expiry

__all__ = ["BaseStorageClient", "storage_expiry_time"]

storage_expiry_time: int = _expiry()
