"""Workers, graceful shutdown and readiness.

In-process: ``/-/ready`` (the database, the bus, shutting down) and what a draining app
does (new runs refused, running ones finished or stopped). Real processes: ``lightchat
serve --workers 2`` serves one port from two processes, and a ``lightchat serve`` that gets
SIGTERM finishes the answer it is streaming (or stops it when the grace period ends).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from lightchat import LightChat, Message, Settings
from lightchat.bus.redis_bus import RedisBus
from lightchat.cli import _check_workers
from lightchat.errors import AppLoadError
from tests.helpers import (
    HTMX,
    REDIS_URL,
    ROOT,
    WAIT_S,
    LightchatServe,
    free_port,
    start_chat,
    until,
    with_form_token,
)
from tests.pg import postgres_database

APP = ROOT / "tests" / "e2e" / "apps" / "scale_app.py"
LIGHTCHAT = str(Path(sys.executable).with_name("lightchat"))
DOWN_REDIS_URL = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


# -- in-process -------------------------------------------------------------------------------


def gated_app(settings: Settings) -> tuple[LightChat, asyncio.Event, list[str]]:
    """An app whose answer streams "part " and waits for the test to let it finish."""
    app = LightChat(settings=settings)
    release = asyncio.Event()
    seen: list[str] = []

    @app.on_message
    async def answer(message: Message) -> None:
        reply = Message(content="")
        await reply.stream_token("part ")
        seen.append("started")
        try:
            await release.wait()
        except asyncio.CancelledError:
            seen.append("stopped")
            raise
        await reply.stream_token("whole")
        await reply.send()
        seen.append("finished")

    return app, release, seen


@asynccontextmanager
async def running(app: LightChat) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan started, and a browser on it."""
    await app.start()
    client = with_form_token(
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver"),
        app,
    )
    try:
        async with asyncio.timeout(WAIT_S * 2):
            yield client
    finally:
        await client.aclose()
        await app.stop()


async def test_ready_answers_when_the_database_and_bus_do(tmp_path: Path) -> None:
    app = LightChat(settings=Settings(app_dir=str(tmp_path)))
    app.on_message(lambda message: None)
    async with running(app) as client:
        assert app.history is not None
        assert await app.history.wait_ready()
        response = await client.get("/-/ready")
        assert response.status_code == 200, response.text
        assert response.text == f"ready: worker {os.getpid()}\n"
        assert response.headers["cache-control"] == "no-store"
        assert (await client.get("/-/health")).text == "ok"


async def test_ready_is_503_while_the_history_cannot_answer(tmp_path: Path) -> None:
    app = LightChat(settings=Settings(app_dir=str(tmp_path)))
    app.on_message(lambda message: None)
    async with running(app) as client:
        assert app.history is not None
        assert await app.history.wait_ready()
        assert app.history.store is not None
        await app.history.store.close()
        # A closed engine reconnects; point it at a folder instead of a database file.
        (tmp_path / ".lightchat" / "chat.db").unlink()
        (tmp_path / ".lightchat" / "chat.db").mkdir()
        response = await client.get("/-/ready")
        assert response.status_code == 503
        assert response.text == "not ready: the history's database does not answer\n"
        assert response.headers["retry-after"] == "5"


async def test_ready_is_503_when_redis_does_not_answer(tmp_path: Path) -> None:
    app = LightChat(
        settings=Settings(app_dir=str(tmp_path), history=False), bus=RedisBus(DOWN_REDIS_URL)
    )
    app.on_message(lambda message: None)
    async with running(app) as client:
        response = await client.get("/-/ready")
        assert response.status_code == 503
        assert response.text == "not ready: the event bus (Redis) does not answer\n"
        assert "127.0.0.1" not in response.text
        assert (await client.get("/-/health")).status_code == 200  # alive all the same


async def test_ready_is_503_with_a_wrong_redis_url_in_the_settings(tmp_path: Path) -> None:
    app = LightChat(
        settings=Settings(app_dir=str(tmp_path), history=False, redis_url=DOWN_REDIS_URL)
    )
    app.on_message(lambda message: None)
    await app.start()
    try:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as client:
            response = await client.get("/-/ready")
        assert response.status_code == 503
        assert "does not answer" in response.text
    finally:
        await app.stop()


