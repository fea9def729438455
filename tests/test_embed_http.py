"""A chat mounted under /chat in a FastAPI host app: every URL family, its cookies, its
start-up with the host, the host's users, the embed fragment and the host macros."""

from __future__ import annotations

import html
import importlib
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from jinja2 import Environment
from starlette.authentication import (
    AuthCredentials,
    AuthenticationBackend,
    BaseUser,
    SimpleUser,
    UnauthenticatedUser,
)
from starlette.middleware import Middleware
from starlette.middleware.authentication import AuthenticationMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.testclient import TestClient

import lightchat
from lightchat import File, LightChat, Message, Settings, User
from lightchat.auth.host import HostAuth
from lightchat.embed import mount, templates
from lightchat.errors import ConfigError
from lightchat.utils import mount_chainlit
from tests.helpers import LiveServer, sse_field

pytestmark = pytest.mark.timeout(30)

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "12_fastapi"
TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PREFIXED = re.compile(r'(?:href|action|src|hx-get|hx-post|hx-sse:connect|formaction)="([^"]*)"')


class HeaderUsers(AuthenticationBackend):
    """The test host's sign-in: the user named in X-Test-User (a stand-in for a real one)."""

    async def authenticate(self, conn: HTTPConnection) -> tuple[AuthCredentials, BaseUser]:
        name = conn.headers.get("x-test-user")
        if name:
            return AuthCredentials(["authenticated"]), SimpleUser(name)
        return AuthCredentials(), UnauthenticatedUser()


def make_chat(folder: Path, *, host_auth: HostAuth = False, history: bool = True) -> LightChat:
    chat = LightChat(
        Settings(app_dir=str(folder), history=history, token_batch_ms=5), host_auth=host_auth
    )

    @chat.on_message
    async def answer(message: Message) -> None:
        note = File(name="note.txt", content=b"file body", display="inline")
        await Message(content=f"You said: {message.content}", elements=[note]).send()

    return chat


def make_host(chat: LightChat, *, helper: bool = True) -> FastAPI:
    host = FastAPI(middleware=[Middleware(AuthenticationMiddleware, backend=HeaderUsers())])

    @host.get("/")
    async def home() -> dict[str, str]:
        return {"page": "host"}

    if helper:
        mount(host, "/chat", chat)
    else:
        host.mount("/chat", chat)  # plain Starlette mounting: the chat starts lazily
    return host


def new_chat(client: TestClient, **headers: str) -> str:
    response = client.get("/chat/", headers=headers, follow_redirects=False)
    assert response.status_code == 303, response.text
    url = response.headers["location"]
    assert re.fullmatch(r"/chat/chat/[0-9a-f]{32}", url)
    return url


def send(client: TestClient, url: str, text: str, **headers: str) -> str:
    page = client.get(url, headers=headers).text
    token = TOKEN.search(page)
    assert token is not None
    posted = client.post(
        f"{url}/messages",
        data={"csrf_token": token.group(1), "content": text},
        headers=headers,
        follow_redirects=False,
    )
    assert posted.status_code == 303, posted.text
    assert posted.headers["location"] == url
    return client.get(url, headers=headers).text


def test_every_url_family_works_under_the_prefix(tmp_path: Path) -> None:
    chat = make_chat(tmp_path)
    with TestClient(make_host(chat)) as client:
        first = client.get("/chat/", follow_redirects=False)
        cookie = first.headers["set-cookie"]
        assert cookie.startswith("lightchat_browser=")
        assert "Path=/chat;" in cookie
        url = first.headers["location"]
        page = send(client, url, "hello host")
        assert "You said: hello host" in page
        # Every URL in the page stays inside the mount.
        urls = [html.unescape(u) for u in PREFIXED.findall(page)]
        assert urls
        assert all(u.startswith("/chat/") for u in urls if u.startswith("/")), urls
        assert f'action="{url}/messages"' in page
        assert f'hx-sse:connect="{url}/events?after=' in page
        assert 'href="/chat/-/static/lightchat.css' in page

        assert client.get("/chat/-/static/lightchat.js").status_code == 200
        assert client.get("/-/static/lightchat.js").status_code == 404  # not the host's
        element = re.search(rf'href="({re.escape(url)}/elements/[^"]+)"', page)
        assert element is not None
        assert client.get(html.unescape(element.group(1))).content == b"file body"

        assert f'href="{url}"' in client.get("/chat/history").text
        exported = client.get(f"{url}/export.md")
        assert exported.status_code == 200
        assert "hello host" in exported.text
        assert client.get("/").json() == {"page": "host"}  # the host's own routes still answer


