"""The copilot widget signs its chat in with an access token (custom auth), in a real
browser: a host page on another origin mounts it with Chainlit's ``accessToken``, made the
way the host site's server makes it (``create_jwt``: HS256 with the app's secret).

The app is tests/e2e/apps/custom_auth_app.py, served by ``lightchat serve`` with Chainlit's
``CHAINLIT_CUSTOM_AUTH`` and the host page's origin in ``LIGHTCHAT_FRAME_ANCESTORS``: on
another port (another origin, the same site), and, over HTTPS with a certificate made here,
on another site (``localhost`` framing ``127.0.0.1``), where only a ``SameSite=None``
cookie reaches the frame.
"""

from __future__ import annotations

import datetime
import functools
import http.server
import ipaddress
import json
import os
import ssl
import subprocess
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from playwright.sync_api import Browser, BrowserContext, Page, expect

from lightchat import User
from lightchat.auth.tokens import AccessTokens
from tests.e2e.helpers import Serve
from tests.e2e.test_copilot import chat_frame, open_panel
from tests.helpers import LIGHTCHAT, WAIT_S, Server, free_port, stop_process

SECRET = "copilot-token-secret-" + "c" * 40
OTHER_SECRET = "some-other-secret-" + "o" * 40

HOST_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Acme account</title></head>
<body>
  <h1>Acme account</h1>
  <script src="{server}/copilot/index.js" data-mount="manual"></script>
  <script>
    window.mountChainlitWidget({{chainlitServer: "{server}", accessToken: {token}}});
  </script>
</body>
</html>
"""


HostPage = Callable[[Server | str, int, str], str]
"""The ``host_page`` fixture: serve a host page for an app (its server or URL) on a port,
mounting the widget with a token; the page's URL."""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def host_page(tmp_path: Path) -> Iterator[HostPage]:
    """Serve a host page (another origin: another port) mounting the widget with a token;
    returns the page's URL."""
    servers: list[http.server.ThreadingHTTPServer] = []

    def start(server: Server | str, port: int, token: str) -> str:
        folder = tmp_path / f"host{len(servers)}"
        folder.mkdir()
        url = server if isinstance(server, str) else server.url
        html = HOST_PAGE.format(server=url, token=json.dumps(token))
        (folder / "index.html").write_text(html)
        handler = functools.partial(_Quiet, directory=str(folder))
        static = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
        threading.Thread(target=static.serve_forever, daemon=True).start()
        servers.append(static)
        return f"http://127.0.0.1:{port}/index.html"

    yield start
    for static in servers:
        static.shutdown()
        static.server_close()


def serve_custom_auth(serve: Serve, port: int) -> Server:
    return serve(
        "custom_auth_app.py",
        env={
            "LIGHTCHAT_AUTH_SECRET": SECRET,
            "CHAINLIT_CUSTOM_AUTH": "true",
            "LIGHTCHAT_HISTORY": "0",
            "LIGHTCHAT_FRAME_ANCESTORS": f"'self' http://127.0.0.1:{port}",
        },
    )


def token_for(identifier: str, secret: str = SECRET) -> str:
    """The token the host site's server makes for its signed-in user."""
    return AccessTokens(secret, 3600).create(User(identifier=identifier, metadata={"plan": "pro"}))


def test_the_widget_signs_its_chat_in_with_the_access_token(
    serve: Serve, host_page: HostPage, page: Page, context: BrowserContext
) -> None:
    port = free_port()
    server = serve_custom_auth(serve, port)
    token = token_for("ada@acme.example")
    urls: list[str] = []
    page.on("request", lambda request: urls.append(request.url))
    page.goto(host_page(server, port, token))

    # Sent before the panel opens: it waits for the chat, not for the sign-in page.
    page.evaluate("window.sendChainlitMessage('sent early')")
    chat = open_panel(page)
    log = chat.get_by_role("log", name="Conversation")
    expect(log).to_contain_text("Hello ada@acme.example (pro)")  # signed in, with metadata
    expect(log.locator('article[data-type="assistant_message"]').last).to_contain_text(
        "You said: sent early"
    )
    frame = chat_frame(page)
    assert frame.url.startswith(f"{server.url}/chat/"), frame.url

    # A message typed in the panel, as in any chat.
    expect(chat.locator("#lc-composer[data-htmx-powered]")).to_have_count(1)
    chat.get_by_role("textbox", name="Message").fill("hello")
    chat.get_by_role("textbox", name="Message").press("Enter")
    expect(log.locator('article[data-type="assistant_message"]').last).to_contain_text(
        "You said: hello"
    )

    # The app's own route (Depends(get_current_user)) knows the frame's user too.
    me = frame.evaluate("fetch('/api/me', {credentials: 'same-origin'}).then(r => r.json())")
    assert me == {"identifier": "ada@acme.example"}

    # The session is the chat's HttpOnly cookie; the token went in no URL.
    session = [c for c in context.cookies(server.url) if c["name"] == "lightchat_session"]
    assert len(session) == 1
    assert session[0]["httpOnly"]
    assert session[0]["sameSite"] == "Lax"
    assert urls
    assert not any(token in url for url in urls)


