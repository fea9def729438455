"""File storage lives in ``lightchat.files`` (it needs no database); re-exported here."""

from lightchat.files import (
    DEFAULT_MAX_BYTES,
    FileStorage,
    FileTooLargeError,
    InvalidKeyError,
    LocalFileStorage,
    MissingFileError,
    StoredFile,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "FileStorage",
    "FileTooLargeError",
    "InvalidKeyError",
    "LocalFileStorage",
    "MissingFileError",
    "StoredFile",
]
