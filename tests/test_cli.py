"""The command line: finding the app, and failing with a message that names the fix.

The failure cases run the real ``lightchat`` executable, so what the user sees (the exit
status, the message, the absence of a traceback) is what is tested. Loading apps is tested
in-process with ``load_app``.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

import lightchat
from lightchat.__about__ import __version__
from lightchat.app import LightChat
from lightchat.cli import APP_ENV, load_app, main, reload_factory
from lightchat.config.settings import Settings
from lightchat.config.toml import starter_config
from lightchat.errors import AppLoadError

LIGHTCHAT = str(Path(sys.executable).with_name("lightchat"))

pytestmark = pytest.mark.timeout(30)

GOOD_APP = """
from lightchat import LightChat, Message

app = LightChat()

@app.on_message
async def main(message: Message):
    await Message(content=message.content).send()
"""


def write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


APP_FILES = {
    "broken.py": "import lightchat\n\ndef oops(:\n    pass\n",
    "quiet.py": """
        import lightchat as cl

        @cl.on_stop
        async def stopped():
            pass
        """,
    "wrong.py": """
        import lightchat as cl

        @cl.on_message
        async def main(message, history):
            pass
        """,
    "boom.py": "import lightchat\n\nraise RuntimeError('no API key set')\n",
    "app.py": GOOD_APP,
}


@dataclass
class Runs:
    """What each ``lightchat`` invocation printed, by case."""

    results: dict[str, subprocess.CompletedProcess[str]]
    busy_port: int

    def __getitem__(self, case: str) -> subprocess.CompletedProcess[str]:
        return self.results[case]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Runs:
    """The invocations that need a real process, run once and all at the same time."""
    folder = tmp_path_factory.mktemp("cli")
    for name, source in APP_FILES.items():
        write(folder, name, source)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cases = {
            "missing": ["serve", "nofile.py"],
            "port-in-use": ["serve", "app.py", "--port", str(port)],
        }
        processes = {
            case: subprocess.Popen(
                [LIGHTCHAT, *args],
                cwd=folder,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for case, args in cases.items()
        }
        results = {}
        for case, process in processes.items():
            out, err = process.communicate(timeout=20)
            results[case] = subprocess.CompletedProcess(process.args, process.returncode, out, err)
    return Runs(results, port)


def assert_clean_failure(result: subprocess.CompletedProcess[str], *expected: str) -> None:
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output
    assert result.stderr.startswith("Error: ")
    for text in expected:
        assert text in result.stderr, output


# -- the executable ---------------------------------------------------------------------------


def test_missing_file(runs: Runs) -> None:
    assert_clean_failure(runs["missing"], "No file 'nofile.py'", "`lightchat serve app.py`")
    assert len(runs["missing"].stderr.strip().splitlines()) == 1


def invoke(folder: Path, *args: str) -> Result:
    """Run the CLI in-process (for failures that need no process of their own)."""
    for name, source in APP_FILES.items():
        write(folder, name, source)
    return CliRunner().invoke(main, [args[0], str(folder / args[1]), *args[2:]])


def assert_clean_exit(result: Result, *expected: str) -> None:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)  # not an error escaping the CLI
    assert "Traceback" not in result.output
    assert result.stderr.startswith("Error: ")
    for text in expected:
        assert text in result.stderr, result.output


@pytest.mark.usefixtures("isolated_import")
def test_syntax_error(tmp_path: Path) -> None:
    result = invoke(tmp_path, "serve", "broken.py")
    assert_clean_exit(result, "broken.py, line 3", "Fix the syntax error")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.usefixtures("isolated_import")
def test_no_on_message(tmp_path: Path) -> None:
    result = invoke(tmp_path, "serve", "quiet.py")
    assert_clean_exit(result, "registers neither @on_chat_start nor @on_message", "@cl.on_message")


@pytest.mark.usefixtures("isolated_import")
def test_bad_callback_signature(tmp_path: Path) -> None:
    result = invoke(tmp_path, "run", "wrong.py")
    assert_clean_exit(result, "takes the wrong arguments", "async def main(message: cl.Message)")


@pytest.mark.usefixtures("isolated_import")
def test_an_app_that_raises_on_import(tmp_path: Path) -> None:
    result = invoke(tmp_path, "serve", "boom.py")
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    # The user's own error is shown (where it happened and what it says), nothing of ours.
    assert result.stderr.startswith("Error: boom.py raised an error while being imported")
    assert "RuntimeError: no API key set" in result.stderr
    assert 'boom.py", line 3' in result.stderr
    assert "lightchat/cli.py" not in result.stderr
    assert "<frozen" not in result.stderr


def test_port_in_use(runs: Runs) -> None:
    port = runs.busy_port
    result = runs["port-in-use"]
    assert_clean_failure(
        result, f"Port {port} on 127.0.0.1 is already in use", f"--port {port + 1}"
    )
    assert len(result.stderr.strip().splitlines()) == 1


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"])
    assert result.exit_code == 0
    assert result.output.strip() == f"lightchat, version {__version__}"


def test_run_takes_chainlits_flags(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    help_text = runner.invoke(main, ["run", "app.py", "-w", "--help"])
    assert help_text.exit_code == 0
    assert "-w, --watch" in help_text.output
    assert "-h, --headless" in help_text.output
    # -w and -h are accepted: the command gets as far as looking for the file.
    result = runner.invoke(main, ["run", "missing.py", "-w", "-h", "--port", "8123"])
    assert result.exit_code == 2
    assert "No file 'missing.py'" in result.output
    assert "No such option" not in result.output


def test_help_lists_the_commands() -> None:
    result = CliRunner().invoke(main, ["--help"])
    assert result.exit_code == 0
    assert "serve" in result.output
    assert "run" in result.output


# -- load_app -----------------------------------------------------------------------------


@pytest.mark.usefixtures("isolated_import")
def test_load_app_picks_the_explicit_instance(tmp_path: Path) -> None:
    path = write(tmp_path, "explicit_app.py", GOOD_APP)
    app = load_app(str(path))
    assert isinstance(app, LightChat)
    assert app is sys.modules["explicit_app"].app
    assert app is not lightchat.default_app
    assert "on_message" in app.callbacks


@pytest.mark.usefixtures("isolated_import")
def test_load_app_by_name_and_by_factory(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "several.py",
        """
        from lightchat import LightChat

        async def answer(message):
            pass

        first = LightChat()
        first.on_message(answer)
        second = LightChat()
        second.on_message(answer)

        def create_app():
            app = LightChat()
            app.on_message(answer)
            create_app.made = app
            return app
        """,
    )
    with pytest.raises(AppLoadError, match=r"several apps \(first, second\).*several.py:NAME"):
        load_app(str(path))
    assert load_app(f"{path}:second") is sys.modules["several"].second
    made = load_app(f"{path}:create_app")
    assert made is sys.modules["several"].create_app.made
    with pytest.raises(
        AppLoadError, match=r"no LightChat app named 'missing'.*`missing = LightChat"
    ):
        load_app(f"{path}:missing")
    with pytest.raises(AppLoadError, match="no LightChat app named 'answer'"):
        load_app(f"{path}:answer")  # a function that does not return an app


@pytest.mark.usefixtures("isolated_import")
def test_load_app_falls_back_to_the_module_level_decorators(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "decorated.py",
        """
        import lightchat as cl

        @cl.on_message
        async def main(message):
            pass
        """,
    )
    app = load_app(str(path))
    assert app is lightchat.default_app
    assert app.callbacks["on_message"] is sys.modules["decorated"].main


@pytest.mark.usefixtures("isolated_import")
def test_load_app_puts_the_apps_folder_on_the_path(tmp_path: Path) -> None:
    write(tmp_path, "helper_module_for_app.py", "VALUE = 42\n")
    path = write(
        tmp_path,
        "uses_helper.py",
        "from helper_module_for_app import VALUE\n" + GOOD_APP,
    )
    assert load_app(str(path)) is sys.modules["uses_helper"].app


@pytest.mark.usefixtures("isolated_import")
def test_load_app_refuses_what_is_not_an_app_file(tmp_path: Path) -> None:
    with pytest.raises(AppLoadError, match="is a folder; give the app's file"):
        load_app(str(tmp_path))
    notes = write(tmp_path, "notes.txt", "hello")
    with pytest.raises(AppLoadError, match="not a Python file"):
        load_app(str(notes))
    boom = write(tmp_path, "raises_value.py", "raise ValueError('bad config value')\n")
    with pytest.raises(AppLoadError, match="ValueError: bad config value"):
        load_app(str(boom))


@pytest.mark.usefixtures("isolated_import")
def test_reload_factory_loads_the_app_named_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, "reloaded.py", GOOD_APP)
    monkeypatch.setenv(APP_ENV, f"{path}:app")
    assert reload_factory() is sys.modules["reloaded"].app


# -- lightchat.toml and init --------------------------------------------------------------


@pytest.mark.usefixtures("isolated_import")
def test_serve_shows_a_bad_config_file_as_one_line(tmp_path: Path) -> None:
    write(tmp_path, "lightchat.toml", "[features.spontaneous_file_upload]\nmax_files = 'ten'\n")
    result = invoke(tmp_path, "serve", "app.py")
    assert_clean_exit(
        result,
        "lightchat.toml: features.spontaneous_file_upload.max_files",
        "expected a whole number",
    )
    assert len(result.stderr.strip().splitlines()) == 1
    write(tmp_path, "lightchat.toml", "[ui]\nname = \n")
    result = invoke(tmp_path, "serve", "app.py")
    assert_clean_exit(result, "lightchat.toml, line 2:")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.anyio
@pytest.mark.usefixtures("isolated_import")
async def test_the_name_in_the_apps_config_file_is_the_page_title(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LIGHTCHAT_NAME", raising=False)
    monkeypatch.delenv("LIGHTCHAT_APP_DIR", raising=False)
    folder = tmp_path / "bot"
    folder.mkdir()
    write(folder, "app.py", GOOD_APP)
    write(folder, "lightchat.toml", '[ui]\nname = "Bot from file"\n')
    monkeypatch.chdir(tmp_path)  # served from elsewhere: the file beside the app counts
    app = load_app("bot/app.py")
    app.build()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        page = await client.get("/", follow_redirects=True)
    assert page.status_code == 200
    assert "<title>Bot from file</title>" in page.text


def test_init_writes_a_starter_that_loads(
    tmp_path: Path, isolated_import: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(os.environ):
        if name.startswith("LIGHTCHAT_"):
            monkeypatch.delenv(name)
    # The starter uses the module-level decorators: their app starts afresh.
    monkeypatch.setattr(lightchat.default_app, "_settings", None)
    monkeypatch.setattr(lightchat.default_app, "_overrides", {})
    folder = tmp_path / "my-bot"
    result = CliRunner().invoke(main, ["init", str(folder)])
    assert result.exit_code == 0, result.output
    assert f"Next: lightchat serve {folder / 'app.py'}" in result.output
    settings = Settings.from_env({}, config_file=True, app_dir=str(folder))
    assert settings == Settings(app_dir=str(folder))
    app = load_app(str(folder / "app.py"))
    assert app.settings == Settings(app_dir=str(folder))
    assert "on_message" in app.callbacks


def test_init_writes_into_the_current_folder_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["init"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.py", "lightchat.toml"]


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("# mine\n")
    result = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert_clean_exit(result, "app.py already exists", "nothing was written", "--force")
    assert (tmp_path / "app.py").read_text() == "# mine\n"
    assert not (tmp_path / "lightchat.toml").exists()
    forced = CliRunner().invoke(main, ["init", str(tmp_path), "--force"])
    assert forced.exit_code == 0, forced.output
    assert "@cl.on_message" in (tmp_path / "app.py").read_text()
    assert (tmp_path / "lightchat.toml").read_text() == starter_config()
    again = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert_clean_exit(again, "lightchat.toml and app.py already exist")


def test_init_refuses_a_file_as_its_folder(tmp_path: Path) -> None:
    target = tmp_path / "notes.txt"
    target.write_text("hello")
    result = CliRunner().invoke(main, ["init", str(target)])
    assert_clean_exit(result, "is a file; give a folder")


@pytest.mark.anyio
async def test_serve_freezes_what_the_history_store_brought_once_it_is_open(
    tmp_path: Path,
) -> None:
    # The store's import (SQLAlchemy, the driver) comes after the start: unless it is
    # frozen too, every full collection of a busy server walks its objects again.
    import gc

    from lightchat.cli import _tune_gc

    app = LightChat(Settings(app_dir=str(tmp_path), history=True))
    thresholds = gc.get_threshold()
    try:
        _tune_gc(app)
        history = app.history
        assert history is not None
        before = gc.get_freeze_count()
        await history.start()
        assert await history.wait_ready()
        assert gc.get_freeze_count() > before
        # The store, made after the start, is out of the collector's generations.
        assert history.store is not None
        assert all(item is not history.store for item in gc.get_objects())
    finally:
        if app.history is not None:
            await app.history.close()
        gc.unfreeze()
        gc.set_threshold(*thresholds)
