"""Starting the servers under test, and reading a process's CPU time and memory.

``lightchat serve benchmarks/bench_app.py`` and ``python benchmarks/baseline_app.py`` each
run in their own process on a free loopback port, exactly as a user would start them; the
benchmarks read their CPU time and RSS from ``/proc/<pid>``.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LIGHTCHAT = str(Path(sys.executable).with_name("lightchat"))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")

KINDS = ("baseline", "lightchat")

# Serve lightchat from this folder instead of the installed package (``run.py --lightchat``),
# e.g. ``git archive <commit> lightchat | tar -x -C /tmp/old`` to compare two versions.
lightchat_source: Path | None = None
# Extra environment for the lightchat server (``run.py --set NAME=VALUE``).
lightchat_env: dict[str, str] = {}


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid: int) -> int:
    """The process's resident memory now."""
    return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_SIZE


def command(kind: str, port: int) -> list[str]:
    """The command line that serves ``kind`` ("lightchat" or "baseline") on ``port``."""
    if kind == "lightchat":
        return [LIGHTCHAT, "serve", str(HERE / "bench_app.py"), "--port", str(port)]
    if kind == "baseline":
        return [sys.executable, str(HERE / "baseline_app.py"), "--port", str(port)]
    raise ValueError(f"unknown server kind {kind!r}; use one of {KINDS}")


def get(port: int, path: str, cookie: str = "", timeout: float = 2) -> http.client.HTTPResponse:
    """One GET on a fresh connection (the body is read)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        response.read()
        return response
    finally:
        conn.close()


@dataclass
class Server:
    """A server process on a loopback port, with a scratch folder of its own."""

    kind: str
    port: int
    process: subprocess.Popen[bytes]
    folder: Path  # its log, and lightchat's app folder (.lightchat/chat.db and secret)
    started: float  # time.perf_counter() just before the spawn

    @property
    def log_path(self) -> Path:
        return self.folder / "server.log"

    @property
    def pid(self) -> int:
        return self.process.pid

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal_and_read(self, path: Path, timeout: float = 5) -> str:
        """Send SIGUSR1 (the apps write a report to ``path``) and return what was written."""
        self.process.send_signal(signal.SIGUSR1)
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            text = path.read_text() if path.exists() else ""
            if text:
                return text
            time.sleep(0.02)  # the handler runs at the server's next loop turn
        return ""

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not exit within 10 s."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


PYCACHE = Path(sys.prefix) / "pycache"
"""Where both servers keep their modules compiled (``PYTHONPYCACHEPREFIX``, as ``make``
does), even when ``PYTHONDONTWRITEBYTECODE`` is set: an installed package is compiled
once, at install, so a start that compiles every module from source (lightchat's hundred
of them: about 0.1 s) is not what users get."""


def spawn(kind: str, env: dict[str, str] | None = None) -> Server:
    """Start a server without waiting for it.

    lightchat runs with its default settings, history included, except that its app folder
    (where history's SQLite file and the cookie secret go) is a fresh scratch folder, so
    every run starts from an empty database and nothing is written into the repository.
    """
    port = free_port()
    folder = Path(tempfile.mkdtemp(prefix=f"bench-{kind}-"))
    environ = {**os.environ, "LIGHTCHAT_APP_DIR": str(folder), **(env or {})}
    environ.pop("PYTHONDONTWRITEBYTECODE", None)
    environ["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    if kind == "lightchat":
        environ.update(lightchat_env)
    if lightchat_source is not None and kind == "lightchat":
        paths = [str(lightchat_source), environ.get("PYTHONPATH", "")]
        environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    with (folder / "server.log").open("wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            command(kind, port),
            cwd=ROOT,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return Server(kind, port, process, folder, started)


def wait_first_page(
    server: Server, timeout: float = 20, poll: float = 0.002
) -> tuple[float, float]:
    """Poll ``GET /`` until it answers, then follow its redirect to a 200 page.

    Returns (seconds from spawn to the first answer on ``/``, seconds to the first 200).
    """
    deadline = time.perf_counter() + timeout
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.kind} exited early:\n{server.log()}")
        try:
            first = get(server.port, "/", timeout=timeout)
        except OSError:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"{server.kind} did not answer within {timeout}s") from None
            time.sleep(poll)  # the port is not open yet; nothing to wait on but time
            continue
        answered = time.perf_counter() - server.started
        location = first.getheader("location")
        cookie = (first.getheader("set-cookie") or "").split(";", 1)[0]
        if first.status != 303 or not location:
            raise RuntimeError(f"{server.kind}: GET / answered {first.status}, not a 303")
        page = get(server.port, location, cookie, timeout=timeout)
        if page.status != 200:
            raise RuntimeError(f"{server.kind}: GET {location} answered {page.status}")
        return answered, time.perf_counter() - server.started


def wait_settled(server: Server, timeout: float = 20) -> float:
    """Poll lightchat's readiness check (``/-/ready``: the history's store is open) until
    it answers 200; the seconds from the spawn. The baseline has nothing to settle."""
    deadline = time.perf_counter() + timeout
    while server.kind == "lightchat":
        try:
            if get(server.port, "/-/ready", timeout=timeout).status == 200:
                break
        except OSError:
            pass
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{server.kind} was not ready within {timeout}s")
        time.sleep(0.02)  # the store is still opening: nothing to wait on but time
    return time.perf_counter() - server.started


def start(kind: str, env: dict[str, str] | None = None) -> Server:
    """Start a server and wait until it serves a chat page."""
    server = spawn(kind, env)
    try:
        wait_first_page(server)
    except BaseException:
        server.stop()
        raise
    return server
