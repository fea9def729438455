"""What a start imports: ``import lightchat``, and a server up to its first chat page,
import nothing that page does not need. OAuth (authlib, its HTTP client, joserfc), the
cryptography that seals MCP servers, markdown-it, Pygments and LaTeX, Alembic (the
database is current), Plotly, pandas, Redis, WebSockets and the integrations come when
something uses them.

Each check runs in a fresh Python process: this one has all of them from other tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = [pytest.mark.timeout(120)]

ROOT = Path(__file__).resolve().parents[1]

DEFERRED = (
    "authlib",
    "httpx2",
    "joserfc",
    "cryptography",
    "markdown_it",
    "mdit_py_plugins",
    "pygments",
    "latex2mathml",
    "alembic",
    "mako",
    "plotly",
    "pandas",
    "redis",
    "websockets",
    "lightchat.integrations",
    "lightchat.server",
    "lightchat.telemetry",
)

APP = """
import lightchat as cl


@cl.on_message
async def main(message: cl.Message) -> None:
    await cl.Message(content=f"You said: {message.content}").send()
"""

# Serve the app as `lightchat serve` builds it (lightchat.cli: load the file, build the
# app, run its lifespan), open the first chat page and its static files as a browser
# would (plain ASGI calls: an HTTP client library would bring modules of its own), then
# say which of DEFERRED were imported and whether history had opened.
FIRST_PAGE = """
import asyncio, json, re, sys
from urllib.parse import urlsplit

from lightchat.cli import load_app, served


async def get(app, url, cookie=""):
    parts = urlsplit(url)
    headers = [(b"host", b"127.0.0.1"), (b"accept-encoding", b"br, gzip")]
    if cookie:
        headers.append((b"cookie", cookie.encode()))
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": parts.path, "raw_path": parts.path.encode(),
        "query_string": parts.query.encode(), "root_path": "", "headers": headers,
        "client": ("127.0.0.1", 123), "server": ("127.0.0.1", 80),
    }
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], dict((k.decode(), v.decode()) for k, v in start["headers"]), body


async def main(app_file, deferred):
    app = load_app(app_file)
    asgi = served(app)
    await app.start()
    assert await app.history.wait_ready(), "history did not open"
    status, headers, _ = await get(asgi, "/")
    assert status == 303, status
    cookie = headers["set-cookie"].split(";", 1)[0]
    status, headers, body = await get(asgi, headers["location"], cookie)
    assert status == 200, status
    assert headers["content-encoding"] == "br", headers
    import brotli
    page = brotli.decompress(body).decode()
    for url in re.findall(r'(?:src|href)="(/-/static/[^"]+)"', page):
        assert (await get(asgi, url, cookie))[0] == 200, url
    await app.stop()
    loaded = sorted(
        name for name in deferred if any(m == name or m.startswith(name + ".") for m in sys.modules)
    )
    print(json.dumps({"loaded": loaded, "store": "lightchat.store" in sys.modules}))


asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
"""


def run(code: str, *args: str, cwd: Path = ROOT) -> str:
    done = subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_import_lightchat_imports_none_of_the_deferred_libraries() -> None:
    code = textwrap.dedent(
        """
        import json, sys
        import lightchat
        import lightchat.cli
        print(json.dumps(sorted(sys.modules)))
        """
    )
    modules = json.loads(run(code))
    loaded = [name for name in DEFERRED if any(m.split(".")[0] == name for m in modules)]
    loaded += [name for name in DEFERRED if "." in name and name in modules]
    assert loaded == []
    assert "lightchat.store" not in modules  # the history's store opens after the start


@pytest.mark.processes
def test_serving_the_first_chat_page_imports_none_of_them(tmp_path: Path) -> None:
    app_file = tmp_path / "app.py"
    app_file.write_text(APP)
    deferred = json.dumps(DEFERRED)
    # The first start creates the database (its migrations need Alembic)...
    run(FIRST_PAGE, str(app_file), deferred, cwd=tmp_path)
    assert (tmp_path / ".lightchat" / "chat.db").is_file()
    # ...every later one finds it current: nothing deferred is imported.
    found = json.loads(run(FIRST_PAGE, str(app_file), deferred, cwd=tmp_path))
    assert found == {"loaded": [], "store": True}
