"""The ``lightchat`` command: ``serve`` (and ``run``, as Chainlit users type it),
``create-secret`` for the secret that signs users' sessions, and ``init`` for a starter
``lightchat.toml`` and ``app.py``.

It finds the app the way Flask does: ``app.py`` serves the app defined there (an explicit
``LightChat()`` if the module has exactly one, else the module-level decorators' default
app); ``app.py:name`` names it. When it cannot, it says exactly what to type instead, and
exits with status 2 without a traceback.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import importlib.util
import inspect
import logging
import os
import socket
import sys
import threading
import time
import traceback
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import click
import uvicorn
from dotenv import dotenv_values
from starlette.types import ASGIApp

import lightchat
from lightchat.__about__ import __version__
from lightchat.api.cache import NO_CACHE_ENV
from lightchat.app import LightChat
from lightchat.auth.sessions import new_secret
from lightchat.config.settings import CONFIG_FILE, Settings
from lightchat.config.toml import starter_config
from lightchat.embed import mount_at_root
from lightchat.errors import AppLoadError, LightChatError
from lightchat.ui.i18n import lint_translations

APP_ENV = "LIGHTCHAT_APP"
DEBUG_ENV = "LIGHTCHAT_DEBUG"
"""Debug mode's variable (``Settings.debug``): ``-d``/``--debug`` sets it, so the processes
``--reload`` and ``--workers`` start are in debug mode too."""


def _import_file(path: Path) -> ModuleType:
    module_name = path.stem
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise AppLoadError(f"{path} is not a Python file. Point lightchat at your app's .py file.")
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise AppLoadError(
            f"{exc.filename}, line {exc.lineno}: {exc.msg}. Fix the syntax error and run again."
        ) from None
    except LightChatError:
        raise
    except Exception as exc:
        # Show where the app failed: its own line first, then the innermost two frames;
        # never importlib's frames or this module's.
        frames = [
            frame
            for frame in traceback.extract_tb(exc.__traceback__)
            if frame.filename != __file__ and not frame.filename.startswith("<frozen")
        ]
        if len(frames) > 3:
            frames = [frames[0], *frames[-2:]]
        detail = "".join(
            [
                "Traceback (most recent call last):\n",
                *traceback.format_list(frames),
                *traceback.format_exception_only(exc),
            ]
        )
        raise AppLoadError(f"{path.name} raised an error while being imported:\n{detail}") from None
    return module


def _takes_no_arguments(func: Callable[..., object]) -> bool:
    try:
        inspect.signature(func).bind()
    except (TypeError, ValueError):
        return False
    return True


def load_dotenv(folder: Path) -> list[str]:
    """Set the variables of a ``.env`` file in ``folder`` (as Chainlit does at start), except
    those the environment sets already: the real environment wins. Returns the names set."""
    path = folder / ".env"
    if not path.is_file():
        return []
    values = dotenv_values(path, encoding="utf-8")
    added = [name for name, value in values.items() if name not in os.environ and value is not None]
    for name in added:
        os.environ[name] = values[name] or ""
    if added:
        logging.getLogger("lightchat").info("Read %s: %s", path, ", ".join(sorted(added)))
    return added


def load_app(target: str) -> LightChat:
    """The app named by ``path/to/app.py`` or ``path/to/app.py:name``."""
    path_text, _, name = target.partition(":")
    path = Path(path_text)
    if not path.exists():
        raise AppLoadError(
            f"No file {path_text!r} here ({Path.cwd()}). "
            "Give the path to your app's file, e.g. `lightchat serve app.py`."
        )
    if path.is_dir():
        raise AppLoadError(
            f"{path_text} is a folder; give the app's file, e.g. {path_text}/app.py."
        )
    load_dotenv(path.resolve().parent)  # before the app's code reads its environment
    module = _import_file(path.resolve())
    if name:
        found = getattr(module, name, None)
        if callable(found) and not isinstance(found, LightChat) and _takes_no_arguments(found):
            found = found()  # an app factory
        if not isinstance(found, LightChat):
            raise AppLoadError(
                f"{path_text} has no LightChat app named {name!r}. "
                f"Define `{name} = LightChat()` there, or leave out `:{name}`."
            )
        app = found
    else:
        apps = [v for v in vars(module).values() if isinstance(v, LightChat)]
        apps = [a for a in apps if a is not lightchat.default_app] or [lightchat.default_app]
        if len(apps) > 1:
            names = ", ".join(k for k, v in vars(module).items() if isinstance(v, LightChat))
            raise AppLoadError(
                f"{path_text} defines several apps ({names}); name one: "
                f"`lightchat serve {path_text}:NAME`."
            )
        app = apps[0]
    if app.app_dir == ".":
        # History lives beside the app (.lightchat/chat.db), wherever it is served from.
        app.configure(app_dir=str(path.resolve().parent))
    _langchain_cache(app.settings)
    if not any(hook in app.callbacks for hook in CHAT_HOOKS):
        # As Chainlit: an app needs one of these, or a chat would have nothing to do.
        raise AppLoadError(
            f"{path_text} registers neither @on_chat_start nor @on_message, so a chat "
            "would have nothing to do. Add one:\n\n    @cl.on_message\n"
            "    async def main(message: cl.Message):\n"
            "        await cl.Message(content=message.content).send()\n"
        )
    return app


CHAT_HOOKS = ("on_chat_start", "on_message", "on_audio_chunk")


def _langchain_cache(settings: Settings) -> None:
    """Chainlit's ``[project] cache``: LangChain's answers kept in a SQLite file, unless
    ``--no-cache`` (or ``LIGHTCHAT_NO_CACHE``) says otherwise for this run."""
    if not settings.langchain_cache or os.environ.get(NO_CACHE_ENV, "") not in ("", "0"):
        return
    try:
        from lightchat.integrations.langchain_cache import install
    except ImportError as exc:
        logging.getLogger("lightchat").warning(
            "LangChain's cache is on but cannot be used: %s", exc
        )
        return
    install(settings.lc_cache_path or settings.state_dir() / "langchain.db")


"""An app registers at least one of these (Chainlit's rule)."""


def _check_port(host: str, port: int) -> None:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise AppLoadError(
                    f"Port {port} on {host} is already in use. Stop what uses it, or pick "
                    f"another port: --port {port + 1}"
                ) from None
            raise AppLoadError(f"Cannot listen on {host}:{port}: {exc.strerror}.") from None


def _tune_gc(app: LightChat) -> None:
    """Fewer, cheaper garbage collections for a long-running server.

    Everything loaded so far (the app, the libraries) lives as long as the process: freezing
    it keeps full collections from walking it again. A larger first-generation threshold
    trades a little memory for fewer collections; a full collection pauses every stream
    (20-70 ms with a hundred chats streaming), so it comes after 100 collections of the
    middle generation instead of 10: a pause every few seconds was most of the slowest
    percent of token latencies. The history's store is imported after the start (about
    70,000 objects: SQLAlchemy, the driver), so what it brought is frozen once it is open
    (without that, every full collection walked it: a pause of 30-45 ms instead of 15).
    """
    _freeze()
    _, second, _ = gc.get_threshold()
    gc.set_threshold(10_000, second, 100)
    app.build()
    if app.history is not None:  # the pages' services see it only once the server runs
        app.history.on_open = _freeze


def _freeze() -> None:
    """Move what lives now out of the collector's sight (garbage collected first)."""
    gc.collect()
    gc.freeze()


def served(app: LightChat) -> ASGIApp:
    """What a server runs for ``app``: the app itself, or, when the app file added routes
    of its own to ``lightchat.server.app`` (Chainlit's custom endpoints), that FastAPI app
    with the chat mounted at its root, after those routes."""
    server = sys.modules.get("lightchat.server")
    host = getattr(server, "app", None)
    if host is None or not host.router.routes:
        return app
    mount_at_root(host, app)
    asgi: ASGIApp = host
    return asgi


def _debug_asked(app: LightChat) -> None:
    """Debug mode for an app whose settings were given in its file (which variables do not
    change) when debug mode's variable asks for it (``-d`` sets it)."""
    if os.environ.get(DEBUG_ENV) == "1" and not app.settings.debug:
        app.configure(debug=True)


def reload_factory() -> ASGIApp:
    """Loads the app in a ``--reload`` worker process (uvicorn calls it)."""
    app = load_app(os.environ[APP_ENV])
    _debug_asked(app)
    return served(app)


def worker_app() -> ASGIApp:
    """Loads the app in each worker process of ``serve --workers N`` (uvicorn calls it).

    uvicorn's supervisor starts the workers as fresh processes, so each one imports the
    app file itself: its name comes in ``LIGHTCHAT_APP``, and its settings, like the
    parent's, from ``lightchat.toml`` and the ``LIGHTCHAT_*`` variables they inherit.
    """
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:     %(name)s: %(message)s")
    app = load_app(os.environ[APP_ENV])
    _debug_asked(app)
    _tune_gc(app)
    return served(app)


def _check_workers(app: LightChat, workers: int, reload: bool) -> None:
    """Refuse what several workers cannot do; warn about what they do slowly."""
    if workers == 1:
        return
    if reload:
        raise AppLoadError(
            "--reload restarts one process; it cannot be combined with --workers. "
            "Drop one of the two."
        )
    settings = app.settings
    if not settings.redis_url:
        raise AppLoadError(
            f"--workers {workers} needs LIGHTCHAT_REDIS_URL (e.g. redis://127.0.0.1:6379/0): "
            "without Redis each worker keeps its own chats and events, and a page would miss "
            "answers given on another worker. Set it, or serve with one worker."
        )
    if (
        settings.history
        and "data_layer" not in app.callbacks
        and (settings.database_url or not os.environ.get("DATABASE_URL"))  # Chainlit's PG
        and (not settings.database_url or settings.database_url.startswith("sqlite"))
    ):
        click.echo(
            f"Warning: {workers} workers share the history's SQLite file: it works (they take "
            "turns through its lock) but writes wait for each other; for real load set "
            "LIGHTCHAT_DATABASE_URL=postgresql://...",
            err=True,
        )


def _fail(exc: LightChatError) -> None:
    click.echo(f"Error: {exc}", err=True)
    sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="lightchat")
