"""Chainlit's ``chainlit.server.app``: the FastAPI app an app file adds routes of its own to,
served in front of the chat (``pip install "lightchat[server]"`` brings FastAPI)::

    from fastapi import Request
    from fastapi.responses import JSONResponse
    from lightchat.server import app

    @app.get("/healthz")
    async def healthz(request: Request):
        return JSONResponse({"ok": True})

``lightchat serve`` (and ``run``) then serve this app, with the chat mounted at its root
after the app's own routes: a path the app's routes do not answer goes to the chat. The
chat's security headers, sign-in and form tokens apply to the chat's own URLs; the app's
routes are the app's to guard. FastAPI's generated docs are off (no ``/docs``).
"""

from __future__ import annotations

try:
    from fastapi import FastAPI
except ImportError as exc:  # an extra: only apps that add routes need it
    raise ImportError(
        'lightchat.server needs FastAPI: pip install "lightchat[server]" (or fastapi).'
    ) from exc

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
"""The routes the app adds; the chat is mounted after them when the app is served."""

__all__ = ["app"]
