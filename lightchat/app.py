"""The app object: callbacks, settings and the server, wired together.

``LightChat`` is an ASGI app. The module-level decorators (``cl.on_message``...) register on
a default instance that ``lightchat serve`` picks up; an explicit instance keeps several
apps apart in one process::

    app = LightChat()

    @app.on_message
    async def echo(message):
        await Message(content=message.content).send()
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any, ClassVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.types import Receive, Scope, Send

from lightchat.api.elements import Action
from lightchat.api.message import Message
from lightchat.auth.host import HostAuth, host_user_reader
from lightchat.auth.identity import BrowserIdentity, stored_secret
from lightchat.auth.served import serve as serve_sign_in
from lightchat.auth.sessions import Auth
from lightchat.bus import Bus, MemoryBus
from lightchat.chat.chats import Chats
from lightchat.chat.chats import serve as serve_chats
from lightchat.chat.history import History
from lightchat.chat.mcp import McpServices
from lightchat.chat.mcp_memory import McpMemory, SharedBlobs
from lightchat.chat.session import ChatSession
from lightchat.config.registry import Registry, invoke
from lightchat.config.settings import Settings
from lightchat.domain.events import Entry, RunEvent
from lightchat.domain.mcp import McpConnector, McpKind
from lightchat.errors import ConfigError
from lightchat.files import FileStorage, LocalFileStorage
from lightchat.http.endpoints.analytics import shows_analytics
from lightchat.http.middleware.compress import CompressPages
from lightchat.http.middleware.csrf import HEADER as FORM_TOKEN_HEADER
from lightchat.http.middleware.csrf import FormTokens
from lightchat.http.middleware.host_users import HostUsers
from lightchat.http.middleware.language import Languages
from lightchat.http.middleware.security import (
    BodyLimit,
    ClientGone,
    SameOriginWrites,
    SecurityHeaders,
    content_security_policy,
)
from lightchat.http.middleware.sign_in import SignInGate
from lightchat.http.middleware.theme import ThemeCookie
from lightchat.http.routes import STATIC, not_found, routes
from lightchat.http.web import Services
from lightchat.platforms import PlatformEndpoints, Platforms
from lightchat.storage import BucketStorage, storage_from_environ
from lightchat.ui.render import Renderer

if TYPE_CHECKING:  # redis is imported only when the app has a Redis URL
    from lightchat.cluster import Cluster
    from lightchat.redis_pool import Pool
    from lightchat.telemetry import Telemetry  # and OpenTelemetry with an endpoint

logger = logging.getLogger("lightchat")

REAP_EVERY_S = 60
MAX_BODY_BYTES = 1024 * 1024
FINISH_WAIT_S = 5.0
"""How long a worker shutting down waits, at the very end, for the requests still under
way through Redis (forwarded to it, or by it to the worker it handed a chat to)."""


class LightChat(Registry):
    """A chat app: register callbacks with its decorators, serve it as an ASGI app."""

    mcp_connector_factory: ClassVar[Callable[[Settings], McpConnector] | None] = None
    """What makes the connector of MCP servers from the settings, when an app turns
    ``features.mcp`` on. The ``lightchat`` package sets it to a function that imports
    ``lightchat.integrations.mcp`` (and so the ``mcp`` SDK) only then: this layer imports
    no integration."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        bus: Bus | None = None,
        files: FileStorage | None = None,
        host_auth: HostAuth = False,
    ) -> None:
        """``files``: where uploads and element files are kept (by default a
        ``LocalFileStorage`` in ``.lightchat/files`` in the app's folder); the history
        deletes a chat's files there with the chat.

        ``host_auth``: when the app is mounted in a host app that signs its users in,
        ``True`` takes the host's user (``request.user`` or ``request.state.user``) as the
        signed-in user; a function of the request returning a ``User`` (or None) maps it
        itself. A request without a host user is refused (see ``lightchat.auth.host``).
        """
        super().__init__()
        self._settings = settings
        self._explicit = settings is not None
        self._overrides: dict[str, Any] = {}
        self._bus = bus
        self._files = files
        self._asgi: Starlette | None = None
        self.host_auth: HostAuth = host_auth
        self._running = False  # the lifespan has started and not ended
        self._starting: asyncio.Future[None] | None = None
        self._runner: tuple[asyncio.Task[None], asyncio.Event] | None = None
        self.chats: Chats | None = None
        """This worker's chats, once built. The end of the lifespan (SIGTERM) drains them:
        no new runs, the running ones finish within ``shutdown_grace_s``."""
        self.history: History | None = None

    @property
    def settings(self) -> Settings:
        """The settings in force, read on first use: the ``settings`` given, else the
        defaults < ``lightchat.toml`` in ``app_dir`` < ``LIGHTCHAT_*`` variables <
        ``configure()``."""
        if self._settings is None:
            self._settings = Settings.from_env(config_file=True, **self._overrides)
        return self._settings

    @property
    def app_dir(self) -> str:
        """The app's folder, where ``lightchat.toml`` is looked for (found without reading it)."""
        if self._settings is not None:
            return self._settings.app_dir
        return Settings.from_env(**self._overrides).app_dir

    @property
    def running(self) -> bool:
        """True while the app's lifespan runs (history open, idle chats reaped)."""
        return self._running

    @property
    def built(self) -> bool:
        """True once the app is built (registration and settings are closed then)."""
        return self._asgi is not None

    def configure(self, **overrides: Any) -> None:
        """Change settings before the app starts serving (the CLI's flags use this)."""
        if self._asgi is not None:
            raise RuntimeError("configure() must be called before the app starts serving.")
        if self._explicit:
            self._settings = replace(self.settings, **overrides)
            return
        replace(Settings(), **overrides)  # a TypeError now for a name that is no setting
        self._overrides.update(overrides)
        self._settings = None  # read again, from app_dir's lightchat.toml

    def build(self) -> Starlette:
        """The Starlette app serving this chat (built once; registration closes then)."""
        if self._asgi is not None:
            return self._asgi
        self.freeze()
        settings = self.settings
        auth = Auth.for_app(self.callbacks, settings)  # refuses to start without a secret
        serve_sign_in(settings, auth)  # what lightchat.auth's create_jwt & co. use
        host_users = host_user_reader(self.host_auth, auth)
        origins = settings.origins()  # refuses "*" and what is not an origin
        frame_ancestors = settings.frame_sources()
        redis_pool = _redis_pool_for(settings)  # one per worker, shared by bus and cluster
        bus = self._bus or _bus_for(settings, redis_pool)
        cluster, forwarding = _cluster_for(settings, redis_pool)
        files = self._files
        if files is None:
            # Uploads are held to their own limits as they arrive (keep_uploads); this
            # caps what an app's own elements may store. A bucket when Chainlit's
            # variables name one (BUCKET_NAME and a service's keys), else a local folder.
            files = storage_from_environ(max_bytes=1024 * 1024 * 1024) or LocalFileStorage(
                settings.state_dir() / "files", max_bytes=1024 * 1024 * 1024
            )
        _check_sharing(settings, self.callbacks, auth is not None or host_users is not None)
        if os.environ.get("LITERAL_API_KEY"):
            logger.warning(
                "LITERAL_API_KEY is set, but lightchat has no Literal AI data layer: "
                "the history is kept as the other settings say, not in Literal AI."
            )
        history = None
        if settings.history:
            history = History(
                settings.database_url,
                settings.app_dir,
                data_layer=self.callbacks.get("data_layer") or _chainlit_database(settings, files),
                files=files,
            )
            # A change to someone's list of chats reaches their pages on every worker.
            history.on_change = bus.announce
        # Off, and said once, when the app cannot keep favourites (endpoints and pages read it).
        settings = self._settings = _favorites_possible(
            settings, auth is not None or host_users is not None
        )
        chats = Chats(
            self,
            bus,
            settings,
            message_factory=Message.from_data,
            action_factory=Action.from_data,
            files=files,
            # With features.mcp: refuses to start when the mcp SDK is missing.
            mcp=mcp_services(settings, history, type(self).mcp_connector_factory, cluster),
        )
        self.chats = chats
        self.history = history
        telemetry = _telemetry_for(settings)
        serve_chats(chats)  # what init_http_context reaches
        services = Services(
            settings=settings,
            chats=chats,
            bus=bus,
            renderer=Renderer(settings, STATIC.version),
            identity=BrowserIdentity(settings.secret),
            history=None,
            auth=auth,
            host_auth=host_users is not None,
        )
        services.renderer.env.globals["host_auth"] = services.host_auth
        services.renderer.env.globals["analytics_link"] = functools.partial(
            shows_analytics, services
        )
        translations = services.renderer.translations
        chats.texts = lambda key, languages: translations.text(translations.choose(languages), key)
        services.cluster = cluster
        # Slack, Discord, Teams: those whose variables are set (their SDKs imported then).
        platforms = Platforms(services)
        if cluster is not None:
            chats.seen_elsewhere = cluster.seen  # pages on other workers keep chats alive

            def lost(session_id: str) -> None:
                chats.lose(session_id)
                if history is not None:
                    history.forget(session_id)

            _fence(bus, cluster, lost)

        def record(session: ChatSession, entry: Entry) -> None:
            if telemetry is not None:
                telemetry.observe(session.thread_id, entry)
            if history is not None:
                history.observe(session.owner, session.thread_id, entry, session.transcript)
                if isinstance(entry.event, RunEvent) and not entry.event.running:
                    # A run ended: user_session's tags and state go to the thread.
                    history.note_session(
                        session.owner,
                        session.thread_id,
                        session.data,
                        session.thread_name,
                        session.chat_profile if settings.auto_tag_thread else None,
                        keep_env=settings.persist_user_env,
                        client_type=session.client_type,
                    )

        @contextlib.asynccontextmanager
        async def lifespan(app: Starlette) -> AsyncIterator[None]:
            await bus.start()  # Redis: connect and start writing before any chat publishes
            if cluster is not None:
                await cluster.start(app)  # heartbeat, and the inbox of forwarded requests
            # History starts with the server (not with build()), so an app used in-process
            # without a server, as in HTTP tests, touches no database.
            if history is not None:
                if not settings.secret:
                    services.identity = BrowserIdentity(stored_secret(settings.state_dir()))
                await history.start()
                services.history = history
                services.renderer.feedback = settings.feedback
            if history is not None or telemetry is not None:
                chats.observer = record
            startup = self.callbacks.get("on_app_startup")
            if startup is not None:
                await invoke(startup)  # an error here stops the server from starting
            await platforms.start()
            reaper = asyncio.create_task(_reap_forever(chats))
            # The first page's stylesheet and scripts, compressed (or read as compressed
            # at the last start) in the background while the server answers.
            static = asyncio.create_task(STATIC.prepare(settings.state_dir() / "static"))
            self._running = True
            try:
                yield
            finally:
                self._running = False
                await platforms.close()  # no more platform events; those under way finish
                reaper.cancel()
                static.cancel()
                if auth is not None:
                    for task in list(auth.background):
                        task.cancel()
                # Graceful shutdown: callbacks running now finish their answers (up to
                # shutdown_grace_s) while the bus still carries their tokens. With other
                # workers, a chat posted to meanwhile is handed over to one of them once
                # its run ended (``web.hand_over``); drain waits for those hand-offs.
                if cluster is not None:
                    # New chats and takeovers go to other workers; none is handed here.
                    await cluster.begin_draining()
                await chats.drain(settings.shutdown_grace_s)
                held = chats.session_ids
                bus.close()
                await chats.close_all()
                shutdown = self.callbacks.get("on_app_shutdown")
                if shutdown is not None:  # the chats are over: the app lets its resources go
                    try:
                        await invoke(shutdown)
                    except Exception:
                        logger.exception("Error in @on_app_shutdown")
                await bus.aclose()  # after the chats: what they published last is written
                if history is not None:
                    await history.close()  # and saved, before another worker reads the thread
                if files is not self._files and isinstance(files, BucketStorage):
                    await files.close()  # the bucket the variables named: its connections
                if cluster is not None:
                    # Only now, with every event of theirs in Redis and the database, are the
                    # chats handed over: a worker taking one over sees its whole log.
                    await _hand_over(cluster, held)
                    # A post handed over meanwhile may still wait for its answer from
                    # the chat's next worker (and that one's answers come through here).
                    await cluster.finish_under_way(FINISH_WAIT_S)
                    await cluster.aclose()  # its heartbeat goes: others take over at once
                if redis_pool is not None:
                    await _close_pool(redis_pool)  # the bus and the cluster are closed
                if telemetry is not None:
                    await telemetry.aclose()  # the last spans go, once the chats ended

        app = Starlette(
            routes=routes(),
            middleware=[
                # The chat platforms' endpoints check their own requests (signatures,
                # tokens): the browsers' checks below are not theirs.
                *(
                    [Middleware(PlatformEndpoints, platforms=platforms)]
                    if platforms.endpoints
                    else []
                ),
                # A client gone while its request was read: one line in the log.
                Middleware(ClientGone),
                # Pages and fragments compressed (never the event stream; see
                # lightchat.http.middleware.compress).
                Middleware(CompressPages),
                Middleware(
                    SecurityHeaders,
                    csp=content_security_policy(
                        frame_ancestors, services.renderer.brand.csp_sources()
                    ),
                ),
                # Each page is painted in its browser's theme (see lightchat.http.endpoints.theme).
                Middleware(ThemeCookie, default=settings.default_theme),
                # Each request is answered in its browser's language (see lightchat.ui.i18n).
                Middleware(
                    Languages,
                    translations=services.renderer.translations,
                    forced=settings.language,
                ),
                # Other sites' pages may call the app only when it names them (never "*").
                *([_cors(origins)] if origins else []),
                Middleware(
                    BodyLimit,
                    max_bytes=MAX_BODY_BYTES,
                    upload_bytes=_upload_bytes(settings),
                    # Answers to AskFileMessage ("/files") carry files even when the
                    # composer's attachments are off.
                    upload_suffixes=("/messages", "/files") if settings.uploads else ("/files",),
                ),
                Middleware(SameOriginWrites, allowed=origins),
                # Every write needs the browser's form token (see lightchat.http.middleware.csrf).
                Middleware(
                    FormTokens,
                    identity=lambda: services.identity,
                    cross_site=settings.framed_by_others(),
                ),
                # With sign-in on, only signed-in users get further (see routes_auth).
                *([Middleware(SignInGate, auth=auth)] if auth is not None else []),
                # Mounted in a host app that signs its users in (see lightchat.auth.host).
                *([Middleware(HostUsers, read=host_users)] if host_users is not None else []),
                # Several workers: a chat's requests go to the worker that owns it, once
                # every check above passed (nothing is forwarded that the owner refuses).
                *forwarding,
            ],
            exception_handlers={HTTPException: not_found},
            lifespan=lifespan,
        )
        app.state.services = services
        self._asgi = app
        return app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        app = self.build()
        if scope["type"] == "http" and not self._running and "app" in scope:
            # Mounted in a host Starlette or FastAPI app (which put itself in the scope):
            # hosts do not run a mounted app's lifespan, so it starts with the first request.
            await self.start()
        await app(scope, receive, send)

    async def start(self) -> None:
        """Start what serving needs (the history's database, the reaper of idle chats) when
        no server runs this app's lifespan, as when it is mounted in a host app.

        Calling it again does nothing. ``lightchat.embed.mount`` calls it (and ``stop``)
        from the host's lifespan; without that, the first request to the mounted app calls
        it. A failure to start (a database that cannot be opened) is raised here.
        """
        if self._running:
            return
        if self._starting is None:
            self._starting = asyncio.ensure_future(self._start())
        try:
            await asyncio.shield(self._starting)
        except BaseException:
            if self._starting.done():  # it failed: the next call tries again
                self._starting = None
            raise

    async def _start(self) -> None:
        app = self.build()
        started, stop = asyncio.Event(), asyncio.Event()

        async def hold() -> None:
            # The lifespan runs in a task of its own, as a server runs it, so that stop()
            # may end it from another task.
            async with app.router.lifespan_context(app):
                started.set()
                await stop.wait()

        task = asyncio.create_task(hold())
        waiting = asyncio.create_task(started.wait())
        await asyncio.wait({task, waiting}, return_when=asyncio.FIRST_COMPLETED)
        if not started.is_set():
            waiting.cancel()
            task.result()  # the start-up error
        self._runner = (task, stop)

    async def stop(self) -> None:
        """End what ``start`` started: streams close, chats end, the history closes."""
        runner, self._runner, self._starting = self._runner, None, None
        if runner is not None:
            task, stop = runner
            stop.set()
            await task


