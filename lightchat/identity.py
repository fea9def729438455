"""Browser identity: a signed cookie naming the browser that owns a chat.

Without sign-in, a chat belongs to the browser that opened it. The cookie holds a random id
signed with the app's secret (itsdangerous), so it cannot be forged or guessed.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from itsdangerous import BadSignature, URLSafeSerializer

COOKIE = "lightchat_browser"


class BrowserIdentity:
    """Signs and checks browser ids."""

    def __init__(self, secret: str) -> None:
        self._serializer = URLSafeSerializer(secret or secrets.token_urlsafe(32), "browser")

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