def main() -> None:
    """lightchat: conversational AI apps in the browser."""


@dataclass(frozen=True)
class ServeOptions:
    """How ``serve`` and ``run`` serve an app, besides where."""

    reload: bool = False
    workers: int = 1
    root_path: str = ""
    """The path prefix the app is served under behind a proxy (``/chat``)."""
    ssl_certfile: str | None = None
    ssl_keyfile: str | None = None
    log_level: str = "info"
    open_browser: bool = False
    """Open the app in the browser once it answers (``run`` without ``-h``)."""
    debug: bool = False
    """Debug mode (``Settings.debug``): debug logs, and each chat's run details for its
    developer."""


def _serve(target: str, host: str, port: int, options: ServeOptions) -> None:
    level = logging.DEBUG if options.log_level == "debug" else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s:     %(name)s: %(message)s")
    workers, reload = options.workers, options.reload
    if options.debug:
        os.environ[DEBUG_ENV] = "1"  # read by the app's settings, here and in its workers
    try:
        app = load_app(target)
        _debug_asked(app)
        app.build()  # a setting the app cannot start with (no auth secret) fails here
        _check_workers(app, workers, reload)
        _check_port(host, port)
    except LightChatError as exc:  # e.g. a ConfigError from a decorator in the app file
        _fail(exc)
    scheme = "https" if options.ssl_certfile else "http"
    url = f"{scheme}://{host}:{port}{options.root_path}"
    processes = f" with {workers} workers" if workers > 1 else ""
    click.echo(f"lightchat {__version__}: serving {target} on {url}{processes}")
    if app.settings.debug:
        _say_debug(app, host)
    if options.open_browser:
        _open_when_up(url, host, port)
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "root_path": options.root_path,
        "ssl_certfile": options.ssl_certfile,
        "ssl_keyfile": options.ssl_keyfile,
        "timeout_graceful_shutdown": 3,
        "log_level": options.log_level,
    }
    if workers > 1:
        # The workers load the app themselves (see worker_app); this process only
        # supervises them: it restarts a worker that dies, and passes SIGTERM on to each.
        os.environ[APP_ENV] = target
        uvicorn.run("lightchat.cli:worker_app", factory=True, workers=workers, **common)
        return
    _tune_gc(app)
    if reload:
        os.environ[APP_ENV] = target
        folder = str(Path(target.partition(":")[0]).resolve().parent)
        uvicorn.run(
            "lightchat.cli:reload_factory",
            factory=True,
            reload=True,
            reload_dirs=[folder],
            **common,
        )
        return
    asgi = served(app)
    if asgi is app:
        # The chat speaks HTTP only: uvicorn need not import a WebSocket library (an app
        # file's own routes, served around the chat, may still use one).
        common["ws"] = "none"
    uvicorn.run(asgi, **common)


LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _say_debug(app: LightChat, host: str) -> None:
    """Say that debug mode is on, and who sees its details; warn when everyone who
    reaches the address may (no sign-in, and an address beyond this machine)."""
    services = app.build().state.services
    if services.auth is not None or services.host_auth:
        click.echo('Debug mode: run details for admins (users with "role": "admin").')
    elif host in LOOPBACK or host.startswith("127."):
        click.echo("Debug mode: run details for whoever opens a chat on this machine.")
    else:
        click.echo(
            f"Warning: debug mode on {host} without sign-in shows tracebacks and run details "
            "to everyone who can reach this address. Listen on 127.0.0.1, or turn sign-in "
            "on (only admins then see them).",
            err=True,
        )


def _open_when_up(url: str, host: str, port: int) -> None:
    """Open ``url`` in the user's browser once the port answers, if there is a screen to
    show it on (as Chainlit's ``run`` does without ``-h``)."""
    if sys.platform not in ("darwin", "win32") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    ):
        return  # a server without a display: nothing to open

    def wait_then_open() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), socket.create_connection((host, port), 0.5):
                webbrowser.open(url)
                return
            time.sleep(0.1)  # the server is still starting: nothing to wait on but the port

    threading.Thread(target=wait_then_open, daemon=True).start()