def _cors(origins: tuple[str, ...]) -> Middleware:
    """CORS for the named origins, with cookies: they may read answers and post (with
    the form token, which they read from a page like the app's own pages do)."""
    return Middleware(
        CORSMiddleware,
        allow_origins=list(origins),
        allow_credentials=True,
        allow_methods=["GET", "POST"],
        allow_headers=[*_HTMX_HEADERS, FORM_TOKEN_HEADER, "Content-Type", "Last-Event-ID"],
        max_age=600,
    )


# What htmx 4 sends with its requests.
_HTMX_HEADERS = [
    "HX-Request",
    "HX-Request-Type",
    "HX-Current-URL",
    "HX-Source",
    "HX-Target",
    "HX-Boosted",
    "HX-History-Restore-Request",
]


def _check_sharing(settings: Settings, callbacks: dict[str, Any], signed_in: bool) -> None:
    """Say in the log what ``allow_thread_sharing`` lacks, when the app cannot share chats
    (Chainlit's rules: threads of signed-in users, kept in history, with a callback that
    decides who reads them; see ``lightchat.http.endpoints.share``)."""
    if not settings.allow_thread_sharing:
        return
    needs = {
        "history (features.history)": settings.history,
        "sign-in (an auth callback, or a host app that signs its users in)": signed_in,
        "@on_shared_thread_view, which decides who may read a shared chat": (
            "on_shared_thread_view" in callbacks
        ),
    }
    missing = [what for what, present in needs.items() if not present]
    if missing:
        logger.warning(
            "allow_thread_sharing is on, but no chat can be shared without %s.",
            " and ".join(missing),
        )


