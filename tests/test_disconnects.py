"""A client that goes away in the middle of its request, against a real ``lightchat serve``:
the server logs one line (no traceback) and goes on serving."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port, stop_process, wait_until_answers

pytestmark = [pytest.mark.processes, pytest.mark.timeout(60)]

LIGHTCHAT = str(Path(sys.executable).with_name("lightchat"))
TOKEN = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
APP = """
import lightchat as cl


@cl.on_message
async def main(message: cl.Message) -> None:
    await cl.Message(content=f"got {len(message.elements)} files").send()
"""


def part(name: str, value: bytes, filename: str = "") -> bytes:
    disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
    return f"--XX\r\nContent-Disposition: {disposition}\r\n\r\n".encode() + value + b"\r\n"


def test_a_client_gone_in_the_middle_of_an_upload_costs_one_log_line(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(APP)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [LIGHTCHAT, "serve", str(tmp_path / "app.py"), "--port", str(port)],
        cwd=tmp_path,
        env={**os.environ, "LIGHTCHAT_HISTORY": "0"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_until_answers(process, f"{url}/-/health")
        with httpx.Client(base_url=url, timeout=10) as client:
            page = client.get("/", follow_redirects=True)
            found = TOKEN.search(page.text)
            assert found is not None
            chat = page.url.path
            cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
            # The token, the text, then a file of which only a part ever arrives.
            body = (
                part("csrf_token", found[1].encode())
                + part("content", b"hello")
                + part("files", b"x" * 200_000, filename="big.txt")[:70_000]
            )
            head = (
                f"POST {chat}/messages HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                f"Cookie: {cookie}\r\nContent-Type: multipart/form-data; boundary=XX\r\n"
                "Content-Length: 400000\r\n\r\n"
            )
            with socket.create_connection(("127.0.0.1", port)) as raw:
                raw.sendall(head.encode() + body)
            # The server goes on: the same browser's next message is answered.
            posted = client.post(
                f"{chat}/messages",
                data={"content": "again"},
                headers={"X-CSRF-Token": found[1]},
            )
            assert posted.status_code in (204, 303), posted.text
    finally:
        output = stop_process(process)
    gone = [line for line in output.splitlines() if "went away" in line]
    assert gone == [
        f"INFO:     lightchat: The client went away while its request was read: "
        f"POST {chat}/messages (dropped)"
    ], output
    assert "Traceback" not in output, output
    assert "ClientDisconnect" not in output, output