async def test_ready_and_health_need_no_sign_in(tmp_path: Path) -> None:
    app = LightChat(settings=Settings(app_dir=str(tmp_path), history=False, auth_secret="s" * 32))
    app.on_message(lambda message: None)
    app.password_auth_callback(lambda username, password: None)
    async with running(app) as client:
        assert (await client.get("/")).status_code == 303  # to the sign-in page
        assert (await client.get("/-/ready")).status_code == 200
        assert (await client.get("/-/health")).status_code == 200


async def test_shutdown_lets_the_running_answer_finish_and_refuses_new_runs(
    tmp_path: Path,
) -> None:
    app, release, seen = gated_app(Settings(app_dir=str(tmp_path), history=False))
    async with running(app) as client:
        chat = (await client.get("/")).headers["location"]
        posted = await client.post(f"{chat}/messages", data={"content": "hi"}, headers=HTMX)
        assert posted.status_code == 204
        await until(lambda: seen == ["started"], "the answer started")

        stopping = asyncio.create_task(app.stop())
        assert app.chats is not None
        await until(lambda: app.chats is not None and app.chats.draining, "draining")
        assert (await client.get("/-/ready")).text == "not ready: this worker is shutting down\n"
        refused = await client.post(f"{chat}/messages", data={"content": "more"}, headers=HTMX)
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert "shutting down" in refused.text
        assert not stopping.done()  # waiting for the answer

        release.set()
        await stopping
        assert seen == ["started", "finished"]


async def test_an_answer_longer_than_the_grace_period_is_stopped_and_kept(
    tmp_path: Path,
) -> None:
    app, _release, seen = gated_app(
        Settings(app_dir=str(tmp_path), history=False, shutdown_grace_s=0)
    )
    async with running(app) as client:
        chat = (await client.get("/")).headers["location"]
        await client.post(f"{chat}/messages", data={"content": "hi"}, headers=HTMX)
        await until(lambda: seen == ["started"], "the answer started")
        assert app.chats is not None
        session = next(iter(app.chats._sessions.values()))
    # running() stopped the app: the grace period of 0 s ended the answer at once.
    assert seen == ["started", "stopped"]
    answers = [item for item in session.transcript.roots() if item.type == "assistant_message"]
    assert [getattr(item, "content", "") for item in answers] == ["part "]
    assert not any(getattr(item, "streaming", False) for item in answers)


EXITED_ON_SIGTERM = (0, -signal.SIGTERM)
"""uvicorn shuts down on SIGTERM, then lets the signal end the process as it would have."""


def test_several_workers_need_redis_and_refuse_reload() -> None:
    app = LightChat(settings=Settings(history=False))
    with pytest.raises(AppLoadError, match="--workers 2 needs LIGHTCHAT_REDIS_URL"):
        _check_workers(app, 2, reload=False)
    with pytest.raises(AppLoadError, match="cannot be combined with --workers"):
        _check_workers(app, 2, reload=True)
    _check_workers(app, 1, reload=True)  # one worker: as before


def test_several_workers_on_sqlite_are_warned_about(capsys: pytest.CaptureFixture[str]) -> None:
    sqlite = LightChat(settings=Settings(redis_url=REDIS_URL))
    _check_workers(sqlite, 3, reload=False)
    assert "3 workers share the history's SQLite file" in capsys.readouterr().err
    postgres = LightChat(settings=Settings(redis_url=REDIS_URL, database_url="postgresql://db/x"))
    _check_workers(postgres, 3, reload=False)
    assert capsys.readouterr().err == ""


# -- real processes ---------------------------------------------------------------------------


def send_and_see_it_stream(client: httpx.Client, chat: str, word: str) -> None:
    """Send a message, then read the chat's stream until ``word`` of the answer arrives."""
    posted = client.post(f"{chat}/messages", data={"content": "go"}, headers=HTMX)
    assert posted.status_code == 204, posted.text
    with client.stream("GET", f"{chat}/events", headers=HTMX, timeout=20) as stream:
        for line in stream.iter_lines():
            if word in line:
                return
    raise AssertionError(f"the stream ended before {word!r}")