def mcp_services(
    settings: Settings,
    history: History | None,
    factory: Callable[[Settings], McpConnector] | None,
    shared: SharedBlobs | None = None,
) -> McpServices | None:
    """With ``features.mcp``: what the chats use to connect MCP servers (the connector,
    the servers users remember, sealed with the app's secret: in the history when it
    keeps them, else in ``shared``, the cluster of several workers, when there is one);
    else None. A ``ConfigError`` naming the extra when the SDK is missing."""
    if not settings.mcp:
        return None
    if factory is None:
        raise ConfigError("features.mcp is on, but this app has no MCP connector.")
    try:
        connector = factory(settings)
    except ImportError as exc:
        raise ConfigError(
            f"features.mcp is on, but the MCP SDK is missing ({exc}): "
            'pip install "lightchat[mcp]", or turn features.mcp off.'
        ) from None
    turned_on: list[tuple[McpKind, bool]] = [
        ("stdio", settings.mcp_stdio),
        ("sse", settings.mcp_sse),
        ("streamable-http", settings.mcp_streamable_http),
    ]
    return McpServices(
        connector,
        McpMemory(history, lambda: settings.secret or stored_secret(settings.state_dir()), shared),
        servers=tuple(settings.mcp_servers),
        timeout_s=float(settings.mcp_timeout_s),
        stdio_anonymous=settings.mcp_stdio_anonymous,
        kinds=tuple(kind for kind, on in turned_on if on),
    )