def test_the_chat_starts_and_stops_with_the_host(tmp_path: Path) -> None:
    chat = make_chat(tmp_path)
    host = make_host(chat)
    with TestClient(host) as client:
        assert chat.running  # before any request
        url = new_chat(client)
        send(client, url, "kept")
        # The data layer opens in the background; the history page waits for it.
        assert f'href="{url}"' in client.get("/chat/history").text
    assert not chat.running  # stopped with the host
    # Served again by a new process (a new app on the same folder): the chat comes back
    # from the history.
    with TestClient(make_host(make_chat(tmp_path)), cookies=dict(client.cookies)) as again:
        assert "You said: kept" in again.get(url).text


def test_a_plainly_mounted_chat_starts_with_its_first_request(tmp_path: Path) -> None:
    chat = make_chat(tmp_path)
    with TestClient(make_host(chat, helper=False)) as client:
        assert not chat.running  # the host does not start it
        url = new_chat(client)
        assert chat.running
        send(client, url, "lazy")
        assert f'href="{url}"' in client.get("/chat/history").text


@pytest.mark.anyio
async def test_a_start_failure_is_raised_and_tried_again(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    chat = make_chat(blocker)  # the history cannot make .lightchat/ inside a file
    with pytest.raises(NotADirectoryError):
        await chat.start()
    with pytest.raises(NotADirectoryError):
        await chat.start()
    await chat.stop()


def test_sign_in_redirects_and_cookies_stay_under_the_prefix(tmp_path: Path) -> None:
    chat = LightChat(Settings(app_dir=str(tmp_path), history=False, auth_secret="s" * 40))

    @chat.password_auth_callback
    def check(username: str, password: str) -> User | None:
        return User(identifier=username) if password == "right" else None

    @chat.on_message
    async def answer(message: Message) -> None:
        await Message(content="ok").send()

    with TestClient(make_host(chat)) as client:
        gone = client.get("/chat/history", follow_redirects=False)
        assert gone.status_code == 303
        assert gone.headers["location"] == "/chat/login?next=%2Fchat%2Fhistory"
        login = client.get(gone.headers["location"]).text
        assert 'action="/chat/login"' in login
        token = TOKEN.search(login)
        assert token is not None
        signed = client.post(
            "/chat/login",
            data={
                "csrf_token": token.group(1),
                "username": "ann",
                "password": "right",
                "next": "/chat/history",
            },
            follow_redirects=False,
        )
        assert signed.headers["location"] == "/chat/history"
        assert "Path=/chat;" in signed.headers["set-cookie"]
        assert client.get("/chat/", follow_redirects=False).status_code == 303


def test_host_users_own_their_chats(tmp_path: Path) -> None:
    chat = make_chat(tmp_path, host_auth=True)
    with TestClient(make_host(chat)) as client:
        ann = {"x-test-user": "ann"}
        bob = {"x-test-user": "bob"}
        url = new_chat(client, **ann)
        assert "ann" in send(client, url, "ann's secret", **ann)  # the user menu names her
        assert "/chat/logout" not in client.get(url, headers=ann).text  # the host signs out
        # The same browser, another host user: not their chat.
        assert client.get(url, headers=bob).status_code == 404
        assert client.get(f"{url}/export.md", headers=bob).status_code == 404
        bob_chat = new_chat(client, **bob)
        send(client, bob_chat, "bob's question", **bob)
        ann_history = client.get("/chat/history", headers=ann).text
        bob_history = client.get("/chat/history", headers=bob).text
        assert f'href="{url}"' in ann_history
        assert f'href="{bob_chat}"' not in ann_history
        assert f'href="{bob_chat}"' in bob_history
        assert f'href="{url}"' not in bob_history
        session = chat.chats.get(url.rsplit("/", 1)[1], "user:ann") if chat.chats else None
        assert session is not None
        assert session.user == User(identifier="ann", display_name="ann")


@pytest.mark.parametrize(
    "path", ["/chat/", "/chat/history", "/chat/embed", "/chat/chat/" + "0" * 32 + "/events"]
)
def test_without_a_host_user_the_chat_refuses(tmp_path: Path, path: str) -> None:
    chat = make_chat(tmp_path, host_auth=True, history=False)
    with TestClient(make_host(chat)) as client:
        refused = client.get(path, follow_redirects=False)
        assert refused.status_code == 401
        assert "not signed in" in refused.text
        french = client.get(path, headers={"Accept-Language": "fr"}, follow_redirects=False)
        assert "pas connecté. Connectez-vous au site" in french.text
        assert client.get("/chat/-/static/lightchat.css").status_code == 200
        assert client.get("/chat/-/health").text == "ok"


def test_a_host_auth_function_maps_the_request(tmp_path: Path) -> None:
    async def from_header(request: Request) -> User | None:
        name = request.headers.get("x-test-user")
        return User(identifier=f"acme:{name}", display_name=name) if name == "ann" else None

    chat = make_chat(tmp_path, host_auth=from_header, history=False)
    with TestClient(make_host(chat)) as client:
        url = new_chat(client, **{"x-test-user": "ann"})
        assert chat.chats is not None
        assert chat.chats.get(url.rsplit("/", 1)[1], "user:acme:ann") is not None
        assert client.get(url, headers={"x-test-user": "bob"}).status_code == 401


def test_host_auth_and_an_auth_callback_are_refused_together(tmp_path: Path) -> None:
    chat = LightChat(
        Settings(app_dir=str(tmp_path), history=False, auth_secret="s" * 40), host_auth=True
    )
    chat.password_auth_callback(lambda username, password: None)
    with pytest.raises(ConfigError, match="keep one"):
        chat.build()


def test_mount_refuses_a_path_it_cannot_serve(tmp_path: Path) -> None:
    for path in ("chat", "/chat/", ""):
        with pytest.raises(ConfigError, match="/chat"):
            mount(FastAPI(), path, make_chat(tmp_path))


def test_the_embed_fragment_carries_the_chat_and_its_token(tmp_path: Path) -> None:
    chat = make_chat(tmp_path, history=False)
    with TestClient(make_host(chat)) as client:
        fragment = client.get("/chat/embed", headers={"HX-Request": "true"})
        assert fragment.status_code == 200
        assert "Path=/chat;" in fragment.headers["set-cookie"]
        text = fragment.text
        assert text.startswith('<div id="lc-embed"')
        assert "<html" not in text  # a fragment, not a page
        url = re.search(r'data-chat-url="([^"]+)"', text)
        assert url is not None
        chat_url = url.group(1)
        token = re.search(r'<meta name="lc-csrf-token" content="([^"]+)">', text)
        form_token = TOKEN.search(text)
        assert token
        assert form_token
        assert token.group(1) == form_token.group(1)
        assert f'hx-post="{chat_url}/messages"' in text
        assert f'hx-sse:connect="{chat_url}/events?after=' in text
        assert 'role="log"' in text
        # The same chat again, by id; another browser gets a 404.
        assert (
            f'data-chat-url="{chat_url}"'
            in client.get("/chat/embed/" + chat_url.rsplit("/", 1)[1]).text
        )
        with TestClient(make_host_again(chat)) as other:
            assert other.get("/chat/embed/" + chat_url.rsplit("/", 1)[1]).status_code == 404


def make_host_again(chat: LightChat) -> FastAPI:
    """A second host around the same (already built) chat: a browser with no cookie."""
    host = FastAPI()
    host.mount("/chat", chat)
    return host


def test_the_host_macros_render_under_the_prefix() -> None:
    env = Environment(autoescape=True)
    templates(env)
    page = env.from_string(
        '{% from "lightchat/embed.html" import head, chat %}'
        '{{ head("/chat") }}{{ chat("/chat", chat_id="a/b c", label="Help") }}'
    ).render()
    assert '<link rel="stylesheet" href="/chat/-/static/lightchat.css?v=' in page
    assert '<script src="/chat/-/static/htmx-sse-4.0.1.min.js" defer></script>' in page
    assert '<script src="/chat/-/static/lightchat.js?v=' in page
    assert 'hx-get="/chat/embed/a%2Fb%20c" hx-trigger="load"' in page
    assert 'aria-label="Help"' in page
    assert 'href="/chat/chat/a%2Fb%20c"' in page  # without JavaScript: a link to the chat
    assert "style=" not in page
    assert "<script>" not in page
    # The host's own templates keep their names.
    assert (
        'hx-get="/x/embed"'
        in env.from_string('{% from "lightchat/embed.html" import chat %}{{ chat("/x") }}').render()
    )


def test_mount_chainlit_serves_an_app_file(tmp_path: Path) -> None:
    target = tmp_path / "my_chat.py"
    target.write_text(
        "import lightchat as cl\n"
        "app = cl.LightChat()\n"
        "@app.on_message\n"
        "async def main(message):\n"
        "    await cl.Message(content='from the file').send()\n"
    )
    host = FastAPI()
    before = set(sys.modules)
    try:
        mount_chainlit(app=host, target=str(target), path="/assistant")
    finally:
        for name in set(sys.modules) - before:
            del sys.modules[name]
    with TestClient(host) as client:
        response = client.get("/assistant/", follow_redirects=False)
        assert response.headers["location"].startswith("/assistant/chat/")
        page = send_to(client, response.headers["location"], "hi")
        assert "from the file" in page
    assert (tmp_path / ".lightchat").is_dir()  # history beside the app file


def send_to(client: TestClient, url: str, text: str) -> str:
    page = client.get(url).text
    token = TOKEN.search(page)
    assert token is not None
    client.post(f"{url}/messages", data={"csrf_token": token.group(1), "content": text})
    return client.get(url).text


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FastAPI]:
    monkeypatch.setattr(sys, "path", [str(EXAMPLE), *sys.path])
    before = set(sys.modules)
    module = importlib.import_module("main")
    module.chat.configure(app_dir=str(tmp_path))
    yield module.host
    for name in set(sys.modules) - before:
        del sys.modules[name]


