"""Settings: what an app can tune, with defaults that work out of the box.

Nothing is read at import time. ``Settings.from_env()`` reads ``LIGHTCHAT_*`` variables (and,
with ``config_file=True``, the ``lightchat.toml`` in the app's folder) when the app or the
CLI asks for it.
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from lightchat.errors import ConfigError

COT_MODES = ("full", "tool_call", "hidden")
"""How much of the chain of thought (the steps) the chat shows."""
LAYOUTS = ("default", "wide")
THEMES = ("light", "dark", "system")
CONFIG_FILE = "lightchat.toml"
"""The settings file looked for in the app's folder (``app_dir``) when the app starts."""


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
    collapse_content: bool = True
    """Collapse long messages (over 25 lines or 3,000 characters) behind "Show more";
    off, every message shows whole."""
    layout: str = "default"
    """The page's layout: ``default`` (a centred column) or ``wide`` (the full width)."""
    default_theme: str = "system"
    """The theme a browser shows until its user picks one: ``light``, ``dark`` or
    ``system`` (the browser's preference)."""
    latex: bool = False
    """Render LaTeX between dollars in messages (``$x^2$``, ``$$...$$``) as MathML; off,
    dollars are plain text."""
    theme: dict[str, Any] = field(default_factory=dict, hash=False)
    """The ``[ui.theme]`` table of ``lightchat.toml``: ``font_family``, ``font_mono``,
    ``radius``, and ``[ui.theme.light]`` / ``[ui.theme.dark]`` colours (checked when the
    app starts, see ``lightchat.ui.theme``)."""
    custom_css: str = ""
    """A stylesheet of the app's own, linked after lightchat's: a path of the app
    (``/public/brand.css``) or an https URL (which the Content-Security-Policy then allows)."""
    custom_js: str = ""
    """A script of the app's own, loaded after lightchat's (a path or an https URL)."""
    custom_font: str = ""
    """A stylesheet that loads fonts (``https://fonts.googleapis.com/css2?family=Inter``)."""
    logo_file_url: str = ""
    """The header's logo in both themes. Empty: ``public/logo_light.*`` and
    ``public/logo_dark.*``, else the app's name as text."""
    default_avatar_file_url: str = ""
    """The assistant's avatar when ``public/avatars/`` has none for its name. Empty:
    ``public/avatars/default.*``, else none."""
    favicon_file_url: str = ""
    """The page's icon. Empty: ``public/favicon.*``, else none."""
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
    oauth_allow_unverified_email: bool = False
    """Let an OAuth provider sign in a user by an email address it says it has not
    verified (``email_verified`` false). Off: such a sign-in is refused, since whoever
    typed someone else's address at that provider would become that user here."""
    element_dirs: str = ""
    """The folders whose files elements made from ``path=`` may read, separated by
    ``os.pathsep`` (``:``; ``;`` on Windows). Empty: the app's ``public/`` folder and the
    system's temporary folder. Whatever the folders, hidden files, lightchat's own state
    and other chats' uploads are never read (see ``lightchat.api.element_paths``)."""
    database_url: str = ""
    """Where history is kept. Empty: SQLite in ``.lightchat/chat.db`` in ``app_dir``."""
    redis_url: str = ""
    """The Redis that keeps the chats' event logs, so several workers can serve one app
    (``redis://[:password@]host:6379/0``, ``rediss://`` for TLS, ``unix:///path``). Empty:
    logs stay in this process (one worker)."""
    redis_prefix: str = "lc:"
    """The start of every key lightchat writes in Redis, so several apps can share one."""
    log_ttl_s: int = 86400
    """How long a chat's event log stays in Redis after its last event, in seconds."""
    log_compact_after: int = 2000
    """With Redis: when a run ends and a chat's log holds more entries than this, the log
    is replaced by a snapshot of the chat (its tokens folded into their messages)."""
    app_dir: str = "."
    """The app's folder (``lightchat serve`` sets it to the app file's folder)."""
    shutdown_grace_s: int = 30
    """On shutdown (SIGTERM), how long running callbacks may take to finish their answers;
    then they are stopped, and what they showed is kept. Meanwhile new runs are refused
    (or, with several workers, taken by another worker)."""
    worker_ttl_s: int = 6
    """With several workers (a Redis URL): how long a worker that stopped answering counts
    as alive. Its heartbeat is refreshed every third of this; once it lapses, other workers
    take its chats over."""

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        config_file: bool = False,
        **overrides: object,
    ) -> Settings:
        """Defaults, overridden by ``LIGHTCHAT_<FIELD>`` variables, overridden by keywords.

        ``config_file``: read ``lightchat.toml`` in ``app_dir`` too, between the defaults
        and the variables.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        if config_file:
            folder = overrides.get("app_dir") or env.get("LIGHTCHAT_APP_DIR") or "."
            values.update(read_config_file(str(folder)))
        for f in fields(cls):
            if f.name == "theme":
                continue  # a table: lightchat.toml only
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
        if self.worker_ttl_s <= 0:
            raise ConfigError(
                f"LIGHTCHAT_WORKER_TTL_S={self.worker_ttl_s} must be positive; "
                "set it to a number of seconds, e.g. LIGHTCHAT_WORKER_TTL_S=6"
            )
        if self.shutdown_grace_s < 0:
            raise ConfigError(
                f"LIGHTCHAT_SHUTDOWN_GRACE_S={self.shutdown_grace_s} must not be negative; "
                "set it to a number of seconds, e.g. LIGHTCHAT_SHUTDOWN_GRACE_S=30"
            )
        if self.cot not in COT_MODES:
            raise ConfigError(
                f"LIGHTCHAT_COT={self.cot!r} is not one of {', '.join(COT_MODES)}; "
                "set it to one, e.g. LIGHTCHAT_COT=full"
            )
        if self.layout not in LAYOUTS:
            raise ConfigError(
                f"LIGHTCHAT_LAYOUT={self.layout!r} is not one of {', '.join(LAYOUTS)}; "
                "set it to one, e.g. LIGHTCHAT_LAYOUT=wide"
            )
        if self.default_theme not in THEMES:
            raise ConfigError(
                f"LIGHTCHAT_DEFAULT_THEME={self.default_theme!r} is not one of "
                f"{', '.join(THEMES)}; set it to one, e.g. LIGHTCHAT_DEFAULT_THEME=dark"
            )
        self.origins()
        self.frame_sources()
        self.check_redis()

    def check_redis(self) -> None:
        """Raise ``ConfigError`` for a Redis setting that cannot work, naming the fix."""
        if self.redis_url and not _REDIS_URL.match(self.redis_url):
            raise ConfigError(
                "LIGHTCHAT_REDIS_URL must start with redis://, rediss:// or unix://, e.g. "
                "LIGHTCHAT_REDIS_URL=redis://127.0.0.1:6379/0"
            )
        if not self.redis_prefix or any(c.isspace() for c in self.redis_prefix):
            raise ConfigError(
                f"LIGHTCHAT_REDIS_PREFIX={self.redis_prefix!r} must be a non-empty word "
                "without spaces, e.g. LIGHTCHAT_REDIS_PREFIX=support-bot:"
            )
        if self.log_ttl_s <= 0:
            raise ConfigError(
                f"LIGHTCHAT_LOG_TTL_S={self.log_ttl_s} must be positive; set it to a number "
                "of seconds, e.g. LIGHTCHAT_LOG_TTL_S=86400"
            )
        if self.log_compact_after < 100:
            raise ConfigError(
                f"LIGHTCHAT_LOG_COMPACT_AFTER={self.log_compact_after} is too small to be "
                "worth a snapshot; set it to 100 or more, e.g. LIGHTCHAT_LOG_COMPACT_AFTER=2000"
            )

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

    def framed_by_others(self) -> bool:
        """True when ``frame_ancestors`` lets pages other than the app's own frame it (the
        copilot widget on another site): over HTTPS the browser cookie is then
        ``SameSite=None; Secure; Partitioned``, which a browser sends inside a frame on
        another site (``Lax`` is enough for a host on the same site, another port or
        subdomain)."""
        return any(source not in ("'self'", "'none'") for source in self.frame_sources().split())

    def element_folders(self) -> tuple[Path, ...]:
        """The folders elements may read from ``path=`` (``element_dirs``), resolved."""
        raw = [part.strip() for part in self.element_dirs.split(os.pathsep) if part.strip()]
        if not raw:
            raw = [str(Path(self.app_dir, "public")), tempfile.gettempdir()]
        return tuple(Path(folder).resolve() for folder in raw)

    def state_dir(self) -> Path:
        """Where lightchat keeps its own state beside the app (``.lightchat``: the secret
        that signs cookies, the SQLite database, stored files), resolved."""
        return Path(self.app_dir, ".lightchat").resolve()


_REDIS_URL = re.compile(r"(?:rediss?|unix)://\S+\Z", re.IGNORECASE)
_ORIGIN = re.compile(r"https?://(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::\d{1,5})?")
_FRAME_SOURCE = re.compile(
    r"'self'|'none'|[a-z][a-z0-9+.-]*:"
    r"|(?:[a-z][a-z0-9+.-]*://)?(?:\*|(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*)"
    r"(?::(?:\d{1,5}|\*))?(?:/[^\s;,']*)?",
    re.IGNORECASE,
)


# -- lightchat.toml ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Key:
    """One key of ``lightchat.toml``: the setting it sets, what it takes, what it does."""

    field: str
    kind: str  # bool, int, str, list, origins, choice, or false (must stay false)
    comment: str
    choices: tuple[str, ...] = ()
    alias: bool = False  # another name for a key of the starter file (left commented there)


_KEYS: dict[str, dict[str, _Key]] = {
    "project": {
        "session_timeout": _Key(
            "session_idle_timeout_s",
            "int",
            "Seconds a chat with no open page and nothing running is kept before it ends.",
        ),
        "user_session_timeout": _Key(
            "session_max_age_s", "int", "Seconds a signed-in user's session lasts."
        ),
        "allow_origins": _Key(
            "allow_origins",
            "origins",
            "Other sites whose pages may call the app with the user's cookies (CORS), "
            'e.g. ["https://portal.example"]; "*" is refused.',
        ),
        "frame_ancestors": _Key(
            "frame_ancestors",
            "str",
            "Pages that may show the app in a frame (the copilot widget's host pages): "
            "CSP sources, space-separated, e.g. \"'self' https://portal.example\".",
        ),
        "user_env": _Key(
            "user_env",
            "list",
            'Keys each user gives before chatting, e.g. ["OPENAI_API_KEY"].',
        ),
    },
    "features": {
        "history": _Key("history", "bool", "Keep chats in a database: a sidebar, reopen later."),
        "feedback": _Key("feedback", "bool", '"Helpful"/"Not helpful" and a comment on answers.'),
        "edit_message": _Key("edit", "bool", "Users may edit a message they sent, and regenerate."),
        "latex": _Key(
            "latex", "bool", "Render LaTeX between dollars ($x^2$, $$...$$) in messages."
        ),
        "unsafe_allow_html": _Key(
            "", "false", "Raw HTML in messages is never shown; this must stay false."
        ),
        "uploads": _Key(
            "uploads",
            "bool",
            "Another name for spontaneous_file_upload.enabled (set only one).",
            alias=True,
        ),
        "upload_accept": _Key(
            "upload_accept",
            "list",
            "Another name for spontaneous_file_upload.accept (set only one).",
            alias=True,
        ),
        "upload_max_files": _Key(
            "upload_max_files",
            "int",
            "Another name for spontaneous_file_upload.max_files (set only one).",
            alias=True,
        ),
        "upload_max_size_mb": _Key(
            "upload_max_size_mb",
            "int",
            "Another name for spontaneous_file_upload.max_size_mb (set only one).",
            alias=True,
        ),
    },
    "features.spontaneous_file_upload": {
        "enabled": _Key("uploads", "bool", 'Users may attach files ("Attach files").'),
        "accept": _Key(
            "upload_accept",
            "list",
            'What may be attached: MIME types and extensions, e.g. ["image/*", ".pdf"].',
        ),
        "max_files": _Key("upload_max_files", "int", "Files per message."),
        "max_size_mb": _Key("upload_max_size_mb", "int", "The largest file, in megabytes."),
    },
    "ui": {
        "name": _Key("name", "str", "The assistant's author name and the page title."),
        "cot": _Key(
            "cot", "choice", "Which steps show: full, tool_call (tool steps) or hidden.", COT_MODES
        ),
        "default_collapse_content": _Key(
            "collapse_content",
            "bool",
            'Collapse long messages behind "Show more".',
        ),
        "layout": _Key(
            "layout",
            "choice",
            "default (a centred column) or wide (the conversation uses the full width).",
            LAYOUTS,
        ),
        "default_theme": _Key(
            "default_theme",
            "choice",
            "The theme until the user picks one: light, dark or system (the browser's).",
            THEMES,
        ),
        "custom_css": _Key(
            "custom_css",
            "str",
            'Your stylesheet, after lightchat\'s: "/public/brand.css" or an https:// URL.',
        ),
        "custom_js": _Key(
            "custom_js", "str", 'Your script, after lightchat\'s: "/public/brand.js" or https://.'
        ),
        "custom_font": _Key(
            "custom_font", "str", "A stylesheet loading fonts (e.g. a Google Fonts URL)."
        ),
        "logo_file_url": _Key(
            "logo_file_url",
            "str",
            "The header's logo. Empty: public/logo_light.* and public/logo_dark.*.",
        ),
        "default_avatar_file_url": _Key(
            "default_avatar_file_url",
            "str",
            "The assistant's avatar. Empty: public/avatars/<name>.*, else avatars/default.*.",
        ),
        "favicon_file_url": _Key(
            "favicon_file_url", "str", "The page's icon. Empty: public/favicon.* if there is one."
        ),
    },
}
_RAW_TABLES = {"ui.theme": "theme"}
_TOP_TABLES = ("project", "features", "ui")


def read_config_file(folder: str | Path) -> dict[str, object]:
    """The settings ``lightchat.toml`` in ``folder`` sets, by field name ({} without one).

    Raises ``ConfigError`` naming the file, the key and the fix for an unknown key, a bad
    value or a syntax error (with its line).
    """
    path = Path(folder, CONFIG_FILE)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path} cannot be read ({exc}); make it a UTF-8 text file, or remove it."
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        reason = str(exc)
        where = re.search(r"\s*\(at line (\d+), column (\d+)\)$", reason)
        if where:
            line = where.group(1)
            reason = f"{reason[: where.start()]} (column {where.group(2)})"
        else:
            line = str(text.count("\n") + 1)
            reason = re.sub(r"\s*\(at end of document\)$", "", reason)
        raise ConfigError(
            f"{path}, line {line}: {reason}. Fix the TOML syntax on that line and start again."
        ) from None
    if "UI" in data:  # Chainlit's spelling
        if "ui" in data:
            raise ConfigError(f"{path}: both [ui] and [UI] are set; keep one.")
        data["ui"] = data.pop("UI")
    values: dict[str, object] = {}
    _read_table(path, "", data, values, {})
    return values


def _read_table(
    path: Path, table: str, data: dict[str, Any], values: dict[str, object], set_by: dict[str, str]
) -> None:
    for key, value in data.items():
        dotted = f"{table}.{key}" if table else key
        if dotted in _KEYS or dotted in _RAW_TABLES:
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{path}: {dotted} must be a table; write [{dotted}] with its keys below it."
                )
            if dotted in _RAW_TABLES:
                values[_RAW_TABLES[dotted]] = value
            else:
                _read_table(path, dotted, value, values, set_by)
            continue
        spec = _KEYS.get(table, {}).get(key)
        if spec is None:
            raise ConfigError(f"{path}: unknown key {dotted!r}; {_unknown_fix(table, key)}")
        converted = _convert(path, dotted, key, spec, value)
        if not spec.field:
            continue
        if spec.field in set_by:
            raise ConfigError(
                f"{path}: {set_by[spec.field]} and {dotted} set the same thing; keep one of them."
            )
        set_by[spec.field] = dotted
        values[spec.field] = converted


def _unknown_fix(table: str, key: str) -> str:
    elsewhere = [f"{t}.{key}" for t, keys in _KEYS.items() if key in keys and t != table]
    if elsewhere:
        return f"it belongs in [{elsewhere[0].rpartition('.')[0]}]: {elsewhere[0]}."
    known = list(_KEYS.get(table, {})) + [
        t.rpartition(".")[2] for t in [*_KEYS, *_RAW_TABLES] if t.rpartition(".")[0] == table
    ]
    if not table:
        known = list(_TOP_TABLES)
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    where = f"[{table}]" if table else "the file"
    return f"{hint}The keys of {where} are: {', '.join(known)}. Fix its name or remove it."


def _convert(path: Path, dotted: str, key: str, spec: _Key, value: object) -> object:
    def bad(expected: str, example: str) -> ConfigError:
        return ConfigError(
            f"{path}: {dotted} = {_toml_value(value)}: expected {expected}, e.g. {key} = {example}"
        )

    default = getattr(Settings(), spec.field) if spec.field else False
    if spec.kind == "false":
        if value is True:
            raise ConfigError(
                f"{path}: {dotted} = true is refused: raw HTML in messages could run scripts "
                "in the page, and lightchat never shows it. Set it to false or remove the line."
            )
        if value is not False:
            raise bad("false", "false")
        return False
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise bad("true or false", _toml_value(default))
        return value
    if spec.kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad("a whole number", _toml_value(default))
        if value <= 0:
            raise bad("a whole number above 0", _toml_value(default))
        return value
    if spec.kind == "str":
        if not isinstance(value, str):
            raise bad("a string in quotes", _toml_value(default))
        return value
    if spec.kind == "choice":
        if value not in spec.choices:
            raise bad(f"one of {', '.join(spec.choices)}", json.dumps(spec.choices[-1]))
        return value
    # list, origins: a list of strings (or one comma-separated string), kept comma-separated
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        items = value
    else:
        raise bad("a list of strings", _toml_value(_as_list(str(default)) or ["..."]))
    joined = ",".join(item.strip() for item in items if item.strip())
    if spec.kind == "origins":
        for item in joined.split(","):
            origin = item.strip().rstrip("/").lower()
            if "*" in origin:
                raise ConfigError(
                    f"{path}: {dotted}: '*' would let every site use the app with its users' "
                    f'cookies; list each site\'s origin instead, e.g. {key} = ["https://portal.example"]'
                )
            if origin and not _ORIGIN.fullmatch(origin):
                raise ConfigError(
                    f"{path}: {dotted}: {item.strip()!r} is not an origin; expected scheme, host "
                    f'and port only, e.g. {key} = ["https://portal.example:8443"]'
                )
    return joined


def _as_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | list):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{...}"
    return str(value)


def starter_config() -> str:
    """A ``lightchat.toml`` with every key at its default, each with a one-line comment."""
    defaults = Settings()
    lines = [
        "# lightchat.toml: this app's settings (read when the app starts).",
        "# LIGHTCHAT_* environment variables override these; command-line flags override both.",
    ]
    for table, keys in _KEYS.items():
        lines += ["", f"[{table}]"]
        for key, spec in keys.items():
            default: object = getattr(defaults, spec.field) if spec.field else False
            if spec.kind in ("list", "origins"):
                default = _as_list(str(default))
            entry = f"{key} = {_toml_value(default)}"
            lines += [f"# {spec.comment}", f"# {entry}" if spec.alias else entry]
    lines += [
        "",
        "# Fonts, corner radius and colours (public/theme.json, Chainlit's format, works too).",
        "# Colours: #hex, rgb(...), hsl(...) or an HSL triplet; keys: background, foreground,",
        "# muted, surface, border, primary, primary_foreground, user_message, error,",
        "# error_background, success, sidebar.",
        "[ui.theme]",
        "# font_family = \"'Inter', system-ui, sans-serif\"",
        '# radius = "12px"',
        "",
        "",
        "# [ui.theme.light]",
        '# primary = "#2f6fed"',
        "",
        "# [ui.theme.dark]",
        '# primary = "#6b9bff"',
        "",
    ]
    return "\n".join(lines)