def _redis_pool_for(settings: Settings) -> Pool | None:
    """With a Redis URL: this worker's one connection pool to Redis, which the bus and the
    cluster share (see ``lightchat.redis_pool``); else None. redis is imported only then."""
    if not settings.redis_url:
        return None
    from lightchat.redis_pool import connection_pool

    return connection_pool(settings.redis_url)


def _telemetry_for(settings: Settings) -> Telemetry | None:
    """With an OpenTelemetry endpoint: the exporter of the chats' runs and steps (see
    ``lightchat.telemetry``); else None. OpenTelemetry is imported only then, so an app
    without the setting imports nothing of it, and needs no ``otel`` extra."""
    if not settings.otel_endpoint:
        return None
    try:
        from lightchat.telemetry import Telemetry
    except ImportError as exc:
        raise ConfigError(
            f"LIGHTCHAT_OTEL_ENDPOINT is set, but OpenTelemetry is missing ({exc}): "
            'pip install "lightchat[otel]", or leave the setting empty.'
        ) from None
    return Telemetry(
        settings.otel_endpoint,
        service_name=settings.name,
        capture_content=settings.otel_capture_content,
    )


async def _close_pool(pool: Pool) -> None:
    """Disconnect the worker's pool, once the bus and the cluster are closed."""
    from lightchat.redis_pool import close_pool

    await close_pool(pool)


