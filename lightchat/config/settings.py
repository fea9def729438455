"""Settings: what an app can tune, with defaults that work out of the box.

Nothing is read at import time. ``Settings.from_env()`` reads ``LIGHTCHAT_*`` variables (and,
with ``config_file=True``, the ``lightchat.toml`` in the app's folder) when the app or the
CLI asks for it.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import shlex
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from lightchat.domain.mcp import McpServerSpec
from lightchat.errors import ConfigError

COT_MODES = ("full", "tool_call", "hidden")
"""How much of the chain of thought (the steps) the chat shows."""
LAYOUTS = ("default", "wide")
THEMES = ("light", "dark", "system")
SIDEBAR_STATES = ("open", "closed", "hidden")
"""How the history sidebar starts (Chainlit's ``default_sidebar_state``)."""
SETTINGS_LOCATIONS = ("message_composer", "sidebar")
"""Where a chat's "Settings" button sits (Chainlit's ``chat_settings_location``)."""
LINK_TARGETS = ("_blank", "_self", "_parent", "_top")
CONFIG_FILE = "lightchat.toml"
"""The settings file looked for in the app's folder (``app_dir``) when the app starts."""


T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Doc:
    """What a setting is for and where it is set: its one description, which the README's
    table of settings, ``lightchat init``'s starter file and ``lightchat.toml``'s checks are
    all made from (``LIGHTCHAT_<NAME>`` always sets it too)."""

    text: str
    """The description (reStructuredText quoting: ````code````)."""
    toml: tuple[str, ...] = ()
    """Its dotted keys in ``lightchat.toml``: the first is the starter file's, any other is
    another name for it (Chainlit's or an older one)."""
    toml_kind: str = ""
    """``list`` (a TOML list, kept comma-separated) or ``origins`` (a list of origins);
    else the field's type says."""
    choices: tuple[str, ...] = ()
    """The only values it takes, if it is a choice."""
    shown: str = ""
    """The default as the README says it, where the value itself says little."""
    env: tuple[str, ...] = ()
    """Other variables that set it when ``LIGHTCHAT_<NAME>`` is not set (Chainlit's)."""

    def variables(self, name: str) -> tuple[str, ...]:
        """The environment variables that set the setting ``name``, first one first."""
        return (f"LIGHTCHAT_{name.upper()}", *self.env)


def setting(
    default: T,
    text: str,
    *,
    toml: tuple[str, ...] = (),
    toml_kind: str = "",
    choices: tuple[str, ...] = (),
    shown: str = "",
    env: tuple[str, ...] = (),
) -> T:
    """A field of ``Settings`` with its ``Doc`` (see there)."""
    doc = Doc(text, toml, toml_kind, choices, shown, env)
    made: T = field(default=default, metadata={"doc": doc})
    return made


def doc_of(name: str) -> Doc:
    """The ``Doc`` of the setting ``name``."""
    found = next(f for f in fields(Settings) if f.name == name)
    doc = found.metadata["doc"]
    assert isinstance(doc, Doc)
    return doc


@dataclass(frozen=True, slots=True)
class Settings:
    """Runtime settings of a lightchat app.

    Example::

        app = LightChat(settings=Settings(name="Support bot", token_batch_ms=30))
    """

    name: str = setting(
        "Assistant",
        "The author name of assistant messages and the title of the page.",
        toml=("ui.name",),
    )
    token_batch_ms: int = setting(
        200,
        "The longest a streamed token waits to be sent with the next ones when the server is "
        "busy (a quiet server sends each token at once); 0 never batches.",
    )
    render_interval_ms: int = setting(
        150, "How often a streaming message's markdown is re-rendered."
    )
    session_idle_timeout_s: int = setting(
        3600,
        "A chat with no open page and no running callback for this long is ended.",
        toml=("project.session_timeout",),
    )
    form_wait_s: int = setting(
        300, "How long a plain form post (no JavaScript) waits for the answer before redirecting."
    )
    max_message_chars: int = setting(
        100_000, "Longer user messages are refused with a 413 and a message."
    )
    secret: str = setting(
        "",
        "Signs cookies. Empty: a random secret per process (browser ids reset on restart).",
        shown="made once, kept in `.lightchat/secret`",
    )
    auth_secret: str = setting(
        "",
        "Signs the sessions of signed-in users; required once the app has an auth callback "
        "(``lightchat create-secret`` makes one).",
        shown="none",
        env=("CHAINLIT_AUTH_SECRET",),
    )
    custom_auth: bool = setting(
        False,
        "Turn sign-in on without an auth callback: users arrive signed in from the app's "
        "own site, with an access token it makes (``lightchat.auth.create_jwt``) given to "
        "the copilot widget (``accessToken``) or posted to ``/auth/jwt``. Needs "
        "``auth_secret``.",
        env=("CHAINLIT_CUSTOM_AUTH",),
    )
    session_max_age_s: int = setting(
        15 * 24 * 3600,
        "A signed-in user's session ends this long after they signed in.",
        toml=("project.user_session_timeout",),
        shown="`1296000` (15 days)",
    )
    url: str = setting(
        "",
        "The app's public address (``https://chat.example.com``), from which OAuth "
        "redirect URIs are made. Empty: each request's own address.",
        shown="each request's address",
        env=("CHAINLIT_URL",),
    )
    history: bool = setting(
        True,
        "Keep chats in a database: a history sidebar, and chats that survive restarts.",
        toml=("features.history",),
    )
    feedback: bool = setting(
        True,
        'Offer "Helpful"/"Not helpful" and a comment on the assistant\'s answers (with history).',
        toml=("features.feedback",),
    )
    allow_thread_sharing: bool = setting(
        False,
        "Let signed-in users share a chat: a read-only page at a stable link "
        "(``/share/<id>``), shown to whom ``@on_shared_thread_view`` allows. Needs "
        "history, sign-in and that callback.",
        toml=("features.allow_thread_sharing",),
    )
    auto_tag_thread: bool = setting(
        True,
        "Tag each chat's thread with the name of the chat profile it was opened with (with "
        "history), besides the tags of ``user_session``.",
        toml=("features.auto_tag_thread",),
    )
    persist_user_env: bool = setting(
        False,
        "Keep the keys users give (``user_env``) in their threads' metadata, in the "
        "database as they are, so a resumed chat has them again. Off: they are never stored.",
        toml=("project.persist_user_env",),
    )
    mask_user_env: bool = setting(
        True,
        "Hide the keys users type in the form that asks for them (a password field).",
        toml=("project.mask_user_env",),
    )
    langchain_cache: bool = setting(
        False,
        "Keep LangChain's model answers in a SQLite file, so the same prompt to the same "
        "model is answered once, across chats and restarts (``lightchat run --no-cache`` "
        "turns it off for a run). Needs the ``langchain`` extra.",
        toml=("project.cache",),
    )
    lc_cache_path: str = setting(
        "",
        "The file of LangChain's cache (``langchain_cache``). Empty: "
        "``.lightchat/langchain.db`` beside the app.",
        toml=("project.lc_cache_path",),
        shown="`.lightchat/langchain.db`",
    )
    user_env: str = setting(
        "",
        "Keys each user must give before chatting (comma-separated, e.g. "
        '``OPENAI_API_KEY``); a chat finds them in ``user_session.get("env")``.',
        toml=("project.user_env",),
        toml_kind="list",
        shown="empty",
    )
    edit: bool = setting(
        True,
        "Let users edit a message they sent (the conversation after it is redone), and ask "
        'for an answer again ("Regenerate").',
        toml=("features.edit_message",),
    )
    favorites: bool = setting(
        False,
        "Let signed-in users mark their messages with a star and send one again from the "
        'composer\'s "Favorites". Needs history and sign-in.',
        toml=("features.favorites",),
    )
    cot: str = setting(
        "full",
        "Which steps the chat shows: ``full`` (all), ``tool_call`` (tool steps) or ``hidden``.",
        toml=("ui.cot",),
        choices=COT_MODES,
    )
    collapse_content: bool = setting(
        True,
        'Collapse long messages (over 25 lines or 3,000 characters) behind "Show more"; '
        "off, every message shows whole.",
        toml=("ui.default_collapse_content",),
    )
    layout: str = setting(
        "default",
        "The page's layout: ``default`` (a centred column) or ``wide`` (the full width).",
        toml=("ui.layout",),
        choices=LAYOUTS,
    )
    default_theme: str = setting(
        "system",
        "The theme a browser shows until its user picks one: ``light``, ``dark`` or "
        "``system`` (the browser's preference).",
        toml=("ui.default_theme",),
        choices=THEMES,
    )
    latex: bool = setting(
        False,
        "Render LaTeX between dollars in messages (``$x^2$``, ``$$...$$``) as MathML; off, "
        "dollars are plain text.",
        toml=("features.latex",),
    )
    audio: bool = setting(
        False,
        'Voice input: a microphone button ("Start recording") in the composer streams the '
        "user's voice to ``on_audio_start``, ``on_audio_chunk`` and ``on_audio_end`` (16-bit "
        "PCM, mono), and audio the app sends (``emitter.send_audio_chunk``) plays in the page.",
        toml=("features.audio.enabled",),
    )
    audio_sample_rate: int = setting(
        24000,
        "With ``audio``: the sample rate, in Hz, of the voice the browser records and of the "
        "audio the app sends back (8000 to 48000).",
        toml=("features.audio.sample_rate",),
    )
    mcp: bool = setting(
        False,
        'Let users connect MCP servers to their chats ("MCP servers" in the chat\'s '
        "header), and connect the app's own (``mcp_servers``); the app gets each server's "
        "session in ``on_mcp_connect``. Needs the ``mcp`` extra.",
        toml=("features.mcp.enabled",),
    )
    mcp_sse: bool = setting(
        True,
        "With ``mcp``: users may add servers reached over SSE (a URL).",
        toml=("features.mcp.sse.enabled",),
    )
    mcp_streamable_http: bool = setting(
        True,
        "With ``mcp``: users may add servers reached over streamable HTTP (a URL).",
        toml=("features.mcp.streamable-http.enabled",),
    )
    mcp_stdio: bool = setting(
        True,
        "With ``mcp``: users may add servers started as a process on this machine (stdio), "
        "from the executables of ``mcp_allowed_executables`` only.",
        toml=("features.mcp.stdio.enabled",),
    )
    mcp_allowed_executables: str = setting(
        "",
        "The executables a user's stdio command may start, by bare name (``npx``, ``uvx``), "
        "comma-separated, found on the server's ``PATH``; started without a shell, its "
        "arguments passed as they are. Empty: no user's command runs (Chainlit's default "
        "runs any).",
        toml=("features.mcp.stdio.allowed_executables",),
        toml_kind="list",
        shown="empty: none",
    )
    mcp_allowed_env: str = setting(
        "",
        "lightchat's own: the environment variables a user may set in front of a stdio "
        "command (``API_KEY=... npx server``), comma-separated. The process gets these and "
        "a few safe ones (``PATH``, ``HOME``...), never the server's whole environment.",
        toml=("features.mcp.stdio.allowed_env",),
        toml_kind="list",
        shown="none",
    )
    mcp_stdio_anonymous: bool = setting(
        False,
        "lightchat's own: users who are not signed in may add a stdio server too. Off: only"
        " signed-in users may start a process on the server.",
        toml=("features.mcp.stdio.allow_anonymous",),
    )
    mcp_allowed_hosts: str = setting(
        "",
        "lightchat's own: host names, IP addresses or networks (``10.1.0.0/16``) that a "
        "user's MCP URL may reach although they are loopback, private or link-local "
        "addresses, comma-separated. Any other such address is refused, on every "
        "connection (redirects included).",
        toml=("features.mcp.allowed_hosts",),
        toml_kind="list",
        shown="none",
    )
    mcp_timeout_s: int = setting(
        30,
        "lightchat's own: how long an MCP server may take to connect and answer its first "
        "requests, then to answer each request or tool call, in seconds.",
        toml=("features.mcp.timeout",),
    )
    mcp_max_bytes: int = setting(
        4 * 1024 * 1024,
        "lightchat's own: the largest message an MCP server may send (a response, an "
        "event, a line), in bytes; a server that sends more is disconnected.",
        toml=("features.mcp.max_message_bytes",),
        shown="`4194304` (4 MiB)",
    )
    mcp_servers: tuple[McpServerSpec, ...] = field(
        default=(),
        hash=False,
        metadata={
            "doc": Doc(
                "lightchat's own: the app's MCP servers, which every chat connects to: "
                "``[features.mcp.servers.<name>]`` tables of ``lightchat.toml`` with a "
                "``command`` (stdio, run without a shell) or a ``url`` (with ``transport``, "
                "``streamable-http`` or ``sse``, and ``headers``). As a variable: the same "
                'tables in JSON (``{"docs": {"url": "https://..."}}``).',
                shown="none",
            )
        },
    )
    theme: dict[str, Any] = field(
        default_factory=dict,
        hash=False,
        metadata={
            "doc": Doc(
                "The ``[ui.theme]`` table of ``lightchat.toml``: ``font_family``, "
                "``font_mono``, ``radius``, and ``[ui.theme.light]`` / ``[ui.theme.dark]`` "
                "colours (checked when the app starts, see ``lightchat.ui.theme``).",
                shown="none",
            )
        },
    )
    custom_css: str = setting(
        "",
        "A stylesheet of the app's own, linked after lightchat's: a path of the app "
        "(``/public/brand.css``) or an https URL (which the Content-Security-Policy then "
        "allows).",
        toml=("ui.custom_css",),
        shown="none",
    )
    custom_js: str = setting(
        "",
        "A script of the app's own, loaded after lightchat's (a path or an https URL).",
        toml=("ui.custom_js",),
        shown="none",
    )
    custom_font: str = setting(
        "",
        "A stylesheet that loads fonts (``https://fonts.googleapis.com/css2?family=Inter``).",
        toml=("ui.custom_font",),
        shown="none",
    )
    logo_file_url: str = setting(
        "",
        "The header's logo in both themes. Empty: ``public/logo_light.*`` and "
        "``public/logo_dark.*``, else the app's name as text.",
        toml=("ui.logo_file_url",),
        shown="`public/logo_light.*`, `public/logo_dark.*`",
    )
    default_avatar_file_url: str = setting(
        "",
        "The assistant's avatar when ``public/avatars/`` has none for its name. Empty: "
        "``public/avatars/default.*``, else none.",
        toml=("ui.default_avatar_file_url",),
        shown="`public/avatars/default.*`",
    )
    favicon_file_url: str = setting(
        "",
        "The page's icon. Empty: ``public/favicon.*``, else none.",
        toml=("ui.favicon_file_url",),
        shown="`public/favicon.*`",
    )
    description: str = setting(
        "",
        "The app's description for search engines and link previews (the page's "
        '``<meta name="description">`` and ``og:description``).',
        toml=("ui.description",),
        shown="none",
    )
    custom_meta_url: str = setting(
        "",
        "The app's address in link previews (``og:url``): an http(s) URL.",
        toml=("ui.custom_meta_url",),
        shown="none",
    )
    custom_meta_image_url: str = setting(
        "",
        "The image of link previews (``og:image``): an http(s) URL.",
        toml=("ui.custom_meta_image_url",),
        shown="none",
    )
    language: str = setting(
        "",
        "Show the UI in this language whatever the browser asks for (``fr-FR``, ``de``); "
        "the app's callbacks get it as the user's language too. Empty: each browser's "
        "own.",
        toml=("ui.language",),
        shown="each browser's",
    )
    header_links: str = setting(
        "",
        "Links in the header: ``[[ui.header_links]]`` tables with ``name`` (the link's "
        "name), ``url`` (http(s) or relative), and optionally ``display_name`` (text shown"
        " beside the icon), ``icon_url`` (an image) and ``target`` (``_blank``, the "
        "default, ``_self``, ``_parent`` or ``_top``). As a variable: the same list in "
        "JSON.",
        toml=("ui.header_links",),
        toml_kind="links",
        shown="none",
    )
    github: str = setting(
        "",
        'A "GitHub" link in the header to this http(s) address (the app\'s repository).',
        toml=("ui.github",),
        shown="none",
    )
    default_sidebar_state: str = setting(
        "open",
        "The history sidebar when a page opens: ``open``, ``closed`` (the header's "
        '"History" button shows it) or ``hidden`` (no sidebar; "History" opens the '
        "history page).",
        toml=("ui.default_sidebar_state",),
        choices=SIDEBAR_STATES,
    )
    confirm_new_chat: bool = setting(
        False,
        'Ask before "New chat" leaves the current chat (a dialog; a page of its own '
        "without JavaScript).",
        toml=("ui.confirm_new_chat",),
    )
    chat_settings_location: str = setting(
        "message_composer",
        'Where a chat\'s "Settings" button sits: ``message_composer`` (beside the message '
        "box) or ``sidebar`` (in the header).",
        toml=("ui.chat_settings_location",),
        choices=SETTINGS_LOCATIONS,
    )
    default_chat_settings_open: bool = setting(
        False,
        'With ``chat_settings_location = "sidebar"``: open the chat\'s settings as soon '
        "as the chat has them.",
        toml=("ui.default_chat_settings_open",),
    )
    login_page_image: str = setting(
        "",
        "An image beside the sign-in form on wide screens: a path of the app "
        "(``/public/login.jpg``) or an https URL.",
        toml=("ui.login_page_image",),
        shown="none",
    )
    login_page_image_filter: str = setting(
        "",
        "Filters on that image in the light theme, as Tailwind classes (``brightness-50 "
        "grayscale``): ``brightness``, ``contrast``, ``saturate``, ``grayscale``, "
        "``invert``, ``sepia``, ``blur`` and ``hue-rotate``, turned into CSS.",
        toml=("ui.login_page_image_filter",),
        shown="none",
    )
    login_page_image_dark_filter: str = setting(
        "brightness-[0.2] grayscale",
        "The same in the dark theme.",
        toml=("ui.login_page_image_dark_filter",),
    )
    avatar_size: int = setting(
        24, "The size of message avatars, in pixels.", toml=("ui.avatar_size",)
    )
    user_message_markdown: bool = setting(
        True,
        "Show the user's messages as markdown (the safe renderer of the answers); off, as typed.",
        toml=("features.user_message_markdown",),
    )
    user_message_autoscroll: bool = setting(
        True,
        "Scroll to a message the user just sent, even if they had scrolled up.",
        toml=("features.user_message_autoscroll",),
    )
    assistant_message_autoscroll: bool = setting(
        True,
        "Follow an answer as it is written, unless the reader scrolls up; off, the page "
        "stays where it is.",
        toml=("features.assistant_message_autoscroll",),
    )
    uploads: bool = setting(
        True,
        'Let users attach files to their messages ("Attach files" in the composer).',
        toml=("features.spontaneous_file_upload.enabled", "features.uploads"),
    )
    upload_accept: str = setting(
        "*/*",
        "What users may attach: MIME types and extensions, comma-separated (``image/*,.pdf``).",
        toml=("features.spontaneous_file_upload.accept", "features.upload_accept"),
        toml_kind="list",
    )
    upload_max_files: int = setting(
        10,
        "How many files one message may carry.",
        toml=("features.spontaneous_file_upload.max_files", "features.upload_max_files"),
    )
    upload_max_size_mb: int = setting(
        20,
        "The largest file a user may attach or upload, in megabytes.",
        toml=("features.spontaneous_file_upload.max_size_mb", "features.upload_max_size_mb"),
    )
    frame_ancestors: str = setting(
        "'self'",
        "The pages that may show the app in a frame: the Content-Security-Policy's "
        "``frame-ancestors`` sources, space-separated (``'self' "
        "https://intranet.example``); ``'none'`` forbids every frame.",
        toml=("project.frame_ancestors",),
    )
    allow_origins: str = setting(
        "",
        "Other sites whose pages may call the app with the user's cookies (CORS), as "
        "origins, comma-separated (``https://portal.example,https://admin.example``). "
        "Empty: only the app's own pages. ``*`` is refused: any site could then act as the "
        "signed-in user.",
        toml=("project.allow_origins",),
        toml_kind="origins",
        shown="empty (same origin only)",
    )
    markdown_images: bool = setting(
        True,
        "Show the images of markdown text (``![alt](https://...)``; http(s) and relative "
        "URLs only). Off, each one is a link to its URL instead, so nothing loads by "
        "itself.",
    )
    oauth_allow_unverified_email: bool = setting(
        False,
        "Let an OAuth provider sign in a user by an email address it says it has not "
        "verified (``email_verified`` false). Off: such a sign-in is refused, since whoever"
        " typed someone else's address at that provider would become that user here.",
    )
    element_dirs: str = setting(
        "",
        "The folders whose files elements made from ``path=`` may read, separated by "
        "``os.pathsep`` (``:``; ``;`` on Windows). Empty: the app's ``public/`` folder and "
        "the system's temporary folder. Whatever the folders, hidden files, lightchat's own"
        " state and other chats' uploads are never read (see "
        "``lightchat.api.element_paths``).",
        shown="the app's `public/` folder and the system's temporary folder",
    )
    database_url: str = setting(
        "",
        "Where history is kept. Empty: SQLite in ``.lightchat/chat.db`` in ``app_dir``.",
        shown="SQLite in `.lightchat/chat.db`",
    )
    redis_url: str = setting(
        "",
        "The Redis that keeps the chats' event logs, so several workers can serve one app "
        "(``redis://[:password@]host:6379/0``, ``rediss://`` for TLS, ``unix:///path``). "
        "Empty: logs stay in this process (one worker).",
        shown="none: logs stay in the process",
    )
    redis_prefix: str = setting(
        "lc:", "The start of every key lightchat writes in Redis, so several apps can share one."
    )
    log_ttl_s: int = setting(
        86400, "How long a chat's event log stays in Redis after its last event, in seconds."
    )
    log_compact_after: int = setting(
        2000,
        "With Redis: when a run ends and a chat's log holds more entries than this, the log"
        " is replaced by a snapshot of the chat (its tokens folded into their messages).",
    )
    otel_endpoint: str = setting(
        "",
        "Where to send the chats' runs and steps as OpenTelemetry traces, over OTLP/HTTP: "
        "the collector's address (``http://localhost:4318``; ``/v1/traces`` is added) or "
        "its full traces URL. Each step is a span in its run's trace; an ``llm`` step with "
        "a generation follows the GenAI semantic conventions. Needs the ``otel`` extra. "
        "Empty: nothing is exported (or imported).",
        toml=("project.otel_endpoint",),
        shown="none: no traces",
        env=("OTEL_EXPORTER_OTLP_ENDPOINT",),
    )
    otel_capture_content: bool = setting(
        False,
        "With ``otel_endpoint``: put what steps and LLM calls read and wrote in the spans "
        "(a step's input and output, a generation's messages, as "
        "``gen_ai.input.messages``...). Off: only names, models, settings, token counts "
        "and times, as the GenAI conventions advise by default (prompts may hold personal "
        "data).",
        toml=("project.otel_capture_content",),
    )
    debug: bool = setting(
        False,
        "Debug mode, for the app's developer (``lightchat run -d``): each step's start and "
        "duration, the traceback of a callback that failed, the chat's events in a \"Run "
        'details" panel, its log as JSON Lines and a replay of it. With sign-in, only '
        'admins see them (users whose metadata has ``"role": "admin"``).',
    )
    admins: str = setting(
        "",
        "The identifiers of the signed-in users who are the app's admins, comma-separated "
        '(besides users whose metadata has ``"role": "admin"``): they see the "Analytics" '
        "page.",
        toml=("project.admins",),
        toml_kind="list",
        shown="empty",
    )
    analytics_local: bool = setting(
        False,
        'lightchat\'s own: without sign-in, open the "Analytics" page to requests from the '
        "machine itself (a loopback client talking to a loopback address, through no "
        "proxy). Off, an app without sign-in has no analytics page.",
    )
    app_dir: str = setting(
        ".",
        "The app's folder (``lightchat serve`` sets it to the app file's folder).",
        shown="the app file's folder",
        env=("CHAINLIT_APP_ROOT",),
    )
    shutdown_grace_s: int = setting(
        30,
        "On shutdown (SIGTERM), how long running callbacks may take to finish their "
        "answers; then they are stopped, and what they showed is kept. Meanwhile new runs "
        "are refused (or, with several workers, taken by another worker).",
    )
    worker_ttl_s: int = setting(
        6,
        "With several workers (a Redis URL): how long a worker that stopped answering "
        "counts as alive. Its heartbeat is refreshed every third of this; once it lapses, "
        "other workers take its chats over.",
    )

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
            named = (env.get(name) for name in doc_of("app_dir").variables("app_dir"))
            folder = overrides.get("app_dir") or next((n for n in named if n), None) or "."
            from lightchat.config.toml import read_config_file  # it reads Settings' defaults

            values.update(read_config_file(str(folder)))
        for f in fields(cls):
            if f.name == "theme":
                continue  # a table: lightchat.toml only
            doc = f.metadata["doc"]
            assert isinstance(doc, Doc)
            variable = next((name for name in doc.variables(f.name) if name in env), None)
            if variable is None:
                continue
            raw = env[variable]
            if f.name == "mcp_servers":
                values[f.name] = mcp_servers_of(variable, _json_tables(variable, raw))
            elif f.type in ("bool", bool):
                values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
            elif f.type in ("int", int):
                try:
                    values[f.name] = int(raw)
                except ValueError:
                    raise ConfigError(
                        f"{variable}={raw!r} is not a whole number; "
                        f"set it to one, e.g. {variable}={getattr(cls(), f.name)}"
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
        self.check_ui()
        if self.otel_endpoint and not _WEB_URL.fullmatch(self.otel_endpoint):
            raise ConfigError(
                f"LIGHTCHAT_OTEL_ENDPOINT={self.otel_endpoint!r} is not an http(s) address; "
                "write the collector's, e.g. LIGHTCHAT_OTEL_ENDPOINT=http://localhost:4318"
            )
        self.check_mcp()
        if not 8000 <= self.audio_sample_rate <= 48000:
            raise ConfigError(
                f"LIGHTCHAT_AUDIO_SAMPLE_RATE={self.audio_sample_rate} is not between 8000 and "
                "48000; set a rate in Hz, e.g. LIGHTCHAT_AUDIO_SAMPLE_RATE=24000"
            )

    def check_mcp(self) -> None:
        """Raise ``ConfigError`` for an MCP setting that cannot work, naming the fix."""
        for name in ("mcp_timeout_s", "mcp_max_bytes"):
            if getattr(self, name) <= 0:
                raise ConfigError(
                    f"LIGHTCHAT_{name.upper()}={getattr(self, name)} must be positive; set it "
                    f"to one, e.g. LIGHTCHAT_{name.upper()}={getattr(Settings(), name)}"
                )
        for executable in comma_list(self.mcp_allowed_executables):
            if not _EXECUTABLE.fullmatch(executable):
                raise ConfigError(
                    f"LIGHTCHAT_MCP_ALLOWED_EXECUTABLES: {executable!r} is not an executable's "
                    "bare name; name it without a folder, e.g. npx (it is looked for on PATH)"
                )
        for variable in comma_list(self.mcp_allowed_env):
            if not ENV_NAME.fullmatch(variable):
                raise ConfigError(
                    f"LIGHTCHAT_MCP_ALLOWED_ENV: {variable!r} is not a variable's name; write "
                    "names like API_KEY, comma-separated"
                )
        for host in comma_list(self.mcp_allowed_hosts):
            if not _host_or_network(host):
                raise ConfigError(
                    f"LIGHTCHAT_MCP_ALLOWED_HOSTS: {host!r} is not a host name, an IP address "
                    "or a network; write e.g. mcp.internal, 10.0.0.5 or 10.1.0.0/16"
                )

    def check_ui(self) -> None:
        """Raise ``ConfigError`` for a UI setting that cannot work (an unsafe link, an
        unknown choice), naming the fix."""
        for name, choices in (
            ("default_sidebar_state", SIDEBAR_STATES),
            ("chat_settings_location", SETTINGS_LOCATIONS),
        ):
            if getattr(self, name) not in choices:
                raise ConfigError(
                    f"LIGHTCHAT_{name.upper()}={getattr(self, name)!r} is not one of "
                    f"{', '.join(choices)}; set it to one, e.g. "
                    f"LIGHTCHAT_{name.upper()}={choices[0]}"
                )
        if self.language and not LANGUAGE_TAG.fullmatch(self.language):
            raise ConfigError(
                f"LIGHTCHAT_LANGUAGE={self.language!r} is not a language tag; write one like "
                "LIGHTCHAT_LANGUAGE=fr-FR, or leave it empty for each browser's language"
            )
        for name in ("github", "custom_meta_url", "custom_meta_image_url"):
            value = getattr(self, name)
            if value and not _WEB_URL.fullmatch(value):
                raise ConfigError(
                    f"LIGHTCHAT_{name.upper()}={value!r} is not an http(s) address; write a "
                    f"full one, e.g. LIGHTCHAT_{name.upper()}=https://example.com/"
                )
        if not 8 <= self.avatar_size <= 256:
            raise ConfigError(
                f"LIGHTCHAT_AVATAR_SIZE={self.avatar_size} is not a size in pixels from 8 to "
                "256; set one, e.g. LIGHTCHAT_AVATAR_SIZE=24"
            )
        self.header_link_list()

    def header_link_list(self) -> tuple[HeaderLink, ...]:
        """``header_links`` (JSON), checked: each link's URL is http(s) or relative.

        Raises ``ConfigError`` naming the link and the fix for anything else (a
        ``javascript:`` link would run in the page).
        """
        return header_links_of(self.header_links)

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
                    f"LIGHTCHAT_ALLOWORIGINS={self.allow_origins!r}: '*' would let every "
                    "site use the app with its users' cookies. List each site's origin "
                    "instead, e.g. LIGHTCHAT_ALLOWORIGINS=https://portal.example"
                )
            if not ORIGIN.fullmatch(origin):
                raise ConfigError(
                    f"LIGHTCHAT_ALLOWORIGINS: {raw.strip()!r} is not an origin; write "
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


@dataclass(frozen=True, slots=True)
class HeaderLink:
    """A link in the header (Chainlit's ``[[UI.header_links]]``)."""

    name: str
    """Its accessible name (and tooltip)."""
    url: str
    icon_url: str = ""
    display_name: str = ""
    """Text shown beside the icon (none: the icon alone, or the name without an icon)."""
    target: str = "_blank"


_LINK_KEYS = ("name", "url", "icon_url", "display_name", "target")
_LINK_EXAMPLE = (
    '[{"name": "Docs", "url": "https://example.com/docs", "icon_url": "/public/docs.svg"}]'
)


def header_links_of(raw: str) -> tuple[HeaderLink, ...]:
    """The header links a JSON list of objects describes ("" for none), checked.

    Raises ``ConfigError`` naming the link, its key and the fix.
    """
    if not raw.strip():
        return ()
    try:
        data = json.loads(raw)
    except ValueError:
        data = None
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise ConfigError(
            f"header_links must be a list of links with a name and a url, e.g. {_LINK_EXAMPLE}"
        )
    links: list[HeaderLink] = []
    for index, item in enumerate(data, start=1):
        where = f"header_links, link {index}"
        unknown = [key for key in item if key not in _LINK_KEYS]
        if unknown:
            raise ConfigError(
                f"{where}: unknown key {unknown[0]!r}; a link takes {', '.join(_LINK_KEYS)}."
            )
        if not all(isinstance(value, str) for value in item.values()):
            raise ConfigError(f"{where}: every value is a string in quotes.")
        name, url = item.get("name", "").strip(), item.get("url", "").strip()
        if not name or not url:
            raise ConfigError(f"{where}: give it a name and a url, e.g. {_LINK_EXAMPLE}")
        for key in ("url", "icon_url"):
            value = item.get(key, "").strip()
            if value and not safe_link(value):
                raise ConfigError(
                    f"{where}: {key} = {value!r} is refused; a link goes to an http(s) "
                    'address or a relative one ("https://example.com", "/public/help.html").'
                )
        target = item.get("target") or "_blank"
        if target not in LINK_TARGETS:
            raise ConfigError(f"{where}: target is one of {', '.join(LINK_TARGETS)}.")
        links.append(
            HeaderLink(
                name=name,
                url=url,
                icon_url=item.get("icon_url", "").strip(),
                display_name=item.get("display_name", "").strip(),
                target=target,
            )
        )
    return tuple(links)


def comma_list(text: str) -> tuple[str, ...]:
    """The items of a comma-separated setting, stripped, without empty ones."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


MCP_TRANSPORTS = ("streamable-http", "sse")
"""How an app's MCP server with a ``url`` is reached (``transport``), the default first."""
MCP_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")
"""An HTTP header's name (an RFC 9110 token), as a server's ``headers`` may have it."""
MCP_HEADER_VALUE_MAX = 8192
"""The longest value of one header given to an MCP server, in characters."""
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
"""An environment variable's name."""
_EXECUTABLE = re.compile(r"[^\s/\\]+")
_SERVER_KEYS = ("command", "url", "transport", "headers")
_SERVER_EXAMPLE = 'command = "npx -y @modelcontextprotocol/server-memory"'


def mcp_header_problem(name: object, value: object) -> str:
    """What is wrong with a header given to an MCP server ("" if nothing): a name that is
    not a token, a value that is not text or holds a line break or another control
    character (which would start another header), or one too long."""
    if not isinstance(name, str) or not MCP_HEADER_NAME.fullmatch(name):
        return f"{name!r} is not a header name (letters, digits and -)"
    if not isinstance(value, str):
        return f"the value of {name} is not a string"
    if any((ord(c) < 32 and c != "\t") or ord(c) == 127 for c in value):
        return f"the value of {name} holds a line break or a control character"
    if len(value) > MCP_HEADER_VALUE_MAX:
        return f"the value of {name} is longer than {MCP_HEADER_VALUE_MAX} characters"
    return ""


def mcp_servers_of(source: str, tables: object) -> tuple[McpServerSpec, ...]:
    """The app's MCP servers that ``[features.mcp.servers.<name>]`` tables declare
    (``origin="app"``), checked.

    Raises ``ConfigError`` naming ``source``, the server's key and the fix for a server
    with neither or both of ``command`` and ``url``, an unknown key or a bad value.
    """
    if not isinstance(tables, Mapping):
        raise ConfigError(
            f"{source}: features.mcp.servers must be tables, one per server; write "
            f"[features.mcp.servers.memory] with e.g. {_SERVER_EXAMPLE} below it."
        )
    specs: list[McpServerSpec] = []
    for name, table in tables.items():
        where = f"{source}: features.mcp.servers.{name}"
        if not isinstance(table, Mapping):
            raise ConfigError(
                f"{where} must be a table; write [features.mcp.servers.{name}] with e.g. "
                f"{_SERVER_EXAMPLE} below it."
            )
        if not str(name).strip() or len(str(name)) > 64 or not str(name).isprintable():
            raise ConfigError(f"{where}: a server's name is 1 to 64 printable characters.")
        unknown = [key for key in table if key not in _SERVER_KEYS]
        if unknown:
            raise ConfigError(
                f"{where}: unknown key {unknown[0]!r}; a server takes {', '.join(_SERVER_KEYS)}."
            )
        command, url = table.get("command"), table.get("url")
        if (command is None) == (url is None):
            raise ConfigError(
                f"{where}: give it either a command (a process started on this machine, e.g. "
                f'{_SERVER_EXAMPLE}) or a url (e.g. url = "https://mcp.example.com/mcp").'
            )
        if command is not None:
            specs.append(_app_stdio_server(where, str(name), command, table))
        else:
            specs.append(_app_url_server(where, str(name), url, table))
    return tuple(specs)


def _app_stdio_server(
    where: str, name: str, command: object, table: Mapping[str, object]
) -> McpServerSpec:
    if not isinstance(command, str) or not command.strip():
        raise ConfigError(f"{where}: command is the command line in quotes, e.g. {_SERVER_EXAMPLE}")
    try:
        shlex.split(command)
    except ValueError as exc:
        raise ConfigError(f"{where}: command = {command!r} cannot be split ({exc}).") from None
    for key in ("transport", "headers"):
        if key in table:
            raise ConfigError(f"{where}: {key} is for a server with a url; remove it.")
    return McpServerSpec(name=name, kind="stdio", command=command.strip(), origin="app")


def _app_url_server(
    where: str, name: str, url: object, table: Mapping[str, object]
) -> McpServerSpec:
    if not isinstance(url, str) or not _WEB_URL.fullmatch(url.strip()):
        raise ConfigError(
            f'{where}: url = {url!r} is not an http(s) address; e.g. url = "https://mcp.example.com/mcp"'
        )
    transport = table.get("transport", MCP_TRANSPORTS[0])
    if transport not in MCP_TRANSPORTS:
        raise ConfigError(
            f"{where}: transport = {transport!r}: expected one of {', '.join(MCP_TRANSPORTS)}, "
            'e.g. transport = "sse"'
        )
    headers = table.get("headers", {})
    if not isinstance(headers, Mapping):
        raise ConfigError(
            f"{where}: headers is a table of strings, e.g. "
            'headers = { Authorization = "Bearer ..." }'
        )
    for header, value in headers.items():
        problem = mcp_header_problem(header, value)
        if problem:
            raise ConfigError(f"{where}: headers: {problem}.")
    return McpServerSpec(
        name=name,
        kind="sse" if transport == "sse" else "streamable-http",
        url=url.strip(),
        headers={str(k): str(v) for k, v in headers.items()},
        origin="app",
    )


def _json_tables(variable: str, raw: str) -> object:
    try:
        return json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise ConfigError(
            f'{variable} is not JSON; write the servers as {{"name": {{"url": "https://..."}}}}'
        ) from None


def _host_or_network(text: str) -> bool:
    """Whether ``text`` is a host name, an IP address or a network (``mcp_allowed_hosts``)."""
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return bool(_HOST_NAME.fullmatch(text))
    return True


_HOST_NAME = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}\.?)*(?<!\.)\.?")


