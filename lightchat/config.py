"""Settings: what an app can tune, with defaults that work out of the box.

Nothing is read at import time. ``Settings.from_env()`` reads ``LIGHTCHAT_*`` variables when
the app or the CLI asks for it.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path

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
    url: str = ""
    """The app's public address (``https://chat.example.com``; ``CHAINLIT_URL`` works too),
    from which OAuth redirect URIs are made. Empty: each request's own address."""
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
    frame_ancestors: str = "'self'"
    """The pages that may show the app in a frame: the Content-Security-Policy's
    ``frame-ancestors`` sources, space-separated (``'self' https://intranet.example``);
    ``'none'`` forbids every frame."""
    allow_origins: str = ""
    """Other sites whose pages may call the app with the user's cookies (CORS), as origins,
    comma-separated (``https://portal.example,https://admin.example``). Empty: only the
    app's own pages. ``*`` is refused: any site could then act as the signed-in user."""
    markdown_images: bool = True
    """Show the images of markdown text (``![alt](https://...)``; http(s) and relative URLs
    only). Off, each one is a link to its URL instead, so nothing loads by itself."""
    element_dirs: str = ""
    """The folders whose files elements made from ``path=`` may read, separated by
    ``os.pathsep`` (``:``; ``;`` on Windows). Empty: ``app_dir`` and the system's
    temporary folder. Uploaded files are always readable."""
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
        if "url" not in values and env.get("CHAINLIT_URL"):
            values["url"] = env["CHAINLIT_URL"]  # Chainlit's name for the same setting
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
        self.origins()
        self.frame_sources()

    def origins(self) -> tuple[str, ...]:
        """The origins of ``allow_origins``, checked (``https://host[:port]``).

        Raises ``ConfigError`` for ``*`` (CORS with cookies must name each site) and for
        anything that is not an origin.
        """
        found: list[str] = []
        for raw in self.allow_origins.split(","):
            origin = raw.strip().rstrip("/").lower()
            if not origin:
                continue
            if "*" in origin:
                raise ConfigError(
                    f"LIGHTCHAT_ALLOW_ORIGINS={self.allow_origins!r}: '*' would let every "
                    "site use the app with its users' cookies. List each site's origin "
                    "instead, e.g. LIGHTCHAT_ALLOW_ORIGINS=https://portal.example"
                )
            if not _ORIGIN.fullmatch(origin):
                raise ConfigError(
                    f"LIGHTCHAT_ALLOW_ORIGINS: {raw.strip()!r} is not an origin; write "
                    "scheme, host and port only, e.g. https://portal.example:8443"
                )
            found.append(origin)
        return tuple(found)

    def frame_sources(self) -> str:
        """``frame_ancestors``, checked: CSP sources, space-separated.

        Raises ``ConfigError`` for anything else (a ``;`` or ``,`` would add directives).
        """
        sources = self.frame_ancestors.split()
        if (
            not sources
            or not all(_FRAME_SOURCE.fullmatch(s) for s in sources)
            or ("'none'" in sources and len(sources) > 1)
        ):
            raise ConfigError(
                f"LIGHTCHAT_FRAME_ANCESTORS={self.frame_ancestors!r} is not a list of "
                "frame-ancestors sources; write them space-separated, e.g. "
                "LIGHTCHAT_FRAME_ANCESTORS=\"'self' https://intranet.example\", or 'none'"
            )
        return " ".join(sources)

    def element_folders(self) -> tuple[Path, ...]:
        """The folders elements may read from ``path=`` (``element_dirs``), resolved."""
        raw = [part.strip() for part in self.element_dirs.split(os.pathsep) if part.strip()]
        if not raw:
            raw = [self.app_dir, tempfile.gettempdir()]
        return tuple(Path(folder).resolve() for folder in raw)


_ORIGIN = re.compile(r"https?://(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::\d{1,5})?")
_FRAME_SOURCE = re.compile(
    r"'self'|'none'|[a-z][a-z0-9+.-]*:"
    r"|(?:[a-z][a-z0-9+.-]*://)?(?:\*|(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*)"
    r"(?::(?:\d{1,5}|\*))?(?:/[^\s;,']*)?",
    re.IGNORECASE,
)
