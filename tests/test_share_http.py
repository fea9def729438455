"""Sharing a chat over HTTP: the owner shares and stops sharing, who reads the shared page
(``@on_shared_thread_view``), and every way of not reading it being the same 404.

The app runs in-process with its lifespan, people sign in with passwords, and history is
on a real SQLite file and a real PostgreSQL database (see tests/pg.py). Chats are made with
plain form posts, which return once the answer is complete (so it is in the history).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

import lightchat as cl
from lightchat import LightChat, Message, Settings, Step, User
from lightchat.http.middleware.csrf import HEADER as FORM_TOKEN_HEADER
from lightchat.store import MemoryStore
from tests.helpers import HTMX, Serve, Site, chat_id

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

SECRET = "share-secret-" + "x" * 40
OWNER = "ada.lovelace@example.com"
PASSWORD = "correct horse"
NOT_SHARED = "This shared chat does not exist, or it is not shared with you."
MISSING = "0" * 32


def sharing_app(
    tmp_path: Path, database: str = "", *, callback: bool = True, **settings: Any
) -> tuple[LightChat, list[tuple[dict[str, Any], User | None]]]:
    """Answers with a tool step and a file; ``@on_shared_thread_view`` lets bob and carol
    read (carol without the tool step and the file), refuses mallory and fails for eve.
    Returns the app and what the callback was called with."""
    app = LightChat(
        settings=Settings(
            name="Bot",
            app_dir=str(tmp_path),
            database_url=database,
            auth_secret=SECRET,
            **{"allow_thread_sharing": True, **settings},
        )
    )
    calls: list[tuple[dict[str, Any], User | None]] = []

    @app.password_auth_callback
    def check(username: str, password: str) -> User | None:
        return User(identifier=username) if password == PASSWORD else None

    @app.on_message
    async def main(message: Message) -> None:
        async with Step(name="lookup", type="tool") as step:
            step.output = "found the secret step"
        notes = cl.File(name="notes.txt", content=b"private notes", display="inline")
        await Message(content=f"Answer to *{message.content}*", elements=[notes]).send()

    if callback:

        @app.on_shared_thread_view
        async def may_view(thread: dict[str, Any], viewer: User | None) -> bool:
            calls.append((thread, viewer))
            name = viewer.identifier if viewer else None
            if name == "eve":
                raise RuntimeError("the team directory is down")
            if name == "carol":
                thread["steps"] = [s for s in thread["steps"] if s["type"] != "tool"]
                thread["elements"] = []
            return name in ("bob", "carol")

    return app, calls


async def signed_in(site: Site, name: str) -> httpx.AsyncClient:
    """A browser with ``name`` signed in."""
    client = site.browser()
    response = await client.post("/login", data={"username": name, "password": PASSWORD})
    assert response.status_code == 303, response.text
    return client


async def shared_chat(site: Site, owner: httpx.AsyncClient, question: str = "Lisbon") -> str:
    """A chat of ``owner`` with one question answered, shared (with htmx); its id."""
    url = await site.chat(owner, question)
    shared = await owner.post(f"{url}/share", headers=HTMX)
    assert shared.status_code == 200, shared.text
    return chat_id(url)


def without_token(page: str) -> str:
    return re.sub(r'<meta name="csrf-token" content="[^"]*">', "", page)


def element_ids(page: str) -> list[str]:
    return re.findall(r'id="el-([0-9a-f]{32})"', page)


# -- sharing and reading --------------------------------------------------------------------


async def test_the_owner_shares_a_chat_and_another_user_reads_it(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    app, calls = sharing_app(tmp_path, database)
    async with serve(app, lifespan=True, opened_page=True) as site:
        ada, bob = await signed_in(site, OWNER), await signed_in(site, "bob")
        url = await site.chat(ada, "Lisbon <b>trip</b>")
        page = await ada.get(url)
        assert re.search(
            r'<button type="submit" class="lc-menu-item"><svg .*?</svg>Share</button>', page.text
        )

        shared = await ada.post(f"{url}/share", headers=HTMX)
        assert shared.status_code == 200
        link = f"http://testserver/share/{chat_id(url)}"
        assert shared.text.lstrip().startswith('<dialog id="lc-share"')
        assert f'<a id="lc-share-link" href="{link}">{link}</a>' in shared.text
        assert ">Copy link</button>" in shared.text
        assert ">Stop sharing</button>" in shared.text
        again = await ada.post(f"{url}/share", headers=HTMX)  # the same, stable link
        assert f'href="{link}"' in again.text

        seen = await bob.get(f"/share/{chat_id(url)}")
        assert seen.status_code == 200
        assert seen.headers["x-robots-tag"] == "noindex, nofollow"
        assert seen.headers["cache-control"] == "no-store"
        assert '<meta name="robots" content="noindex, nofollow">' in seen.text
        assert 'role="log"' in seen.text
        assert "Lisbon &lt;b&gt;trip&lt;/b&gt;" in seen.text  # the user's text, escaped
        assert "Answer to <em>Lisbon &lt;b&gt;trip&lt;/b&gt;</em>" in seen.text
        assert "found the secret step" in seen.text
        assert "A shared chat: it can be read but not continued." in seen.text
        for control in ('id="lc-composer"', "Helpful", 'lc-sr">Edit<', "Regenerate", "/messages"):
            assert control not in seen.text, control
        assert OWNER not in seen.text  # the page names nobody but the app (and the reader)

        (element,) = element_ids(seen.text)
        notes = await bob.get(f"/share/{chat_id(url)}/elements/{element}")
        assert notes.status_code == 200
        assert notes.content == b"private notes"
        assert notes.headers["content-security-policy"].startswith("sandbox")
        # The chat's own URLs stay the owner's: the share opens only the shared page.
        assert (await bob.get(f"{url}/elements/{element}")).status_code == 404
        assert (await bob.get(url)).status_code == 404
        assert (await bob.get(f"{url}/export.json")).status_code == 404

        (thread, viewer) = calls[-1]
        assert viewer is not None
        assert viewer.identifier == "bob"
        assert thread["id"] == chat_id(url)
        assert thread["userIdentifier"] == OWNER
        assert thread["metadata"]["is_shared"] is True
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT[\d:.]+Z", thread["metadata"]["shared_at"])
        assert [step["type"] for step in thread["steps"]] == [
            "user_message",
            "tool",
            "assistant_message",
        ]
        assert [element["name"] for element in thread["elements"] or []] == ["notes.txt"]


async def test_the_callback_may_leave_parts_out(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    app, _ = sharing_app(tmp_path, database)
    async with serve(app, lifespan=True, opened_page=True) as site:
        ada, carol = await signed_in(site, OWNER), await signed_in(site, "carol")
        thread_id = await shared_chat(site, ada)
        seen = await carol.get(f"/share/{thread_id}")
        assert seen.status_code == 200
        assert "Answer to <em>Lisbon</em>" in seen.text
        assert "found the secret step" not in seen.text
        assert element_ids(seen.text) == []
        owners = await ada.get(f"/share/{thread_id}")  # the owner sees it all
        (element,) = element_ids(owners.text)
        assert "found the secret step" in owners.text
        assert (await carol.get(f"/share/{thread_id}/elements/{element}")).status_code == 404
        view = await carol.get(f"/share/{thread_id}/elements/{element}/view")
        assert view.status_code == 404


async def test_the_shared_page_shows_the_steps_the_app_shows(tmp_path: Path, serve: Serve) -> None:
    app, _ = sharing_app(tmp_path, cot="hidden")
    async with serve(app, lifespan=True, opened_page=True) as site:
        ada, bob = await signed_in(site, OWNER), await signed_in(site, "bob")
        thread_id = await shared_chat(site, ada)
        seen = await bob.get(f"/share/{thread_id}")
        assert seen.status_code == 200
        assert "Answer to <em>Lisbon</em>" in seen.text
        assert "found the secret step" not in seen.text  # cot = "hidden", as in the chat


async def test_every_reader_who_may_not_read_gets_the_same_404(
    tmp_path: Path, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    app, calls = sharing_app(tmp_path)
    async with serve(app, lifespan=True, opened_page=True) as site:
        ada, bob = await signed_in(site, OWNER), await signed_in(site, "bob")
        mallory, eve = await signed_in(site, "mallory"), await signed_in(site, "eve")
        thread_id = await shared_chat(site, ada)
        unshared = chat_id(await site.chat(ada, "private"))
        refusals: list[httpx.Response] = []

        refusals.append(await bob.get(f"/share/{unshared}"))  # never shared
        refusals.append(await bob.get(f"/share/{MISSING}"))  # no such chat
        refusals.append(await bob.get("/share/%27%20OR%201%3D1%20--"))  # a forged id
        refusals.append(await bob.get(f"/share/{thread_id.upper()}"))  # a near miss
        refusals.append(await mallory.get(f"/share/{thread_id}"))  # the callback says no
        with caplog.at_level(logging.ERROR, logger="lightchat"):
            refusals.append(await eve.get(f"/share/{thread_id}"))  # the callback fails
        assert "Error in @on_shared_thread_view" in caplog.text
        assert "the team directory is down" in caplog.text
        assert calls
        assert all(thread["id"] == thread_id for thread, _ in calls)

        assert (await bob.get(f"/share/{thread_id}")).status_code == 200
        stopped = await ada.post(f"/chat/{thread_id}/unshare", headers=HTMX)
        assert stopped.status_code == 200
        assert "This chat is no longer shared" in stopped.text
        assert ">Create link</button>" in stopped.text
        refusals.append(await bob.get(f"/share/{thread_id}"))  # sharing stopped
        refusals.append(await bob.get(f"/share/{thread_id}/elements/{MISSING}"))

        for refused in refusals:
            assert refused.status_code == 404
            assert NOT_SHARED in refused.text
            # Nothing tells the cases apart (but the form token of each reader's browser).
            assert without_token(refused.text) == without_token(refusals[0].text)

        # The owner still reads their own chat there, and is told that nobody else can.
        own = await ada.get(f"/share/{thread_id}")
        assert own.status_code == 200
        assert "Only you can see this page: this chat is not shared." in own.text

        anonymous = site.browser()
        gated = await anonymous.get(f"/share/{thread_id}")
        assert gated.status_code == 303
        assert gated.headers["location"] == f"/login?next=%2Fshare%2F{thread_id}"


async def test_only_the_owner_shares_and_only_with_the_form_token(
    tmp_path: Path, serve: Serve
) -> None:
    app, _ = sharing_app(tmp_path)
    async with serve(app, lifespan=True, opened_page=True) as site:
        ada, bob = await signed_in(site, OWNER), await signed_in(site, "bob")
        url = await site.chat(ada, "mine")
        for path in ("share", "unshare"):
            stolen = await bob.post(f"{url}/{path}", headers=HTMX)
            assert stolen.status_code == 404
        assert (await bob.get(f"{url}/share")).status_code == 404
        assert (await bob.get(f"/share/{chat_id(url)}")).status_code == 404  # still not shared

        tokenless = site.browser(form_token=False)
        tokenless.cookies = ada.cookies
        assert (await tokenless.post(f"{url}/share")).status_code == 403
        wrong = await ada.post(f"{url}/share", headers={FORM_TOKEN_HEADER: "forged"})
        assert wrong.status_code == 403
        other_site = await ada.post(f"{url}/share", headers={"Origin": "https://evil.example"})
        assert other_site.status_code == 403
        assert (await bob.get(f"/share/{chat_id(url)}")).status_code == 404

        empty = (await ada.get("/")).headers["location"]
        nothing = await ada.post(f"{empty}/share")
        assert nothing.status_code == 404
        assert "Nothing to share yet: this chat has no messages." in nothing.text


async def test_sharing_without_javascript(tmp_path: Path, serve: Serve) -> None:
    app, _ = sharing_app(tmp_path)
    async with serve(app, lifespan=True, opened_page=True) as site:
        ada, bob = await signed_in(site, OWNER), await signed_in(site, "bob")
        url = await site.chat(ada, "plain")
        before = await ada.get(f"{url}/share")
        assert before.status_code == 200
        assert "<html" in before.text
        assert "This chat is not shared." in before.text
        assert f'action="{url}/share"' in before.text

        posted = await ada.post(f"{url}/share")
        assert posted.status_code == 303
        assert posted.headers["location"] == f"{url}/share"
        page = await ada.get(f"{url}/share")
        assert f">http://testserver/share/{chat_id(url)}</a>" in page.text
        assert f'action="{url}/unshare"' in page.text
        assert f'<a href="{url}">Back to the chat</a>' in page.text
        # "Copy link" needs JavaScript: it comes hidden, for lightchat.js to show.
        assert re.search(r"<button [^>]*data-lc-needs-js hidden>Copy link</button>", page.text)
        assert (await bob.get(f"/share/{chat_id(url)}")).status_code == 200

        stopped = await ada.post(f"{url}/unshare")
        assert stopped.status_code == 303
        assert (await bob.get(f"/share/{chat_id(url)}")).status_code == 404


async def test_a_share_made_on_one_worker_is_read_on_another(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    """Two workers on one database (the share is in the database, not in a worker)."""
    first, _ = sharing_app(tmp_path, database)
    second, _ = sharing_app(tmp_path, database)
    async with (
        serve(first, lifespan=True, opened_page=True) as one,
        serve(second, lifespan=True, opened_page=True) as other,
    ):
        ada, bob = await signed_in(one, OWNER), await signed_in(other, "bob")
        thread_id = await shared_chat(one, ada, "across workers")
        seen = await bob.get(f"/share/{thread_id}")
        assert seen.status_code == 200
        assert "Answer to <em>across workers</em>" in seen.text
        await ada.post(f"/chat/{thread_id}/unshare")
        assert (await bob.get(f"/share/{thread_id}")).status_code == 404


# -- when sharing is off --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("why", "settings", "callback"),
    [
        ("the setting is off", {"allow_thread_sharing": False}, True),
        ("the app has no @on_shared_thread_view", {}, False),
    ],
)
async def test_nothing_is_shared_when_sharing_is_off(
    tmp_path: Path,
    serve: Serve,
    caplog: pytest.LogCaptureFixture,
    why: str,
    settings: dict[str, Any],
    callback: bool,
) -> None:
    app, _ = sharing_app(tmp_path, callback=callback, **settings)
    with caplog.at_level(logging.WARNING, logger="lightchat"):
        async with serve(app, lifespan=True, opened_page=True) as site:
            ada, bob = await signed_in(site, OWNER), await signed_in(site, "bob")
            url = await site.chat(ada, "quiet")
            assert ">Share</button>" not in (await ada.get(url)).text, why
            assert (await ada.post(f"{url}/share")).status_code == 404
            assert (await ada.get(f"{url}/share")).status_code == 404
            assert (await bob.get(f"/share/{chat_id(url)}")).status_code == 404
    warned = "no chat can be shared without @on_shared_thread_view" in caplog.text
    assert warned == (not callback)


async def test_chats_of_browsers_without_sign_in_are_not_shared(
    tmp_path: Path, serve: Serve, caplog: pytest.LogCaptureFixture
) -> None:
    """As in Chainlit, only a signed-in user's thread can be shared."""
    app = LightChat(settings=Settings(name="Bot", app_dir=str(tmp_path), allow_thread_sharing=True))

    @app.on_message
    async def main(message: Message) -> None:
        await Message(content="ok").send()

    @app.on_shared_thread_view
    async def may_view(thread: dict[str, Any], viewer: User | None) -> bool:
        return True

    with caplog.at_level(logging.WARNING, logger="lightchat"):
        async with serve(app, lifespan=True) as site:
            me, other = site.browser(), site.browser()
            url = await site.chat(me, "hello")
            assert ">Share</button>" not in (await me.get(url)).text
            assert (await me.post(f"{url}/share")).status_code == 404
            assert (await other.get(f"/share/{chat_id(url)}")).status_code == 404
    assert "no chat can be shared without sign-in" in caplog.text


