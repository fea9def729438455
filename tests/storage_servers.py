"""The local storage servers the storage tests run against, each a real process on a free
loopback port: moto's S3 server (``moto_server``, from PyPI), Azurite (Microsoft's Azure
Storage server, from npm: ``make azurite`` installs it in tests/azurite) and the Google
Cloud Storage emulator (``gcp-storage-emulator``, from PyPI).

Each is started once per test process (a session fixture of the test file) and stopped at
its end; a server that is not installed skips its tests with the command that installs it.
"""

from __future__ import annotations

import shutil
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import ROOT, free_port, stop_process

VENV_BIN = ROOT / ".venv" / "bin"
AZURITE = ROOT / "tests" / "azurite" / "node_modules" / ".bin" / "azurite-blob"

# Azurite's well-known development account (its documentation publishes it).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


@dataclass(frozen=True)
class Endpoint:
    """A storage server that answers at ``url``."""

    url: str
    port: int


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError as error:
        error.close()
        return True  # an HTTP answer, of whatever status: the server is up
    except OSError:
        return False


@contextmanager
def _serving(command: list[str], url: str, name: str, *, kill: bool = False) -> Iterator[None]:
    """Run ``command`` until the block ends; ``kill``: end it with SIGKILL (for a server
    whose data is thrown away and whose graceful stop takes seconds)."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        while not _answers(url):
            if process.poll() is not None or time.monotonic() > deadline:
                output = stop_process(process, timeout=5)
                raise RuntimeError(f"{name} did not start at {url}:\n{output}")
            time.sleep(0.05)  # a port that is not open yet: nothing to wait on
        yield
    finally:
        if kill:
            process.kill()
        stop_process(process, timeout=5)


@contextmanager
def moto_s3() -> Iterator[Endpoint]:
    """moto's server (it speaks S3, and DynamoDB and the rest of AWS) on a free port."""
    command = VENV_BIN / "moto_server"
    if not command.exists():
        pytest.skip("moto_server is missing: make install")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with _serving([str(command), "-H", "127.0.0.1", "-p", str(port)], url, "moto_server"):
        yield Endpoint(url, port)


@contextmanager
def azurite(folder: Path) -> Iterator[Endpoint]:
    """Azurite's Blob service on a free port, keeping its data in ``folder``."""
    node = shutil.which("node")
    if not AZURITE.exists() or node is None:
        pytest.skip("Azurite is missing: make azurite (needs npm)")
    port = free_port()
    url = f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}"
    command = [
        str(AZURITE),
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        str(port),
        "--location",
        str(folder),
        "--silent",
        "--skipApiVersionCheck",
        "--loose",
    ]
    # Azurite waits five seconds for its connections when asked to stop: its data is
    # thrown away with the test's folder, so it is killed.
    with _serving(command, f"http://127.0.0.1:{port}/", "Azurite", kill=True):
        yield Endpoint(url, port)


@contextmanager
def gcs_emulator(folder: Path) -> Iterator[Endpoint]:
    """The Google Cloud Storage emulator on a free port, keeping its data in ``folder``."""
    command = VENV_BIN / "gcp-storage-emulator"
    if not command.exists():
        pytest.skip("gcp-storage-emulator is missing: make install")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    start = [str(command), "-d", str(folder), "start", "--host", "127.0.0.1", "--port", str(port)]
    with _serving(start, url, "gcp-storage-emulator"):
        yield Endpoint(url, port)