def _chainlit_database(settings: Settings, files: FileStorage) -> Callable[[], Any] | None:
    """Chainlit's official data layer on its ``DATABASE_URL``, when that is set and
    lightchat's own ``database_url`` is not: the history then reads and writes the
    database Chainlit made (``lightchat.store.chainlit_pg``).

    With a bucket for the app's files (Chainlit's variables name one), the layer keeps and
    reads element files there, as Chainlit's layer does with its storage client: an element
    Chainlit stored only in the bucket is served (after the owner check), and the app's new
    files are in the bucket under the row's ``objectKey``. The bucket stays the app's: its
    lifespan closes it, after the history."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if not url or settings.database_url:
        return None

    def database_url() -> Any:
        from lightchat.store.chainlit_pg import ChainlitDatabase  # with the store, late

        if isinstance(files, BucketStorage):
            return ChainlitDatabase(url, files, close_storage=False)
        return ChainlitDatabase(url)

    return database_url


def _bus_for(settings: Settings, pool: Pool | None) -> Bus:
    """The event logs: in Redis when ``redis_url`` is set (several workers), through the
    worker's ``pool``; else here.

    Imported only then, so an app without Redis needs no Redis client installed. A
    finished message's tokens are folded out of its chat's log, except in debug mode,
    whose replay shows every event.
    """
    fold = not settings.debug
    if not settings.redis_url:
        return MemoryBus(fold=fold)
    from lightchat.bus.redis_bus import RedisBus

    return RedisBus(
        settings.redis_url,
        prefix=settings.redis_prefix,
        ttl_s=settings.log_ttl_s,
        compact_after=settings.log_compact_after,
        pool=pool,
        fold=fold,
    )


def _cluster_for(settings: Settings, pool: Pool | None) -> tuple[Cluster | None, list[Middleware]]:
    """With a Redis URL: this worker's cluster membership (through the worker's ``pool``)
    and the forwarding middleware; else nothing at all (one worker: no cost). redis is
    imported only then."""
    if not settings.redis_url:
        return None, []
    from lightchat.cluster import Cluster
    from lightchat.http.middleware.forwarding import Forwarding

    cluster = Cluster(settings, settings.redis_url, prefix=settings.redis_prefix, pool=pool)
    forwarding = Middleware(
        Forwarding,
        cluster=cluster,
        max_bytes=_upload_bytes(settings),
        wait_s=settings.form_wait_s,
    )
    return cluster, [forwarding]


def _upload_bytes(settings: Settings) -> int:
    """The largest body an upload may need: the files, their count, and the form around."""
    files = max(settings.upload_max_files, 1) * settings.upload_max_size_mb * 1024 * 1024
    return files + MAX_BODY_BYTES


def _fence(bus: Bus, cluster: Cluster, lost: Callable[[str], None]) -> None:
    """Several workers: the bus refuses this worker's writes to a chat another worker
    took over (this one was taken for dead while its loop was frozen), and calls ``lost``
    so the chat ends here, its history left to the new owner."""
    from lightchat.bus.redis_bus import RedisBus

    if isinstance(bus, RedisBus):
        bus.owner_id = cluster.wid
        bus.on_lost = lost


async def _hand_over(cluster: Cluster, session_ids: list[str]) -> None:
    """Give up this worker's chats (graceful shutdown, once ``Chats.drain`` let their runs
    end and the bus wrote their events out): nobody owns them then, so the next request
    for each is taken over by another worker at once."""
    try:
        released = await cluster.release(session_ids)
    # ClusterUnavailable (a RuntimeError): Redis is down; the chats are taken over anyway
    # once this worker's heartbeat expires.
    except RuntimeError as exc:
        logger.error("Could not hand this worker's chats over: %s", exc)
    else:
        logger.info("Handed %d chat(s) over to the other workers", released)


async def _reap_forever(chats: Chats) -> None:
    while True:
        await asyncio.sleep(REAP_EVERY_S)
        await chats.reap()


def _favorites_possible(settings: Settings, signed_in: bool) -> Settings:
    """``settings``, with ``favorites`` turned off when the app cannot keep favourites
    (Chainlit's rules: the messages of signed-in users, kept in history), and the reason
    said once in the log."""
    if not settings.favorites:
        return settings
    needs = {
        "history (features.history)": settings.history,
        "sign-in (an auth callback, or a host app that signs its users in)": signed_in,
    }
    missing = [what for what, present in needs.items() if not present]
    if not missing:
        return settings
    logger.warning(
        "favorites is on, but no message can be marked without %s; it stays off.",
        " and ".join(missing),
    )
    return replace(settings, favorites=False)