_HOST = click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    envvar=["LIGHTCHAT_HOST", "CHAINLIT_HOST"],
    help="Address to listen on (LIGHTCHAT_HOST or CHAINLIT_HOST).",
)
_PORT = click.option(
    "--port",
    default=8000,
    show_default=True,
    type=int,
    envvar=["LIGHTCHAT_PORT", "CHAINLIT_PORT"],
    help="Port to listen on (LIGHTCHAT_PORT or CHAINLIT_PORT).",
)
_ROOT_PATH = click.option(
    "--root-path",
    default="",
    envvar=["LIGHTCHAT_ROOT_PATH", "CHAINLIT_ROOT_PATH"],
    help="The path prefix the app is served under behind a proxy, e.g. /chat.",
)


DEBUG_HELP = (
    "Debug mode: debug logs, and for the app's developer each step's timing, the traceback "
    "of a failed callback and each chat's run details, log and replay (admins only with "
    "sign-in)."
)


def _root_path(value: str) -> str:
    value = value.strip().rstrip("/")
    if value and not value.startswith("/"):
        raise click.BadParameter(f"{value!r} must start with '/', e.g. /chat.")
    return value


@main.command()
@click.argument("app_path")
@_HOST
@_PORT
@click.option("--reload", is_flag=True, help="Restart when the app's files change.")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    envvar="LIGHTCHAT_WORKERS",
    help="Worker processes serving the port (more than 1 needs LIGHTCHAT_REDIS_URL); "
    "LIGHTCHAT_WORKERS sets it too.",
)
@_ROOT_PATH
@click.option("-d", "--debug", is_flag=True, help=DEBUG_HELP)
def serve(
    app_path: str, host: str, port: int, reload: bool, workers: int, root_path: str, debug: bool
) -> None:
    """Serve the chat app in APP_PATH (a .py file, optionally :NAME)."""
    options = ServeOptions(
        reload=reload,
        workers=workers,
        root_path=_root_path(root_path),
        log_level="debug" if debug else "info",
        debug=debug,
    )
    _serve(app_path, host, port, options)