def test_a_refused_token_says_why_in_the_panel(
    serve: Serve, host_page: HostPage, page: Page, context: BrowserContext
) -> None:
    port = free_port()
    server = serve_custom_auth(serve, port)
    page.goto(host_page(server, port, token_for("mallory", OTHER_SECRET)))

    chat = open_panel(page)
    alert = chat.get_by_role("alert")
    expect(alert).to_have_text(
        "This access token was refused: it is malformed, or not signed with this app's secret."
    )
    expect(chat.get_by_role("log", name="Conversation")).to_have_count(0)
    assert chat_frame(page).url.startswith(f"{server.url}/auth/jwt?next=")
    assert not [c for c in context.cookies(server.url) if c["name"] == "lightchat_session"]


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, made for the test (a day long)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


@pytest.fixture
def https_app(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """The app over HTTPS (``lightchat run`` with a certificate made here), framed by a host
    page on another site (``http://localhost:<port>``); its URL and that port."""
    cert, key = self_signed(tmp_path)
    port, host_port = free_port(), free_port()
    env = {
        **os.environ,
        "LIGHTCHAT_APP_DIR": str(tmp_path),
        "LIGHTCHAT_AUTH_SECRET": SECRET,
        "CHAINLIT_CUSTOM_AUTH": "true",
        "LIGHTCHAT_HISTORY": "0",
        "LIGHTCHAT_FRAME_ANCESTORS": f"'self' http://localhost:{host_port}",
    }
    app = Path(__file__).parent / "apps" / "custom_auth_app.py"
    command = [LIGHTCHAT, "run", str(app), "-h", "--port", str(port)]
    process = subprocess.Popen(
        [*command, "--ssl-cert", str(cert), "--ssl-key", str(key)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"https://127.0.0.1:{port}"
    try:
        wait_for_https(process, f"{url}/-/health")
        yield url, host_port
    finally:
        output = stop_process(process)
    assert "Traceback" not in output, output


def wait_for_https(process: subprocess.Popen[str], url: str, timeout: float = 20) -> None:
    """Wait until the HTTPS server answers at ``url`` (its certificate is the test's own)."""
    unverified = ssl.create_default_context()
    unverified.check_hostname = False
    unverified.verify_mode = ssl.CERT_NONE
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"lightchat run exited early:\n{process.communicate()[0]}")
        try:
            with urllib.request.urlopen(url, timeout=1, context=unverified) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.05)  # polling a port that is not open yet; nothing to wait on
    raise RuntimeError(f"lightchat run did not answer at {url} within {timeout}s")


def test_on_another_site_over_https_the_frame_keeps_its_partitioned_session(
    https_app: tuple[str, int], host_page: HostPage, browser: Browser
) -> None:
    server, host_port = https_app
    context = browser.new_context(ignore_https_errors=True)  # the certificate is the test's
    try:
        page = context.new_page()
        page.goto(
            host_page(server, host_port, token_for("ada@acme.example")).replace(
                "127.0.0.1", "localhost"
            )
        )
        chat = open_panel(page)
        log = chat.get_by_role("log", name="Conversation")
        expect(log).to_contain_text("Hello ada@acme.example (pro)", timeout=WAIT_S * 2000)
        cookies = {c["name"]: c for c in context.cookies(server)}
        session = cookies["lightchat_session"]
        # Sent in a frame on another site, and kept for that site only (CHIPS).
        assert (session["sameSite"], session["secure"], session["httpOnly"]) == (
            "None",
            True,
            True,
        )
        assert session.get("partitionKey") == "http://localhost"
        assert cookies["lightchat_browser"].get("partitionKey") == "http://localhost"
    finally:
        context.close()
