"""Local copies of a chat's uploads when its files are kept in a bucket.

A Chainlit app reads what its users upload from ``element.path`` (``AskFileMessage``'s
``file.path``, ``message.elements``): with a local file storage that is the stored file
itself; with a bucket (``lightchat.storage``) the upload is copied, as it streams to the
bucket, into a folder of the chat's own under the system's temporary folder, which goes
when the chat goes (its ``ChatSession`` is let go) or the process ends.

The folder of all copies is made once per process (``mkdtemp``: readable by this user
only); a chat's folder is named by its id, a copy by the element's id and the name's
extension, never by anything the client chose.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import weakref
from pathlib import Path
from typing import Any

__all__ = ["copy_path", "folder_for"]

_root: Path | None = None
_folders: weakref.WeakKeyDictionary[Any, Path] = weakref.WeakKeyDictionary()


def folder_for(session: Any) -> Path:
    """The chat's folder of copies (made now if missing), removed with the session."""
    global _root
    folder = _folders.get(session)
    if folder is not None:
        return folder
    if _root is None:
        _root = Path(tempfile.mkdtemp(prefix="lightchat-uploads-"))
        weakref.finalize(_folders, shutil.rmtree, str(_root), True)
    folder = _root / str(session.id)
    folder.mkdir(mode=0o700, exist_ok=True)
    _folders[session] = folder
    weakref.finalize(session, shutil.rmtree, str(folder), True)
    return folder


def copy_path(session: Any, element_id: str, name: str) -> Path:
    """Where the copy of one upload goes: ``<chat's folder>/<element id><extension>``."""
    extension = os.path.splitext(name)[1].lower()
    if not extension[1:].isalnum() or len(extension) > 11:
        extension = ""
    return folder_for(session) / f"{element_id}{extension}"
