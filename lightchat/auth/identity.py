"""Browser identity: a signed cookie naming the browser that owns a chat.

Without sign-in, a chat belongs to the browser that opened it. The cookie holds a random id
signed with the app's secret (itsdangerous), so it cannot be forged or guessed.

Every browser also has a form token (``form_token``): an HMAC of its id under the secret.
Pages carry it in each form and send it with each htmx request, and every state-changing
request must show it (``lightchat.http.middleware.csrf``). Another site can make a
browser send the cookie, but cannot read the token off the app's pages, so it cannot
forge a request. It is derived, not stored, so any worker checks it alone.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from pathlib import Path

from itsdangerous import BadSignature, URLSafeSerializer

COOKIE = "lightchat_browser"


class BrowserIdentity:
    """Signs and checks browser ids."""

    def __init__(self, secret: str) -> None:
        secret = secret or secrets.token_urlsafe(32)
        self._serializer = URLSafeSerializer(secret, "browser")
        # Its own key, so a form token can never double as any other signature.
        self._token_key = hashlib.sha256(b"lightchat.form-token\0" + secret.encode()).digest()

    def new(self) -> tuple[str, str]:
        """A fresh browser id and its cookie value."""
        browser = secrets.token_urlsafe(18)
        return browser, self._serializer.dumps(browser)

    def load(self, cookie: str | None) -> str | None:
        """The browser id in a cookie value, or None if it is missing or forged."""
        if not cookie:
            return None
        try:
            value = self._serializer.loads(cookie)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None

    def form_token(self, browser: str) -> str:
        """The form token of a browser id (the same every time; secret to other sites)."""
        digest = hmac.new(self._token_key, browser.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def check_form_token(self, browser: str, token: str) -> bool:
        """True when ``token`` is this browser's form token (compared in constant time)."""
        return hmac.compare_digest(self.form_token(browser).encode(), token.encode())


def stored_secret(folder: Path) -> str:
    """The secret kept in ``folder/secret``, made on first use (readable by the owner only).

    Without a configured secret, this keeps browsers recognised across restarts, so their
    past chats stay theirs.
    """
    path = folder / "secret"
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    folder.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another worker made it first
        return path.read_text().strip()
    with os.fdopen(fd, "w") as file:
        file.write(secret)
    return secret
