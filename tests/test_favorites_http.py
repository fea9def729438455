"""Favourite messages over HTTP (``features.favorites``): the star on a user's own messages,
the composer's "Favorites" list, removing from it, what the app sets with
``emitter.set_favorites``, and who may touch what.

The app runs in-process with its lifespan (history on), on a real SQLite file in a temp
folder and on a real PostgreSQL database (tests/pg.py), with password sign-in. Messages are
sent as a browser without JavaScript sends them (a plain form post that returns once the
answer is complete).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

import lightchat as cl
from lightchat import LightChat, Message, Settings, User
from lightchat.api.context import Emitter
from lightchat.auth.sessions import owner_key
from lightchat.domain.events import (
    Entry,
    FavoriteData,
    FavoriteEvent,
    FavoritesEvent,
    MessageData,
    MessageEvent,
)
from lightchat.domain.transcript import Transcript
from lightchat.errors import ConfigError
from lightchat.ui.render import Renderer
from lightchat.ui.stream_view import StreamView
from tests.helpers import HTMX, Serve, Site

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

SECRET = "test-secret-" + "f" * 40
PASSWORDS = {"ada": "correct horse", "bob": "battery staple"}
PRESSED = re.compile(r'<button[^>]*class="lc-tool lc-star"[^>]*aria-pressed="(true|false)"')
ENTRY = re.compile(r'<button type="submit" class="lc-favorite-text" data-lc-favorite-use>([^<]*)<')


def favorites_app(
    tmp_path: Path, database: str = "", *, sign_in: bool = True, **settings: Any
) -> LightChat:
    """Echoes; "canned" makes the app set the favourites list itself."""
    settings.setdefault("favorites", True)
    app = LightChat(
        settings=Settings(
            name="Bot",
            app_dir=str(tmp_path),
            database_url=database,
            auth_secret=SECRET,
            **settings,
        )
    )
    if sign_in:

        @app.password_auth_callback
        def check(username: str, password: str) -> User | None:
            if PASSWORDS.get(username) == password:
                return User(identifier=username)
            return None

    @app.on_message
    async def main(message: Message) -> None:
        if message.content == "canned":
            await cl.context.emitter.set_favorites(
                [{"id": "c1", "output": "Canned <question>"}, {"id": "c2", "content": "Another"}]
            )
        await Message(content=f"Echo: {message.content}").send()

    return app


async def signed_in(site: Site, name: str) -> httpx.AsyncClient:
    client = site.browser()
    await client.get("/login")  # the page gives the browser its cookie
    response = await client.post("/login", data={"username": name, "password": PASSWORDS[name]})
    assert response.status_code == 303, response.text
    return client


def questions(site: Site, name: str, url: str) -> dict[str, str]:
    """The user's messages in their chat at ``url``: text -> id."""
    items = site.session(owner_key(User(identifier=name)), url).transcript.items.values()
    return {
        i.content: i.id for i in items if isinstance(i, MessageData) and i.type == "user_message"
    }


async def listed(client: httpx.AsyncClient, url: str) -> list[str]:
    """The texts "Favorites" lists, as the dialog shows them."""
    response = await client.get(f"{url}/favorites", headers=HTMX)
    assert response.status_code == 200, response.text
    assert response.text.startswith('<dialog id="lc-favorites"')
    return ENTRY.findall(response.text)


async def mark(client: httpx.AsyncClient, url: str, message_id: str, on: bool) -> httpx.Response:
    return await client.post(
        f"{url}/messages/{message_id}/favorite", data={"favorite": "1" if on else "0"}, headers=HTMX
    )


