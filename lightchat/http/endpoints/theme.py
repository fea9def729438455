"""HTTP endpoints of the look and brand: the generated theme stylesheet, the app's
``public/`` folder, and the theme toggle (see ``lightchat.ui.theme``).

The toggle is a form posting to ``/-/theme``: it sets the ``lightchat_theme`` cookie and
sends the browser back (a 303, or 204 for a script), so it works without JavaScript and the
next page is painted in the chosen theme from its first byte: ``ThemeCookie`` keeps each
request's choice in ``lightchat.ui.theme.THEME`` for the templates. lightchat.js switches the
page at once and posts the same form in the background.

``public/`` is served as plain files: no directory listing, no path leaving the folder, no
hidden files, a content type from the file's extension, and a
``Content-Security-Policy: sandbox`` on every answer, so an SVG opened as a page of its own
runs no script with the app's origin.
"""

from __future__ import annotations

import mimetypes
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, RedirectResponse, Response

from lightchat.config.settings import THEMES
from lightchat.http.web import VARY, base, is_htmx, problem, read_form, services, split_url
from lightchat.ui.theme import THEME_COOKIE

ONE_YEAR_S = 365 * 24 * 3600

# Types the web needs that Python's table may lack or name differently.
_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
    ".avif": "image/avif",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".json": "application/json",
    ".md": "text/markdown; charset=utf-8",
}
_SANDBOX = "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'"


async def theme_css(request: Request) -> Response:
    """The stylesheet generated from ``[ui.theme]`` and ``public/theme.json``."""
    brand = services(request).renderer.brand
    fresh = request.query_params.get("v") == brand.version
    cache = f"public, max-age={ONE_YEAR_S}, immutable" if fresh else "no-cache"
    return Response(brand.css, media_type="text/css", headers={"Cache-Control": cache})


def public_path(root: Path, relative: str) -> Path | None:
    """The file ``relative`` names inside ``root``, or None: nothing outside the folder
    (``..``, absolute paths, links leading out), no hidden file, no folder."""
    if not relative or "\\" in relative or "\x00" in relative:
        return None
    parts = relative.split("/")
    if any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        return None
    candidate = root.joinpath(*parts)
    try:
        resolved = candidate.resolve()
        if not resolved.is_relative_to(root) or not resolved.is_file():
            return None
    # A loop of links, or a name the system refuses (too long, a character it does not
    # take): no such file.
    except (OSError, RuntimeError, ValueError):
        return None
    return resolved


async def public_file(request: Request) -> Response:
    """A file of the app's ``public/`` folder."""
    root = services(request).renderer.brand.public
    found = None if root is None else public_path(root, request.path_params["path"])
    if found is None:
        return PlainTextResponse("Not found.", status_code=404)
    suffix = found.suffix.lower()
    kind = _TYPES.get(suffix) or mimetypes.guess_type(found.name)[0] or "application/octet-stream"
    return FileResponse(
        found,
        media_type=kind,
        headers={"Content-Security-Policy": _SANDBOX, "Cache-Control": "public, max-age=300"},
    )


def _back(request: Request, given: object) -> str:
    """Where the toggle sends the browser back to: the form's ``next`` when it is a path of
    this app, else the page it came from (same origin only), else the app's start."""
    prefix = base(request)
    for candidate in (given, request.headers.get("referer", "")):
        if not isinstance(candidate, str) or not candidate:
            continue
        parts = split_url(candidate)
        if parts is None:
            continue
        if (parts.scheme or parts.netloc) and parts.netloc != request.headers.get("host"):
            continue  # another site's page
        path = parts.path
        if path.startswith(f"{prefix}/") and not path.startswith("//") and "\\" not in path:
            return path + (f"?{parts.query}" if parts.query else "")
    return f"{prefix}/"


async def set_theme(request: Request) -> Response:
    """Remember the browser's theme (``light``, ``dark`` or ``system``) in its cookie."""
    form = await read_form(request)
    chosen = form.get("theme")
    given = form.get("next")
    await form.close()
    if chosen not in THEMES:
        return problem(request, 400, f"Choose one of {', '.join(THEMES)}.")
    response: Response
    if is_htmx(request) or request.headers.get("x-lightchat-theme") == "1":
        response = Response(status_code=204, headers=VARY)
    else:
        response = RedirectResponse(_back(request, given), status_code=303, headers=VARY)
    response.set_cookie(
        THEME_COOKIE,
        str(chosen),
        max_age=ONE_YEAR_S,
        path=base(request) or "/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )
    return response
