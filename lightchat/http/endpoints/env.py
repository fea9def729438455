"""The keys an app asks each user for (``user_env``), e.g. their own API key.

With ``Settings.user_env`` naming keys, a browser is sent to a form asking for them before
its first chat. The values live in this worker's memory only, per browser (never on disk,
never in the database), and reach each new chat's ``user_session.get("env")``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from lightchat.http.web import VARY, base, browser, problem, read_form, services
from lightchat.ui.i18n import say

#: The longest value kept for one key.
MAX_VALUE_CHARS = 4096


def env_keys(request: Request) -> list[str]:
    """The keys the app asks for (``Settings.user_env``, comma-separated)."""
    raw = services(request).settings.user_env
    return [key.strip() for key in raw.split(",") if key.strip()]


def env_of(request: Request, owner: str) -> dict[str, str] | None:
    """The values this browser gave, or None while some key is missing."""
    keys = env_keys(request)
    given = services(request).user_env.get(owner, {})
    if any(not given.get(key) for key in keys):
        return None
    return {key: given[key] for key in keys}


async def env_form(request: Request) -> Response:
    """The form asking for the keys."""
    keys = env_keys(request)
    if not keys:
        return RedirectResponse(f"{base(request)}/", status_code=303)
    html = services(request).renderer.page(
        "env.html", keys=keys, base=base(request), error=None, query=request.url.query
    )
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


async def save_env(request: Request) -> Response:
    """Keep the values for this browser, then start a chat."""
    owner = browser(request)
    keys = env_keys(request)
    if owner is None or not keys:
        return RedirectResponse(f"{base(request)}/", status_code=303, headers=VARY)
    form = await read_form(request)
    values: dict[str, str] = {}
    for key in keys:
        value = form.get(key)
        if not isinstance(value, str) or not value.strip():
            await form.close()
            return problem(request, 400, say("notice.env_missing", name=key))
        if len(value) > MAX_VALUE_CHARS:
            await form.close()
            return problem(request, 413, say("notice.env_too_long", name=key))
        values[key] = value.strip()
    await form.close()
    services(request).user_env[owner] = values
    query = request.url.query
    return RedirectResponse(f"{base(request)}/{'?' + query if query else ''}", status_code=303)