def safe_link(url: str) -> bool:
    """Whether a link may go in the page: an http(s) address, or a relative one (a path,
    ``?query`` or ``#fragment``); never another scheme (``javascript:``, ``data:``), nor
    ``//host`` nor anything with spaces, quotes, ``<>`` or backslashes."""
    return bool(_WEB_URL.fullmatch(url) or _RELATIVE_URL.fullmatch(url))


_WEB_URL = re.compile(r"https?://[^\s\"'<>\\]+", re.IGNORECASE)
_RELATIVE_URL = re.compile(r"(?!//)[^\s\"'<>\\:]*(?:[/?#][^\s\"'<>\\]*)?")
LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8}){0,3}")
"""A BCP 47 language tag as ``ui.language`` takes it (``en``, ``fr-FR``, ``zh-Hant-TW``)."""
_REDIS_URL = re.compile(r"(?:rediss?|unix)://\S+\Z", re.IGNORECASE)
ORIGIN = re.compile(r"https?://(?:[a-z0-9-]+(?:\.[a-z0-9-]+)*|\[[0-9a-f:.]+\])(?::\d{1,5})?")
_FRAME_SOURCE = re.compile(
    r"'self'|'none'|[a-z][a-z0-9+.-]*:"
    r"|(?:[a-z][a-z0-9+.-]*://)?(?:\*|(?:\*\.)?[a-z0-9-]+(?:\.[a-z0-9-]+)*)"
    r"(?::(?:\d{1,5}|\*))?(?:/[^\s;,']*)?",
    re.IGNORECASE,
)


def settings_table() -> str:
    """The README's table of settings (Markdown), made from each setting's ``Doc``."""
    rows = [
        "| variable | default | meaning | `lightchat.toml` |",
        "|---|---|---|---|",
    ]
    defaults = Settings()
    for setting in fields(Settings):
        doc = setting.metadata["doc"]
        assert isinstance(doc, Doc)
        if setting.name == "theme":
            continue  # a table: lightchat.toml only
        value = getattr(defaults, setting.name)
        if doc.shown:
            shown = doc.shown
        elif isinstance(value, bool):
            shown = f"`{str(value).lower()}`"
        elif value == "":
            shown = "empty"
        else:
            shown = f"`{value}`"
        keys = ", ".join(f"`{key}`" for key in doc.toml)
        text = doc.text.replace("``", "`")
        names = ", ".join(f"`{name}`" for name in doc.variables(setting.name))
        rows.append(f"| {names} | {shown} | {text} | {keys} |")
    return "\n".join(rows) + "\n"