def test_the_fastapi_example_embeds_the_chat(example: FastAPI) -> None:
    with TestClient(example) as client:
        assert client.get("/", follow_redirects=False).headers["location"] == "/login"
        assert client.get("/chat/", follow_redirects=False).status_code == 401
        client.post("/login", data={"name": "ann"})
        home = client.get("/")
        assert "script-src 'self'" in home.headers["content-security-policy"]
        assert 'hx-get="/chat/embed"' in home.text
        assert '<script src="/chat/-/static/lightchat.js' in home.text
        fragment = client.get("/chat/embed", headers={"HX-Request": "true"})
        assert fragment.status_code == 200
        assert 'role="log"' in fragment.text
        url = new_chat(client)
        assert "You said: hello" in send_to(client, url, "hello")


# -- a real server: the stream and its resume under the prefix ------------------------------


def test_the_stream_and_its_resume_work_under_the_prefix(tmp_path: Path) -> None:
    chat = make_chat(tmp_path, history=False)
    with (
        LiveServer(chat, host=make_host(chat), health="/chat/-/health") as served,
        httpx.Client(base_url=served.url, timeout=10, follow_redirects=True) as client,
    ):
        first = client.get("/chat/")
        url = str(first.url.path)
        token = TOKEN.search(first.text)
        assert token is not None
        client.post(f"{url}/messages", data={"csrf_token": token.group(1), "content": "yo"})
        seen = []
        with client.stream("GET", f"{url}/events") as events:
            assert events.headers["content-type"].startswith("text/event-stream")
            for line in events.iter_lines():
                seen.append(line)
                if "You said: yo" in line:
                    break
        ids = [int(sse_field(line)[1]) for line in seen if line.startswith("id:")]
        assert ids
        with client.stream(
            "GET", f"{url}/events", headers={"Last-Event-ID": str(ids[-1] - 1)}
        ) as resumed:
            for line in resumed.iter_lines():
                if line.startswith("id:"):
                    assert int(sse_field(line)[1]) >= ids[-1]  # only what came after
                    break


def test_the_default_app_can_opt_in_before_mounting(tmp_path: Path) -> None:
    # The module-level app (cl.on_message...) takes host_auth through mount().
    chat = LightChat(Settings(app_dir=str(tmp_path), history=False))
    chat.on_message(lambda message: None)
    host = FastAPI(middleware=[Middleware(AuthenticationMiddleware, backend=HeaderUsers())])
    mount(host, "/chat", chat, host_auth=True)
    with TestClient(host) as client:
        assert client.get("/chat/").status_code == 401
    with pytest.raises(ConfigError, match="before"):
        mount(FastAPI(), "/chat", chat, host_auth=True)
    assert lightchat.default_app.host_auth is False