async def test_a_user_stars_their_messages_and_sends_one_again(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    async with serve(favorites_app(tmp_path, database), lifespan=True) as site:
        ada = await signed_in(site, "ada")
        first = await site.chat(ada, "Plan my <trip>", "What about trains?")
        second = await site.chat(ada, "Summarize this week")
        ids = {**questions(site, "ada", first), **questions(site, "ada", second)}

        page = await ada.get(first)
        assert PRESSED.findall(page.text) == ["false", "false"]  # one star per question
        assert page.text.count('title="Add to favorites"') == 2
        assert 'class="lc-favorites-button"' in page.text
        assert 'form="lc-favorites-open"' in page.text
        assert await listed(ada, first) == []

        # With htmx: the star comes back pressed, and named by what it does now.
        starred = await mark(ada, first, ids["Plan my <trip>"], on=True)
        assert starred.status_code == 200
        assert "HX-Request" in starred.headers["vary"]
        assert starred.text.startswith(f'<form id="msg-{ids["Plan my <trip>"]}-favorite"')
        assert PRESSED.findall(starred.text) == ["true"]
        assert "Remove from favorites" in starred.text
        assert 'name="favorite" value="0"' in starred.text
        # Without JavaScript: a form post, and back to the message.
        plain = await ada.post(
            f"{second}/messages/{ids['Summarize this week']}/favorite", data={"favorite": "1"}
        )
        assert plain.status_code == 303
        assert plain.headers["location"] == f"{second}#msg-{ids['Summarize this week']}"
        await mark(ada, first, ids["What about trains?"], on=True)
        again = await mark(ada, first, ids["What about trains?"], on=True)  # twice: the same
        assert PRESSED.findall(again.text) == ["true"]

        # Newest message first, from every chat of hers; escaped.
        assert await listed(ada, first) == [
            "Summarize this week",
            "What about trains?",
            "Plan my &lt;trip&gt;",
        ]
        reloaded = await ada.get(first)
        assert PRESSED.findall(reloaded.text) == ["true", "true"]

        # Without JavaScript the list is a page; each entry is a form that sends it.
        without_js = await ada.get(f"{first}/favorites")
        assert without_js.status_code == 200
        assert "<html" in without_js.text
        assert f'<a href="{first}">Back to the chat</a>' in without_js.text
        assert f'action="{first}/messages"' in without_js.text
        assert 'name="content" value="Plan my &lt;trip&gt;"' in without_js.text
        assert "Choose one to send it again." in without_js.text
        sent = await ada.post(f"{first}/messages", data={"content": "What about trains?"})
        assert sent.status_code == 303

        # Removed from the list: the list comes back without it (htmx), or the page (plain).
        gone = await ada.post(
            f"{first}/favorites/{ids['Summarize this week']}/remove", headers=HTMX
        )
        assert gone.status_code == 200
        assert gone.text.startswith('<div id="lc-favorites-list"')
        assert ENTRY.findall(gone.text) == ["What about trains?", "Plan my &lt;trip&gt;"]
        plain_gone = await ada.post(f"{first}/favorites/{ids['Plan my <trip>']}/remove")
        assert plain_gone.headers["location"] == f"{first}/favorites"
        unstarred = await mark(ada, first, ids["What about trains?"], on=False)
        assert PRESSED.findall(unstarred.text) == ["false"]
        assert "Add to favorites" in unstarred.text
        empty = await ada.get(f"{first}/favorites", headers=HTMX)
        assert ENTRY.findall(empty.text) == []
        assert "No favorites yet" in empty.text
        assert PRESSED.findall((await ada.get(second)).text) == ["false"]
        assert PRESSED.findall((await ada.get(first)).text) == ["false"] * 3


async def test_favourites_are_per_user_and_only_of_ones_own_messages(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    async with serve(favorites_app(tmp_path, database), lifespan=True) as site:
        ada, bob = await signed_in(site, "ada"), await signed_in(site, "bob")
        adas = await site.chat(ada, "Ada's secret")
        bobs = await site.chat(bob, "Bob's question")
        ada_id = questions(site, "ada", adas)["Ada's secret"]
        bob_id = questions(site, "bob", bobs)["Bob's question"]
        items = site.session(owner_key(User(identifier="ada")), adas).transcript.items
        answer_id = next(
            i.id
            for i in items.values()
            if isinstance(i, MessageData) and i.type == "assistant_message"
        )
        assert (await mark(ada, adas, ada_id, on=True)).status_code == 200
        assert (await mark(bob, bobs, bob_id, on=True)).status_code == 200

        assert await listed(ada, adas) == ["Ada&#39;s secret"]
        assert await listed(bob, bobs) == ["Bob&#39;s question"]
        # Another user's message, in their chat or named from one's own: the same 404.
        assert (await mark(bob, adas, ada_id, on=False)).status_code == 404
        assert (await mark(bob, bobs, ada_id, on=False)).status_code == 404
        assert (await bob.post(f"{bobs}/favorites/{ada_id}/remove")).status_code == 404
        assert (await bob.get(f"{adas}/favorites")).status_code == 404
        # One's own message, named in another chat of one's own, or an answer: 404 too.
        other = await site.chat(ada, "Another chat")
        assert (await mark(ada, other, ada_id, on=False)).status_code == 404
        assert (await mark(ada, adas, answer_id, on=True)).status_code == 404
        assert await listed(ada, adas) == ["Ada&#39;s secret"]  # nothing changed
        assert PRESSED.findall((await ada.get(adas)).text) == ["true"]


async def test_bad_requests_are_refused(tmp_path: Path, serve: Serve) -> None:
    async with serve(favorites_app(tmp_path), lifespan=True) as site:
        ada = await signed_in(site, "ada")
        url = await site.chat(ada, "Hello")
        message_id = questions(site, "ada", url)["Hello"]
        action = f"{url}/messages/{message_id}/favorite"

        # The form token is required, as for every write.
        wrong = await ada.post(action, data={"favorite": "1"}, headers={"X-CSRF-Token": "nope"})
        assert wrong.status_code == 403
        bare = site.browser(form_token=False)
        bare.cookies = ada.cookies
        missing = await bare.post(action, data={"favorite": "1"})
        assert missing.status_code == 403
        assert (await bare.post(f"{url}/favorites/{message_id}/remove")).status_code == 403

        # Ids that are no message id, and values that are neither 0 nor 1.
        assert (await mark(ada, url, "x" * 65, on=True)).status_code == 404
        assert (await mark(ada, url, "a.b", on=True)).status_code == 404
        assert (await ada.post(f"{url}/favorites/{'y' * 200}/remove")).status_code == 404
        assert (await mark(ada, "/chat/" + "0" * 32, message_id, on=True)).status_code == 404
        for data in ({"favorite": "2"}, {}, {"favorite": "on"}):
            refused = await ada.post(action, data=data, headers=HTMX)
            assert refused.status_code == 400, data
            assert "favorite=1" in refused.text
        assert await listed(ada, url) == []


@pytest.mark.parametrize("sign_in", [True, False], ids=["feature-off", "no-sign-in"])
async def test_without_the_feature_or_sign_in_there_is_nothing(
    tmp_path: Path, serve: Serve, sign_in: bool, caplog: pytest.LogCaptureFixture
) -> None:
    app = favorites_app(tmp_path, sign_in=sign_in, favorites=not sign_in)
    with caplog.at_level(logging.WARNING, logger="lightchat"):
        async with serve(app, lifespan=True) as site:
            client = await signed_in(site, "ada") if sign_in else site.browser()
            url = await site.chat(client, "Hello")
            owner = owner_key(User(identifier="ada")) if sign_in else site.owner(client)
            session = site.session(owner, url)
            message_id = next(i.id for i in session.transcript.items.values())
            page = await client.get(url)
            assert "Add to favorites" not in page.text
            assert "lc-favorites" not in page.text
            assert (await mark(client, url, message_id, on=True)).status_code == 404
            assert (await client.get(f"{url}/favorites")).status_code == 404
            assert (await client.post(f"{url}/favorites/{message_id}/remove")).status_code == 404
    said = [r.getMessage() for r in caplog.records if "favorites" in r.getMessage()]
    if sign_in:
        assert said == []  # simply off
    else:
        assert app.settings.favorites is False  # left off, and said once why
        assert said == [
            "favorites is on, but no message can be marked without sign-in (an auth "
            "callback, or a host app that signs its users in); it stays off."
        ]


async def test_the_app_sets_the_list_until_the_user_stars_a_message(
    tmp_path: Path, serve: Serve
) -> None:
    async with serve(favorites_app(tmp_path), lifespan=True) as site:
        ada = await signed_in(site, "ada")
        url = await site.chat(ada, "Hello", "canned")
        assert await listed(ada, url) == ["Canned &lt;question&gt;", "Another"]
        reloaded = await ada.get(f"{url}/favorites")  # on every page of the chat
        assert 'value="Canned &lt;question&gt;"' in reloaded.text

        # The user stars a message: their own favourites show again, as in Chainlit.
        await mark(ada, url, questions(site, "ada", url)["Hello"], on=True)
        assert await listed(ada, url) == ["Hello"]

        # Step dicts without an id or a text are the app's mistake, said at once.
        emitter = Emitter(site.session(owner_key(User(identifier="ada")), url))
        with pytest.raises(ConfigError, match="'output'"):
            await emitter.set_favorites([{"id": "x"}])
        with pytest.raises(ConfigError, match="'id'"):
            await emitter.set_favorites([{"output": "no id"}])
        assert await listed(ada, url) == ["Hello"]


def test_a_stream_shows_the_star_and_the_list_as_they_change(tmp_path: Path) -> None:
    renderer = Renderer(Settings(name="Bot", app_dir=str(tmp_path), favorites=True), "v1")
    question = MessageData(id="q1", author="You", type="user_message", content="Hi")
    transcript = Transcript()
    view = StreamView(renderer, transcript, base="", chat_url="/chat/c1", interval=0.1)
    view.feed([Entry(1, MessageEvent(question))], 0.0)
    marked = "".join(c.data for c in view.feed([Entry(2, FavoriteEvent("q1", True))], 1.0))
    assert marked.startswith('<hx-partial hx-target="#msg-q1-favorite" hx-swap="outerMorph">')
    assert 'aria-pressed="true"' in marked
    listed_now = [FavoriteData("q1", "Hi <b>")]
    shown = "".join(c.data for c in view.feed([Entry(3, FavoritesEvent(listed_now))], 2.0))
    assert shown.startswith('<hx-partial hx-target="#lc-favorites-list" hx-swap="outerMorph">')
    assert "Hi &lt;b&gt;" in shown
    assert transcript.favorites == listed_now
    nothing = view.feed([Entry(4, FavoriteEvent("gone", False))], 3.0)
    assert nothing == []  # no such message here: nothing to redraw
    assert transcript.favorites is None