async def test_a_data_layer_that_cannot_share_hides_share(tmp_path: Path, serve: Serve) -> None:
    class NoSharing(MemoryStore):
        share_thread = None  # type: ignore[assignment]

    app, _ = sharing_app(tmp_path)

    @app.data_layer
    def layer() -> MemoryStore:
        return NoSharing()

    async with serve(app, lifespan=True, opened_page=True) as site:
        ada = await signed_in(site, OWNER)
        url = await site.chat(ada, "kept elsewhere")
        assert ">Share</button>" not in (await ada.get(url)).text
        assert (await ada.post(f"{url}/share")).status_code == 404


async def test_a_jsx_element_shows_in_the_shared_chat_through_the_share_only(
    tmp_path: Path, serve: Serve
) -> None:
    app, _ = sharing_app(tmp_path)
    (tmp_path / "public" / "elements").mkdir(parents=True)
    (tmp_path / "public" / "elements" / "Counter.jsx").write_text(
        "export default function Counter() { return <p>{props.count}</p>; }\n"
    )

    @app.on_chat_start
    async def start() -> None:
        counter = cl.CustomElement(name="Counter", props={"count": 3}, display="inline")
        await Message(content="A counter", elements=[counter]).send()

    async with serve(app, lifespan=True, opened_page=True) as site:
        ada, bob = await signed_in(site, OWNER), await signed_in(site, "bob")
        mallory = await signed_in(site, "mallory")
        thread = await shared_chat(site, ada)
        seen = await bob.get(f"/share/{thread}")
        frame = re.search(r'src="(/share/[0-9a-f]+/elements/([0-9a-f]+)/jsx)"', seen.text)
        assert frame is not None, "the shared page draws the JSX element in its frame"
        page = await bob.get(frame.group(1))
        assert page.status_code == 200
        assert "unsafe-eval" in page.headers["content-security-policy"]
        assert '"count": 3' in page.text or '"count":3' in page.text
        assert 'src="/-/static/lightchat.elements.js' in seen.text  # the page's side of it
        assert (await mallory.get(frame.group(1))).status_code == 404
        # The chat's own frame stays its owner's.
        own = f"/chat/{thread}/elements/{frame.group(2)}/jsx"
        assert (await bob.get(own)).status_code == 404
        assert (await ada.get(own)).status_code == 200