@main.command(context_settings={"help_option_names": ["--help"]})
@click.argument("app_path")
@_HOST
@_PORT
@click.option("-w", "--watch", is_flag=True, help="Restart when the app's files change.")
@click.option("-h", "--headless", is_flag=True, help="Do not open the app in a browser.")
@click.option("-d", "--debug", is_flag=True, help=DEBUG_HELP)
@click.option("-c", "--ci", is_flag=True, help="Run as in CI: headless.")
@click.option("--no-cache", is_flag=True, help="Make @cl.cache compute every call.")
@_ROOT_PATH
@click.option(
    "--ssl-cert",
    type=click.Path(exists=True, dir_okay=False),
    envvar=["LIGHTCHAT_SSL_CERT", "CHAINLIT_SSL_CERT"],
    help="TLS certificate.",
)
@click.option(
    "--ssl-key",
    type=click.Path(exists=True, dir_okay=False),
    envvar=["LIGHTCHAT_SSL_KEY", "CHAINLIT_SSL_KEY"],
    help="Its private key.",
)
def run(
    app_path: str,
    host: str,
    port: int,
    watch: bool,
    headless: bool,
    debug: bool,
    ci: bool,
    no_cache: bool,
    root_path: str,
    ssl_cert: str | None,
    ssl_key: str | None,
) -> None:
    """Serve APP_PATH with Chainlit's flags; without -h, open it in the browser."""
    if bool(ssl_cert) != bool(ssl_key):
        raise click.UsageError("--ssl-cert and --ssl-key go together: give both, or neither.")
    if no_cache:
        os.environ[NO_CACHE_ENV] = "1"  # read by @cl.cache, here and in reloaded workers
    options = ServeOptions(
        reload=watch,
        root_path=_root_path(root_path),
        ssl_certfile=ssl_cert,
        ssl_keyfile=ssl_key,
        log_level="debug" if debug else "info",
        open_browser=not (headless or ci),
        debug=debug,
    )
    _serve(app_path, host, port, options)


@main.command()
@_HOST
@_PORT
@click.option("-h", "--headless", is_flag=True, help="Do not open the app in a browser.")
def hello(host: str, port: int, headless: bool) -> None:
    """Serve a first chat, to see lightchat work (Chainlit's `hello`)."""
    app_file = Path(__file__).with_name("hello.py")
    _serve(str(app_file), host, port, ServeOptions(open_browser=not headless))


@main.command("lint-translations")
@click.argument("folder", default=".", type=click.Path(file_okay=False, path_type=Path))
def lint_translations_command(folder: Path) -> None:
    """Check the app's translations/*.json in FOLDER: known keys, same placeholders."""
    count, problems = lint_translations(folder)
    for problem in problems:
        click.echo(problem, err=True)
    if problems:
        raise SystemExit(1)
    click.echo(f"{count} translation files checked in {folder / 'translations'}: no problems.")


