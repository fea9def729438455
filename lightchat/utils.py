"""Helpers under the names Chainlit apps use: ``mount_chainlit`` serves an app file inside
a host FastAPI (or Starlette) app.

    from fastapi import FastAPI
    from lightchat.utils import mount_chainlit

    host = FastAPI()
    mount_chainlit(app=host, target="my_chat.py", path="/chat")

Run the host as usual (``uvicorn main:host``); the chat answers under ``/chat``.
"""

from __future__ import annotations

from lightchat.auth.host import HostAuth
from lightchat.cli import load_app
from lightchat.embed import mount

__all__ = ["mount_chainlit"]


def mount_chainlit(
    app: object, target: str, path: str = "/chainlit", *, host_auth: HostAuth | None = None
) -> None:
    """Load the chat app in ``target`` (``app.py`` or ``app.py:name``, as ``lightchat serve``
    takes it) and serve it under ``path`` in the host ``app``, started and stopped with it
    (``lightchat.embed.mount``). ``host_auth``: see ``lightchat.auth.host``.

    Raises ``lightchat.AppLoadError`` when the file has no app, ``ConfigError`` for a path
    that cannot be mounted.
    """
    mount(app, path, load_app(target), host_auth=host_auth)  # type: ignore[arg-type]