@pytest.mark.processes
def test_sigterm_lets_the_streaming_answer_finish(
    tmp_path: Path, lightchat_serve: LightchatServe
) -> None:
    env = {"SCALE_WORDS": "30", "SCALE_DELAY_S": "0.1", "LIGHTCHAT_SHUTDOWN_GRACE_S": "20"}
    server = lightchat_serve(APP, env={**env, "LIGHTCHAT_APP_DIR": str(tmp_path)}, ready="/-/ready")
    with httpx.Client(base_url=server.url, timeout=10) as client:
        chat = start_chat(client)
        send_and_see_it_stream(client, chat, "w2 ")
        took = server.terminate()
        assert server.process.returncode in EXITED_ON_SIGTERM, server.output()
        assert 1.0 < took < 20, took  # it waited for the ~2.7 s left of the answer, not more

        # The same folder: the same history and cookie secret.
        again = lightchat_serve(APP, env={"LIGHTCHAT_APP_DIR": str(tmp_path)}, ready="/-/ready")
        page = httpx.get(f"{again.url}{chat}", cookies=client.cookies, timeout=10)
    assert page.status_code == 200
    assert " ".join(f"w{i}" for i in range(30)) in page.text  # the whole answer was saved


@pytest.mark.processes
def test_sigterm_stops_an_answer_longer_than_the_grace_period(
    tmp_path: Path, lightchat_serve: LightchatServe
) -> None:
    env = {"SCALE_WORDS": "2000", "SCALE_DELAY_S": "0.05", "LIGHTCHAT_SHUTDOWN_GRACE_S": "1"}
    server = lightchat_serve(APP, env={**env, "LIGHTCHAT_APP_DIR": str(tmp_path)}, ready="/-/ready")
    with httpx.Client(base_url=server.url, timeout=10) as client:
        chat = start_chat(client)
        send_and_see_it_stream(client, chat, "w2 ")
        took = server.terminate()
        assert server.process.returncode in EXITED_ON_SIGTERM, server.output()
        assert took < 8, took  # 1 s of grace, then stopped (2000 words would take 100 s)

        again = lightchat_serve(APP, env={"LIGHTCHAT_APP_DIR": str(tmp_path)}, ready="/-/ready")
        page = httpx.get(f"{again.url}{chat}", cookies=client.cookies, timeout=10)
    assert "w0 w1 w2 w3" in page.text  # what was streamed is kept
    assert "w1999" not in page.text
    assert "data-streaming" not in page.text  # and finished, not left streaming


@pytest.mark.processes
def test_two_workers_serve_one_port(tmp_path: Path, lightchat_serve: LightchatServe) -> None:
    with postgres_database() as database:
        env = {"LIGHTCHAT_REDIS_URL": REDIS_URL, "LIGHTCHAT_DATABASE_URL": database}
        env["LIGHTCHAT_APP_DIR"] = str(tmp_path)
        server = lightchat_serve(APP, "--workers", "2", env=env, ready="/-/ready")
        pids: set[str] = set()
        deadline = time.monotonic() + 20
        while len(pids) < 2 and time.monotonic() < deadline:
            # A new connection each time: the kernel hands it to either worker.
            response = httpx.get(f"{server.url}/-/ready", headers={"Connection": "close"})
            if response.status_code == 200:
                pids.add(response.text.split()[-1])
        assert len(pids) == 2, pids
        assert str(server.process.pid) not in pids  # the supervisor serves nothing itself
        assert server.terminate() < 15
        output = server.output()
    assert server.process.returncode in EXITED_ON_SIGTERM, output
    assert "with 2 workers" in output


@pytest.mark.processes
def test_serve_refuses_several_workers_without_redis(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "LIGHTCHAT_REDIS_URL"}
    done = subprocess.run(
        [LIGHTCHAT, "serve", str(APP), "--workers", "2"],
        env={**env, "LIGHTCHAT_APP_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("Error: --workers 2 needs LIGHTCHAT_REDIS_URL")
    assert done.stderr.count("\n") == 1  # one line