@main.command("create-secret")
def create_secret() -> None:
    """Print a new random secret for LIGHTCHAT_AUTH_SECRET (signs users' sessions)."""
    click.echo(
        "Set this in the app's environment. Changing it later signs every user out.",
        err=True,
    )
    click.echo(f"LIGHTCHAT_AUTH_SECRET={new_secret()}")


@main.command("import-chainlit")
@click.argument("source")
@click.option(
    "--to",
    "target",
    envvar="LIGHTCHAT_DATABASE_URL",
    default="",
    help="lightchat's database [default: LIGHTCHAT_DATABASE_URL, else the app folder's "
    ".lightchat/chat.db].",
)
@click.option(
    "--app-dir",
    default=".",
    type=click.Path(file_okay=False, path_type=Path),
    help="The app's folder, whose SQLite store is the default target.",
)
def import_chainlit_command(source: str, target: str, app_dir: Path) -> None:
    """Copy the history of a Chainlit database into lightchat's store: users, threads,
    steps, elements and feedback.

    SOURCE is the database's URL (postgresql://... or sqlite:///...), with either of
    Chainlit's schemas: its official data layer's (DATABASE_URL) or SQLAlchemyDataLayer's.
    A thread copied before is skipped, so the command may run again, or go on after an
    interruption.
    """
    import asyncio

    try:
        lines = asyncio.run(_import_chainlit(source, target, app_dir))
    except (LookupError, ValueError) as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)
    except Exception as exc:  # a database that does not answer, refuses, or is not one
        click.echo(f"Error: the copy stopped: {type(exc).__name__}: {exc}", err=True)
        click.echo("Run the command again: what was copied stays, the rest follows.", err=True)
        sys.exit(1)
    for line in lines:
        click.echo(line)


async def _import_chainlit(source: str, target: str, app_dir: Path) -> list[str]:
    from lightchat.store import SQLStore, default_database_url  # the store, when needed
    from lightchat.store.chainlit_import import import_chainlit

    store = await SQLStore.open(target or default_database_url(app_dir))
    with contextlib.ExitStack() as stack:
        bars: list[Any] = []

        def start(total: int) -> None:
            bar = click.progressbar(length=total, label="Copying threads", file=sys.stderr)
            bars.append(stack.enter_context(bar))

        def step() -> None:
            bars[0].update(1)

        try:
            summary = await import_chainlit(source, store, on_start=start, on_thread=step)
        finally:
            await store.close()
    return summary.lines()


STARTER_APP = '''"""A starter chat: a step, then the user's message streamed back."""

import lightchat as cl


@cl.step(type="tool")
async def count_words(text: str) -> str:
    return f"{len(text.split())} words"


@cl.on_message
async def main(message: cl.Message):
    counted = await count_words(message.content)
    answer = cl.Message(content="")
    for word in f"You said ({counted}): {message.content}".split(" "):
        await answer.stream_token(word + " ")
    await answer.send()
'''


@main.command()
@click.argument("folder", default=".", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite lightchat.toml and app.py if they exist.")
def init(folder: Path, force: bool) -> None:
    """Write a starter lightchat.toml and app.py into FOLDER (default: here)."""
    files = {folder / CONFIG_FILE: starter_config(), folder / "app.py": STARTER_APP}
    if folder.exists() and not folder.is_dir():
        click.echo(
            f"Error: {folder} is a file; give a folder, e.g. `lightchat init my-bot`.", err=True
        )
        sys.exit(2)
    existing = [path.name for path in files if path.exists()]
    if existing and not force:
        click.echo(
            f"Error: {' and '.join(existing)} already {'exist' if len(existing) > 1 else 'exists'} "
            f"in {folder}; nothing was written. Add --force to overwrite, or give another "
            "folder, e.g. `lightchat init my-bot`.",
            err=True,
        )
        sys.exit(2)
    folder.mkdir(parents=True, exist_ok=True)
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {path}")
    click.echo(f"Next: lightchat serve {folder / 'app.py'}")
