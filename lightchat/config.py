"""Settings: what an app can tune, with defaults that work out of the box.

Nothing is read at import time. ``Settings.from_env()`` reads ``LIGHTCHAT_*`` variables when
the app or the CLI asks for it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from lightchat.errors import ConfigError

COT_MODES = ("full", "tool_call", "hidden")
"""How much of the chain of thought (the steps) the chat shows."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Runtime settings of a lightchat app.

    Example::

        app = LightChat(settings=Settings(name="Support bot", token_batch_ms=30))
    """

    name: str = "Assistant"
    """The author name of assistant messages and the title of the page."""
    token_batch_ms: int = 40
    """Tokens streamed within this window are sent together."""
    render_interval_ms: int = 150
    """How often a streaming message's markdown is re-rendered."""
    session_idle_timeout_s: int = 3600
    """A chat with no open page and no running callback for this long is ended."""
    form_wait_s: int = 300
    """How long a plain form post (no JavaScript) waits for the answer before redirecting."""
    max_message_chars: int = 100_000
    """Longer user messages are refused with a 413 and a message."""
    secret: str = ""
    """Signs cookies. Empty: a random secret per process (browser ids reset on restart)."""
    auth_secret: str = ""
    """Signs the sessions of signed-in users; required once the app has an auth callback
    (``lightchat create-secret`` makes one)."""
    session_max_age_s: int = 15 * 24 * 3600
    """A signed-in user's session ends this long after they signed in."""
    history: bool = True
    """Keep chats in a database: a history sidebar, and chats that survive restarts."""
    feedback: bool = True
    """Offer "Helpful"/"Not helpful" and a comment on the assistant's answers (with history)."""
    user_env: str = ""
    """Keys each user must give before chatting (comma-separated, e.g. ``OPENAI_API_KEY``);
    a chat finds them in ``user_session.get("env")``."""
    edit: bool = True
    """Let users edit a message they sent (the conversation after it is redone), and ask
    for an answer again ("Regenerate")."""
    cot: str = "full"
    """Which steps the chat shows: ``full`` (all), ``tool_call`` (tool steps) or ``hidden``."""
    uploads: bool = True
    """Let users attach files to their messages ("Attach files" in the composer)."""
    upload_accept: str = "*/*"
    """What users may attach: MIME types and extensions, comma-separated (``image/*,.pdf``)."""
    upload_max_files: int = 10
    """How many files one message may carry."""
    upload_max_size_mb: int = 20
    """The largest file a user may attach or upload, in megabytes."""
    database_url: str = ""
    """Where history is kept. Empty: SQLite in ``.lightchat/chat.db`` in ``app_dir``."""
    app_dir: str = "."
    """The app's folder (``lightchat serve`` sets it to the app file's folder)."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Defaults, overridden by ``LIGHTCHAT_<FIELD>`` variables, overridden by keywords."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(f"LIGHTCHAT_{f.name.upper()}")
            if raw is None:
                continue
            if f.type in ("bool", bool):
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif f.type in ("int", int):
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise ConfigError(
                        f"LIGHTCHAT_{f.name.upper()}={raw!r} is not a whole number; "
                        f"set it to one, e.g. LIGHTCHAT_{f.name.upper()}={getattr(cls(), f.name)}"
                    ) from None
            else:
                values[f.name] = raw
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = replace(cls(), **values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        """Raise ``ConfigError`` for a value out of its range, naming the fix."""
        if self.session_max_age_s <= 0:
            raise ConfigError(
                f"LIGHTCHAT_SESSION_MAX_AGE_S={self.session_max_age_s} must be positive; "
                "set it to a number of seconds, e.g. LIGHTCHAT_SESSION_MAX_AGE_S=86400"
            )
        if self.cot not in COT_MODES:
            raise ConfigError(
                f"LIGHTCHAT_COT={self.cot!r} is not one of {', '.join(COT_MODES)}; "
                "set it to one, e.g. LIGHTCHAT_COT=full"
            )
