"""History over HTTP: search, rename, delete, feedback, export, tags; who may touch what.

The app runs in-process with its lifespan (so history is on), on a real SQLite file in a
temp folder and on a real PostgreSQL database (see tests/pg.py). Chats are made the way a
browser without JavaScript makes them: a plain form post that returns once the answer is
complete, so everything asserted below is already observed by the history.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

import lightchat as cl
from lightchat import LightChat, Message, Settings
from lightchat.chat.threads import MAX_COMMENT_CHARS, MAX_NAME_CHARS, MAX_SEARCH_CHARS
from lightchat.domain.events import MessageData
from tests.helpers import HTMX, Serve, chat_id, history_app, thread_items

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(30)]

MISSING = "0" * 32


# -- search ---------------------------------------------------------------------------------


async def test_search_finds_chats_by_name_and_by_content(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    async with serve(history_app(tmp_path, database), lifespan=True) as site:
        me, other = site.browser(), site.browser()
        await site.chat(me, "Paris trip")
        await site.chat(me, "Invoice for March")
        await site.chat(me, "Weather in Oslo")
        await site.chat(other, "Paris secrets")

        everything = await me.get("/history", headers=HTMX)
        assert everything.status_code == 200
        assert "HX-Request" in everything.headers["vary"]
        assert everything.text.startswith('<div id="lc-threads"')
        assert thread_items(everything.text) == [
            "Weather in Oslo",
            "Invoice for March",
            "Paris trip",
        ]

        by_name = await me.get("/history", params={"q": "paris"}, headers=HTMX)
        assert thread_items(by_name.text) == ["Paris trip"]  # not the other browser's
        # "found 15 letters" is only in a step's output: len("Weather in Oslo") is 15.
        by_content = await me.get("/history", params={"q": "found 15 letters"}, headers=HTMX)
        assert thread_items(by_content.text) == ["Weather in Oslo"]
        none = await me.get("/history", params={"q": "<b>nothing"}, headers=HTMX)
        assert thread_items(none.text) == []
        assert "No chats match “&lt;b&gt;nothing”." in none.text

        # Without JavaScript the search form leads to a page of its own.
        page = await me.get("/history", params={"q": "invoice", "chat": MISSING})
        assert page.status_code == 200
        assert "<html" in page.text
        assert thread_items(page.text) == ["Invoice for March"]
        assert 'aria-label="Search chats"' in page.text
        assert 'value="invoice"' in page.text
        assert f'href="/chat/{MISSING}">Back to the chat</a>' in page.text

        too_long = await me.get("/history", params={"q": "x" * (MAX_SEARCH_CHARS + 1)})
        assert too_long.status_code == 400
        assert f"at most {MAX_SEARCH_CHARS} characters" in too_long.text


async def test_the_chat_page_has_the_search_box_and_the_thread_menu(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    async with serve(history_app(tmp_path, database), lifespan=True) as site:
        me = site.browser()
        url = await site.chat(me, "hello")
        page = (await me.get(url)).text
        nav = page.split('aria-label="Chat history"', 1)[1].split("</nav>", 1)[0]
        assert 'type="search" name="q"' in nav
        assert 'aria-label="Search chats"' in nav
        assert 'method="get" action="/history"' in nav
        assert f'<input type="hidden" name="chat" value="{chat_id(url)}">' in nav
        assert f'href="{url}" aria-current="page">hello</a>' in nav
        assert f'action="{url}/rename"' in nav
        assert f'action="{url}/delete"' in nav
        assert '<span class="lc-sr">Rename</span>' in nav
        assert '<span class="lc-sr">Delete</span>' in nav
        # In the header's "More" menu, each under its own name.
        assert re.search(
            rf'href="{url}/export.md" download><svg .*?</svg>Export as Markdown</a>', page
        )
        assert re.search(
            rf'href="{url}/export.json" download><svg .*?</svg>Export as JSON</a>', page
        )


# -- rename ---------------------------------------------------------------------------------


async def test_rename_with_and_without_javascript(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    async with serve(history_app(tmp_path, database), lifespan=True) as site:
        me = site.browser()
        url = await site.chat(me, "first")
        other_url = await site.chat(me, "second")

        # Without JavaScript: a page with the form, posting back to where the user was.
        form = await me.get(f"{url}/rename", params={"chat": chat_id(other_url)})
        assert form.status_code == 200
        assert "<h1>Rename chat</h1>" in form.text
        assert f'method="post" action="{url}/rename"' in form.text
        assert 'name="name" value="first"' in form.text
        assert f'<a class="lc-button" href="{other_url}">Cancel</a>' in form.text
        done = await me.post(
            f"{url}/rename", data={"name": "  Trip <b>plans</b>  ", "chat": chat_id(other_url)}
        )
        assert done.status_code == 303
        assert done.headers["location"] == other_url
        assert "HX-Request" in done.headers["vary"]
        link = await site.history.thread(chat_id(url), site.owner(me))
        assert link is not None
        assert link.name == "Trip <b>plans</b>"
        page = (await me.get(other_url)).text
        assert "Trip &lt;b&gt;plans&lt;/b&gt;" in page
        assert "<b>plans" not in page
        # Renaming is no activity: the chat keeps its place in the list.
        assert thread_items(page) == ["second", "Trip <b>plans</b>"]

        # With htmx: the inline form, then the thread's list item.
        inline = await me.get(f"{url}/rename", params={"chat": chat_id(url)}, headers=HTMX)
        assert inline.text.startswith(
            f'<li id="thread-{chat_id(url)}" class="lc-thread lc-thread-editing">'
        )
        assert 'aria-label="Chat name"' in inline.text
        item = await me.post(
            f"{url}/rename", data={"name": "Lisbon", "chat": chat_id(url)}, headers=HTMX
        )
        assert item.status_code == 200
        assert "HX-Request" in item.headers["vary"]
        assert item.text.startswith(f'<li id="thread-{chat_id(url)}" class="lc-thread">')
        assert f'href="{url}" aria-current="page">Lisbon</a>' in item.text
        # No "chat=": back to the history page.
        plain = await me.post(f"{url}/rename", data={"name": "Porto"})
        assert plain.headers["location"] == "/history"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Give the chat a name."),
        ("  \n\t ", "Give the chat a name."),
        ("x" * (MAX_NAME_CHARS + 1), f"the limit is {MAX_NAME_CHARS}"),
    ],
)
async def test_rename_refuses_bad_names(
    tmp_path: Path, database: str, name: str, message: str, serve: Serve
) -> None:
    async with serve(history_app(tmp_path, database), lifespan=True) as site:
        me = site.browser()
        url = await site.chat(me, "keep me")
        for headers in ({}, HTMX):
            response = await me.post(f"{url}/rename", data={"name": name}, headers=headers)
            assert response.status_code == 400
            assert message in response.text
            assert 'role="alert"' in response.text
            assert 'aria-invalid="true"' in response.text
        missing_field = await me.post(f"{url}/rename", data={})
        assert missing_field.status_code == 400
        link = await site.history.thread(chat_id(url), site.owner(me))
        assert link is not None
        assert link.name == "keep me"


# -- delete ---------------------------------------------------------------------------------


async def test_delete_asks_first_then_removes_everything(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    async with serve(history_app(tmp_path, database), lifespan=True) as site:
        me = site.browser()
        url = await site.chat(me, "doomed", "more")
        kept = await site.chat(me, "kept")
        owner = site.owner(me)
        answer = site.answers(me, url)[0]
        given = await me.post(f"{url}/feedback/{answer.id}", data={"value": "1"})
        assert given.status_code == 303

        # Without JavaScript: a confirmation page whose form posts the delete.
        confirm = await me.get(f"{url}/delete", params={"chat": chat_id(kept)})
        assert confirm.status_code == 200
        assert '<dialog id="lc-confirm"' in confirm.text
        assert " open>" in confirm.text
        assert f'method="post" action="{url}/delete"' in confirm.text
        assert ">Delete</button>" in confirm.text
        assert f'href="{kept}">Cancel</a>' in confirm.text
        # With htmx: the same dialog, for lightchat.js to show as a modal.
        modal = await me.get(f"{url}/delete", headers=HTMX)
        assert modal.text.startswith('<dialog id="lc-confirm"')
        assert "data-lc-modal" in modal.text
        assert (
            await site.history.thread(chat_id(url), owner)
        ) is not None  # asking deletes nothing

        session = site.session(me, url)
        done = await me.post(f"{url}/delete", data={"chat": chat_id(kept)})
        assert done.status_code == 303
        assert done.headers["location"] == kept
        assert session.closed
        assert site.services.chats.get(chat_id(url), owner) is None
        assert await site.history.load(chat_id(url), owner) is None
        assert await site.history.feedback(chat_id(url), owner) == {}
        store = site.history._store
        assert store is not None
        assert await store.get_step(answer.id, owner=None) is None  # its steps are gone too
        assert (await me.get(url)).status_code == 404
        assert thread_items((await me.get(kept)).text) == ["kept"]
        assert (await me.post(f"{url}/delete")).status_code == 404


async def test_deleting_the_open_chat_goes_to_a_new_chat(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    async with serve(history_app(tmp_path, database), lifespan=True) as site:
        me = site.browser()
        first = await site.chat(me, "one")
        second = await site.chat(me, "two")
        third = await site.chat(me, "three")

        # htmx, from the chat itself: the page must go.
        response = await me.post(f"{first}/delete", data={"chat": chat_id(first)}, headers=HTMX)
        assert response.status_code == 204
        assert response.headers["hx-redirect"] == "/"
        assert "HX-Request" in response.headers["vary"]
        # No JavaScript, from the chat itself.
        plain = await me.post(f"{second}/delete", data={"chat": chat_id(second)})
        assert (plain.status_code, plain.headers["location"]) == (303, "/")
        # htmx, from another chat: the new list, and the dialog closed.
        fourth = await site.chat(me, "four")
        update = await me.post(f"{third}/delete", data={"chat": chat_id(fourth)}, headers=HTMX)
        assert update.status_code == 200
        assert '<hx-partial hx-target="#lc-threads" hx-swap="outerHTML">' in update.text
        assert '<hx-partial hx-target="#lc-dialog" hx-swap="innerHTML"></hx-partial>' in update.text
        assert thread_items(update.text) == ["four"]


# -- feedback -------------------------------------------------------------------------------


async def test_feedback_is_changeable_and_shown_again(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    async with serve(history_app(tmp_path, database), lifespan=True) as site:
        me = site.browser()
        url = await site.chat(me, "rate me")
        thread, owner = chat_id(url), site.owner(me)
        answer = site.answers(me, url)[0]
        target = f"{url}/feedback/{answer.id}"

        page = (await me.get(url)).text
        assert f'action="{target}"' in page
        assert page.count('aria-pressed="false"') == 2
        assert "Feedback comment" not in page  # a comment goes with a verdict

        helpful = await me.post(target, data={"value": "1"}, headers=HTMX)
        assert helpful.status_code == 200
        assert "HX-Request" in helpful.headers["vary"]
        assert helpful.text.startswith(f'<div id="msg-{answer.id}-feedback" class="lc-feedback">')
        assert 'value="1" title="Helpful" aria-pressed="true">' in helpful.text
        assert 'value="0" title="Not helpful" aria-pressed="false">' in helpful.text
        assert 'aria-label="Feedback comment"' in helpful.text
        assert (await site.history.feedback(thread, owner))[answer.id].value == 1

        comment = await me.post(target, data={"comment": "Clear <and> short"}, headers=HTMX)
        assert 'value="Clear &lt;and&gt; short"' in comment.text
        # The other verdict replaces the first, keeping the comment.
        await me.post(target, data={"value": "0"}, headers=HTMX)
        stored = (await site.history.feedback(thread, owner))[answer.id]
        assert (stored.value, stored.comment) == (0, "Clear <and> short")

        # Shown again on the page, and after the chat is reopened from history.
        page = (await me.get(url)).text
        assert 'value="0" title="Not helpful" aria-pressed="true">' in page
        assert 'value="1" title="Helpful" aria-pressed="false">' in page
        assert 'value="Clear &lt;and&gt; short"' in page
        await site.services.chats.end(thread, owner)  # as after a restart: reopened from the store
        reopened = (await me.get(url)).text
        assert 'value="0" title="Not helpful" aria-pressed="true">' in reopened

        # The same verdict again takes it back; then there is no comment box.
        gone = await me.post(target, data={"value": "0"}, headers=HTMX)
        assert 'aria-pressed="true"' not in gone.text
        assert "Feedback comment" not in gone.text
        assert await site.history.feedback(thread, owner) == {}

        # Without JavaScript the buttons are a form that comes back to the message.
        plain = await me.post(target, data={"value": "1"})
        assert plain.status_code == 303
        assert plain.headers["location"] == f"{url}#msg-{answer.id}"


async def test_feedback_refuses_bad_input(tmp_path: Path, database: str, serve: Serve) -> None:
    async with serve(history_app(tmp_path, database), lifespan=True) as site:
        me = site.browser()
        url = await site.chat(me, "rate me")
        other_chat = await site.chat(me, "another")
        answer = site.answers(me, url)[0]
        target = f"{url}/feedback/{answer.id}"
        user_message = next(
            item
            for item in site.session(me, url).transcript.items.values()
            if isinstance(item, MessageData) and item.type == "user_message"
        )

        assert (await me.post(target, data={"value": "2"})).status_code == 400
        assert (await me.post(target, data={})).status_code == 400
        no_verdict = await me.post(target, data={"comment": "first a verdict"})
        assert no_verdict.status_code == 400
        assert "Choose Helpful or Not helpful" in no_verdict.text
        await me.post(target, data={"value": "1"})
        long = await me.post(target, data={"comment": "x" * (MAX_COMMENT_CHARS + 1)})
        assert long.status_code == 400
        assert "the limit is" in long.text
        # Only assistant messages, and only through their own chat's URL.
        assert (
            await me.post(f"{url}/feedback/{user_message.id}", data={"value": "1"})
        ).status_code == 404
        assert (
            await me.post(f"{other_chat}/feedback/{answer.id}", data={"value": "1"})
        ).status_code == 404
        assert (await me.post(f"{url}/feedback/{MISSING}", data={"value": "1"})).status_code == 404
        stored = await site.history.feedback(chat_id(url), site.owner(me))
        assert [(k, v.value, v.comment) for k, v in stored.items()] == [(answer.id, 1, None)]


async def test_feedback_can_be_turned_off(tmp_path: Path, database: str, serve: Serve) -> None:
    async with serve(history_app(tmp_path, database, feedback=False), lifespan=True) as site:
        me = site.browser()
        url = await site.chat(me, "no rating")
        answer = site.answers(me, url)[0]
        page = (await me.get(url)).text
        assert "aria-pressed" not in page
        assert 'class="lc-tool lc-copy"' in page
        response = await me.post(f"{url}/feedback/{answer.id}", data={"value": "1"})
        assert response.status_code == 404


# -- export ---------------------------------------------------------------------------------


async def test_export_as_markdown_and_json(tmp_path: Path, database: str, serve: Serve) -> None:
    async with serve(history_app(tmp_path, database), lifespan=True) as site:
        me = site.browser()
        url = await site.chat(me, "What is 2+2?", "And `3+3`?")
        answers = site.answers(me, url)
        await me.post(f"{url}/feedback/{answers[0].id}", data={"value": "1"})
        await me.post(f"{url}/feedback/{answers[0].id}", data={"comment": "spot on"})
        await me.post(f"{url}/rename", data={"name": 'Sums / "math"'})

        markdown = await me.get(f"{url}/export.md")
        assert markdown.status_code == 200
        assert markdown.headers["content-type"] == "text/markdown; charset=utf-8"
        assert markdown.headers["content-disposition"] == (
            "attachment; filename=\"Sums-math.md\"; filename*=UTF-8''Sums%20%2F%20%22math%22.md"
        )
        text = markdown.text
        assert text.startswith('# Sums / "math"\n')
        assert "Tags: support, billing." in text
        order = [
            "## You\n\nWhat is 2+2?",
            "### Step: lookup (tool)\n\nInput:\n\n```\nquery: What is 2+2?\n```",
            "Output:\n\nfound 12 letters",
            "## Bot\n\nAnswer to *What is 2+2?*",
            "> Feedback: Helpful: spot on",
            "## You\n\nAnd `3+3`?",
            "## Bot\n\nAnswer to *And `3+3`?*",
        ]
        positions = [text.index(part) for part in order]
        assert positions == sorted(positions)

        exported = await me.get(f"{url}/export.json")
        assert exported.headers["content-type"] == "application/json"
        assert exported.headers["content-disposition"].startswith(
            'attachment; filename="Sums-math.json"'
        )
        data = json.loads(exported.text)
        assert data["format"] == "lightchat.thread/1"
        assert (data["id"], data["name"], data["tags"]) == (
            chat_id(url),
            'Sums / "math"',
            ["support", "billing"],
        )
        assert "metadata" not in data  # the app's user_session stays on the server
        steps = [(s["type"], s["name"], s["input"], s["output"]) for s in data["steps"]]
        assert steps == [
            ("user_message", "You", "", "What is 2+2?"),
            ("tool", "lookup", "query: What is 2+2?", "found 12 letters"),
            ("assistant_message", "Bot", "", "Answer to *What is 2+2?*"),
            ("user_message", "You", "", "And `3+3`?"),
            ("tool", "lookup", "query: And `3+3`?", "found 10 letters"),
            ("assistant_message", "Bot", "", "Answer to *And `3+3`?*"),
        ]
        assert data["steps"][2]["feedback"] == {"value": 1, "comment": "spot on"}
        assert data["steps"][5]["feedback"] is None


async def test_a_chat_with_nothing_in_it_has_nothing_to_export(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    async with serve(history_app(tmp_path, database), lifespan=True) as site:
        me = site.browser()
        url = await site.chat(me)
        response = await me.get(f"{url}/export.md")
        assert response.status_code == 404
        assert "Nothing to export yet" in response.text
        assert "content-disposition" not in response.headers


# -- tags and metadata ----------------------------------------------------------------------


async def test_tags_and_session_state_are_stored_when_a_run_ends(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    async with serve(history_app(tmp_path, database), lifespan=True) as site:
        me = site.browser()
        url = await site.chat(me, "first")
        await site.history.flush()
        stored = await site.history.load(chat_id(url), site.owner(me))
        assert stored is not None
        assert stored.thread.tags == ["support", "billing"]
        assert stored.thread.meta["last"] == "first"
        assert not {"id", "env", "user", "tags", "client"} & set(stored.thread.meta)

        await me.post(f"{url}/messages", data={"content": "second"})
        await site.history.flush()
        stored = await site.history.load(chat_id(url), site.owner(me))
        assert stored is not None
        assert stored.thread.meta["last"] == "second"


# -- who may touch what ---------------------------------------------------------------------


async def test_another_browser_gets_404_for_everything(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    async with serve(history_app(tmp_path, database), lifespan=True) as site:
        owner, stranger, anonymous = site.browser(), site.browser(), site.browser()
        url = await site.chat(owner, "mine only")
        await site.chat(stranger, "theirs")  # a valid cookie of another browser
        answer = site.answers(owner, url)[0]

        async def statuses(client: httpx.AsyncClient, chat: str, message: str) -> list[int]:
            return [
                r.status_code
                for r in [
                    await client.get(f"{chat}/rename"),
                    await client.post(f"{chat}/rename", data={"name": "pwned"}),
                    await client.post(f"{chat}/rename", data={"name": "pwned"}, headers=HTMX),
                    await client.get(f"{chat}/delete"),
                    await client.post(f"{chat}/delete"),
                    await client.post(f"{chat}/delete", headers=HTMX),
                    await client.post(f"{chat}/feedback/{message}", data={"value": "0"}),
                    await client.get(f"{chat}/export.md"),
                    await client.get(f"{chat}/export.json"),
                ]
            ]

        assert await statuses(owner, f"/chat/{MISSING}", answer.id) == [404] * 9
        for client in (stranger, anonymous):
            assert await statuses(client, url, answer.id) == [404] * 9
        # The owner's thread is untouched, its chat still running.
        history, me = site.history, site.owner(owner)
        link = await history.thread(chat_id(url), me)
        assert link is not None
        assert link.name == "mine only"
        assert await history.feedback(chat_id(url), me) == {}
        assert not site.session(owner, url).closed
        search = await stranger.get("/history", params={"q": "mine"}, headers=HTMX)
        assert thread_items(search.text) == []


async def test_a_cross_site_post_is_refused(tmp_path: Path, database: str, serve: Serve) -> None:
    async with serve(history_app(tmp_path, database), lifespan=True) as site:
        me = site.browser()
        url = await site.chat(me, "csrf target")
        for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
            response = await me.post(f"{url}/delete", headers=headers)
            assert response.status_code == 403
            renamed = await me.post(f"{url}/rename", data={"name": "x"}, headers=headers)
            assert renamed.status_code == 403
        assert await site.history.thread(chat_id(url), site.owner(me)) is not None


async def test_history_endpoints_are_404_when_history_is_off(tmp_path: Path, serve: Serve) -> None:
    app = history_app(tmp_path, "", history=False)
    async with serve(app, lifespan=True) as site:
        client = site.browser()
        url = (await client.get("/")).headers["location"]
        for response in [
            await client.get("/history"),
            await client.get(f"{url}/rename"),
            await client.post(f"{url}/delete"),
            await client.get(f"{url}/export.md"),
        ]:
            assert response.status_code == 404


async def test_elements_are_saved_and_shown_again_when_the_chat_is_reopened(
    tmp_path: Path, database: str, serve: Serve
) -> None:
    app = LightChat(settings=Settings(name="Bot", app_dir=str(tmp_path), database_url=database))
    seen: list[Any] = []

    @app.on_message
    async def main(message: Message) -> None:
        if message.content == "remove":
            await cl.user_session.get("note").remove()
            await cl.user_session.get("doc").remove()
            return
        tasks = cl.TaskList(name="Plan")
        task = cl.Task(title="Fetch", status=cl.TaskStatus.RUNNING)
        await tasks.add_task(task)
        note = cl.Text(name="note", content="kept as text", display="side")
        doc = cl.File(name="doc.txt", content=b"a document")
        cl.user_session.set("note", note)
        cl.user_session.set("doc", doc)
        reply = await Message(
            content="Here",
            elements=[cl.Image(name="pic", content=b"\x89PNG img", mime="image/png"), note, doc],
        ).send()
        await tasks.send(for_id=reply.id)
        task.status = cl.TaskStatus.DONE
        await tasks.send()

    @app.on_chat_resume
    async def resume(thread: dict[str, Any]) -> None:
        seen.append(sorted((e["type"], e["name"]) for e in thread["elements"]))

    async with serve(app, lifespan=True) as site:
        me = site.browser()
        url = await site.chat(me, "show")
        owner = site.owner(me)
        thread = url.rsplit("/", 1)[1]
        await site.history.flush()
        stored = await site.history.load(thread, owner)
        assert stored is not None
        assert sorted(e.name for e in stored.elements) == ["Plan", "doc.txt", "note", "pic"]
        files = tmp_path / ".lightchat" / "files"
        doc_key = next(e.storage_key for e in stored.elements if e.name == "doc.txt")
        assert doc_key is not None
        assert (files / doc_key).is_file()

        # Taking an element away deletes its row, and its file if it had one.
        await me.post(f"{url}/messages", data={"content": "remove"})
        await site.history.flush()
        stored = await site.history.load(thread, owner)
        assert stored is not None
        assert sorted(e.name for e in stored.elements) == ["Plan", "pic"]
        assert not (files / doc_key).exists()

        await site.services.chats.end(thread, owner)  # as after a restart
        page = (await me.get(url)).text
        assert seen == [[("image", "pic"), ("tasklist", "Plan")]]
        image = re.search(r'<img src="([^"]+)" alt="pic"', page)
        assert image is not None
        assert (await me.get(image.group(1))).content == b"\x89PNG img"
        assert re.search(r'data-status="done"><span[^>]*></span>Fetch', page)  # the last state
        assert "kept as text" not in page
