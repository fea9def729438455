"""HTTP: actions, questions back to the user, elements and uploads, through the real app.

Each test drives the app over ASGI the way a browser would (HTMX requests and plain form
posts) and checks both what the callbacks received and what the page shows.
"""

from __future__ import annotations

import asyncio
import html
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

import lightchat as cl
from lightchat import LightChat, Message, Settings
from lightchat.domain.events import Event, MessageData, MessageEvent
from lightchat.http.routes import STATIC
from tests.helpers import (
    HTMX,
    WAIT_S,
    Serve,
    Site,
    log_of,
    messages_in,
    tag_structure,
    wait_for_log,
)
from tests.xss_payloads import PAYLOADS

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(15)]


def settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(name="Bot", app_dir=str(tmp_path), **overrides)


def shown(events: list[Event], predicate: Any) -> bool:
    return any(predicate(m) for m in messages_in(events))


async def wait_shown(site: Site, client: httpx.AsyncClient, url: str, predicate: Any) -> None:
    session = site.session(client, url)
    await wait_for_log(session.bus, session.id, lambda events: shown(events, predicate))


def action_ids(html: str, name: str) -> list[str]:
    pattern = (
        r'actions/([0-9a-f]+)"[^>]*>\s*(?:<input[^>]*>\s*)?'  # the form, its token
        rf'<button[^>]*data-action-name="{re.escape(name)}"'
    )
    return re.findall(pattern, html)


# -- actions ----------------------------------------------------------------------------


def action_app(tmp_path: Path) -> tuple[LightChat, list[dict[str, Any]]]:
    app = LightChat(settings=settings(tmp_path))
    clicked: list[dict[str, Any]] = []

    @app.on_chat_start
    async def start() -> None:
        actions = [
            cl.Action(name="pick", payload={"n": 1}, label="One", tooltip="The first"),
            cl.Action(name="pick", payload={"n": 2}, label="Two"),
        ]
        await Message(content="Pick one", actions=actions).send()

    @app.action_callback("pick")
    async def pick(action: cl.Action) -> None:
        clicked.append(action.to_dict())
        await action.remove()
        await Message(content=f"You picked {action.payload['n']}").send()

    return app, clicked


async def test_an_action_click_runs_its_callback_and_can_remove_the_button(
    tmp_path: Path,
    serve: Serve,
) -> None:
    app, clicked = action_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await wait_shown(site, client, url, lambda m: m.actions)
        page = (await client.get(url)).text
        assert 'data-action-name="pick"' in page
        assert ">One</button>" in page
        assert 'title="The first"' in page
        first = action_ids(page, "pick")[0]
        response = await client.post(f"{url}/actions/{first}", headers=HTMX)
        assert response.status_code == 204
        await wait_shown(site, client, url, lambda m: m.content == "You picked 1")
        assert clicked[0]["payload"] == {"n": 1}
        assert clicked[0]["label"] == "One"
        page = (await client.get(url)).text
        assert ">One</button>" not in page
        assert ">Two</button>" in page
        # The removed button is gone for good: clicking it again is refused with a message.
        again = await client.post(f"{url}/actions/{first}", headers=HTMX)
        assert again.status_code == 404
        assert "no longer available" in again.text


async def test_an_action_without_javascript_is_a_form_that_comes_back_to_the_chat(
    tmp_path: Path,
    serve: Serve,
) -> None:
    app, clicked = action_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await wait_shown(site, client, url, lambda m: m.actions)
        second = action_ids((await client.get(url)).text, "pick")[1]
        response = await client.post(f"{url}/actions/{second}")
        assert response.status_code == 303
        assert response.headers["location"] == url
        assert "You picked 2" in (await client.get(url)).text
        assert [c["payload"]["n"] for c in clicked] == [2]


async def test_an_action_clicked_during_a_run_waits_its_turn(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=settings(tmp_path))
    release = asyncio.Event()
    order: list[str] = []

    @app.on_message
    async def slow(message: Message) -> None:
        order.append("message")
        await Message(content="working", actions=[cl.Action(name="go", label="Go")]).send()
        await release.wait()
        order.append("message done")

    @app.action_callback("go")
    async def go(action: cl.Action) -> None:
        order.append("action")

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await client.post(f"{url}/messages", data={"content": "hi"}, headers=HTMX)
        await wait_shown(site, client, url, lambda m: m.actions)
        go_id = action_ids((await client.get(url)).text, "go")[0]
        assert (await client.post(f"{url}/actions/{go_id}", headers=HTMX)).status_code == 204
        release.set()
        await site.idle(site.session(client, url))
        assert order == ["message", "message done", "action"]


async def test_an_action_no_callback_handles_is_refused(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=settings(tmp_path))

    @app.on_chat_start
    async def start() -> None:
        await Message(content="x", actions=[cl.Action(name="orphan", label="Orphan")]).send()

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await wait_shown(site, client, url, lambda m: m.actions)
        orphan = action_ids((await client.get(url)).text, "orphan")[0]
        response = await client.post(f"{url}/actions/{orphan}", headers=HTMX)
        assert response.status_code == 404
        assert "orphan" in response.text
        unknown = await client.post(f"{url}/actions/{'0' * 32}", headers=HTMX)
        assert unknown.status_code == 404


async def structure_with(
    serve: Serve,
    tmp_path: Path,
    texts: list[str],
    build: Any,
    part: Callable[[str], str] = log_of,
    **values: Any,
) -> Any:
    """The structure of ``part`` of the chat page (the log) once ``build(texts)`` ran in
    ``on_chat_start`` (in an app with these settings ``values``)."""
    app = LightChat(settings=settings(tmp_path, **values))

    @app.on_chat_start
    async def start() -> None:
        await build(texts)

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        return tag_structure(part((await client.get(url)).text))


async def assert_text_stays_text(
    serve: Serve, tmp_path: Path, build: Any, part: Callable[[str], str] = log_of, **values: Any
) -> None:
    hostile = await structure_with(serve, tmp_path / "a", list(PAYLOADS), build, part, **values)
    plain = ["plain"] * len(PAYLOADS)
    assert hostile == await structure_with(serve, tmp_path / "b", plain, build, part, **values)


async def test_action_labels_and_tooltips_are_text(tmp_path: Path, serve: Serve) -> None:
    async def build(texts: list[str]) -> None:
        actions = [cl.Action(name=t, label=t, tooltip=t) for t in texts]
        await Message(content="x", actions=actions).send()

    await assert_text_stays_text(serve, tmp_path, build)


# -- questions --------------------------------------------------------------------------


async def test_ask_user_message_takes_the_next_message_as_its_answer(
    tmp_path: Path, serve: Serve
) -> None:
    app = LightChat(settings=settings(tmp_path))
    answers: list[Any] = []
    messages: list[str] = []

    @app.on_chat_start
    async def start() -> None:
        answer = await cl.AskUserMessage(content="What is your name?", timeout=10).send()
        answers.append(answer)
        await Message(content=f"Hello {answer['output'] if answer else 'nobody'}").send()

    @app.on_message
    async def main(message: Message) -> None:
        messages.append(message.content)

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await wait_shown(site, client, url, lambda m: m.ask is not None)
        page = (await client.get(url)).text
        assert 'data-ask="text"' in page
        # The run is waiting for the user, so Send is on and the page does not reload.
        assert re.search(r'class="lc-send"\s*>', page)
        assert 'http-equiv="refresh"' not in page
        response = await client.post(f"{url}/messages", data={"content": "Ada"}, headers=HTMX)
        assert response.status_code == 204
        await wait_shown(site, client, url, lambda m: m.content == "Hello Ada")
        assert answers[0]["output"] == "Ada"
        assert answers[0]["content"] == "Ada"
        assert messages == []  # the answer went to the question, not to on_message
        assert 'data-ask="text"' not in (await client.get(url)).text


async def test_ask_user_message_without_javascript(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=settings(tmp_path))

    @app.on_message
    async def main(message: Message) -> None:
        answer = await cl.AskUserMessage(content="Sure?", timeout=10).send()
        await Message(content=f"Answer: {answer['output'] if answer else None}").send()

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        # The post comes back as soon as the question waits, not when the run ends.
        first = await client.post(f"{url}/messages", data={"content": "go"})
        assert first.status_code == 303
        assert 'data-ask="text"' in (await client.get(url)).text
        second = await client.post(f"{url}/messages", data={"content": "yes"})
        assert second.status_code == 303
        assert "Answer: yes" in (await client.get(url)).text


async def test_an_ask_that_times_out_returns_none_or_raises(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=settings(tmp_path))
    results: list[Any] = []

    @app.on_message
    async def main(message: Message) -> None:
        if message.content == "raise":
            try:
                await cl.AskUserMessage(
                    content="Quick!", timeout=0.05, raise_on_timeout=True
                ).send()
            except TimeoutError:
                results.append("raised")
            return
        results.append(await cl.AskUserMessage(content="Quick!", timeout=0.05).send())

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        session = site.session(client, url)
        for content in ("none", "raise"):
            await client.post(f"{url}/messages", data={"content": content}, headers=HTMX)
            await asyncio.sleep(0.01)
            await site.idle(session)
        assert results == [None, "raised"]
        page = (await client.get(url)).text
        assert "Quick!" in page
        assert "data-ask" not in page


async def test_ask_action_message_returns_the_chosen_action(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=settings(tmp_path))
    chosen: list[Any] = []

    @app.on_chat_start
    async def start() -> None:
        res = await cl.AskActionMessage(
            content="Continue?",
            actions=[
                cl.Action(name="continue", payload={"value": "yes"}, label="✅ Continue"),
                cl.Action(name="cancel", payload={"value": "no"}, label="❌ Cancel"),
            ],
            timeout=10,
        ).send()
        chosen.append(res)
        if res and res.get("payload", {}).get("value") == "yes":
            await Message(content="Continuing").send()

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await wait_shown(site, client, url, lambda m: m.ask is not None)
        page = (await client.get(url)).text
        assert 'data-ask="action"' in page
        ids = action_ids(page, "continue")
        response = await client.post(f"{url}/actions/{ids[0]}")
        assert response.status_code == 303
        page = (await client.get(url)).text
        assert "Continuing" in page
        assert "✅ Continue</button>" not in page  # the question's buttons are gone
        assert chosen[0]["name"] == "continue"
        assert chosen[0]["value"] == "yes"


# -- files ------------------------------------------------------------------------------


def file_app(tmp_path: Path, **ask: Any) -> tuple[LightChat, list[Any]]:
    app = LightChat(settings=settings(tmp_path))
    received: list[Any] = []

    @app.on_chat_start
    async def start() -> None:
        files = await cl.AskFileMessage(content="Upload a text file", timeout=10, **ask).send()
        received.append(files)
        if files:
            text = await asyncio.to_thread(Path(files[0].path).read_text)
            # The README's pattern: the upload shown back as an element, from its path.
            shown = cl.File(name=files[0].name, path=files[0].path, display="inline")
            await Message(
                content=f"{files[0].name} has {len(text)} characters", elements=[shown]
            ).send()

    return app, received


async def test_ask_file_message_receives_the_upload(tmp_path: Path, serve: Serve) -> None:
    app, received = file_app(tmp_path, accept=["text/plain"])
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await wait_shown(site, client, url, lambda m: m.ask is not None)
        page = (await client.get(url)).text
        form = re.search(r'action="([^"]+/asks/[0-9a-f]+/files)"', page)
        assert form is not None
        assert 'aria-label="Upload a text file"' in page
        assert 'accept="text/plain"' in page
        files = {"files": ("notes.txt", b"hello world", "text/plain")}
        response = await client.post(form.group(1), files=files)
        assert response.status_code == 303
        page = (await client.get(url)).text
        assert "notes.txt has 11 characters" in page
        assert 'data-type="error"' not in page
        shown = re.findall(r'href="([^"]+/elements/[0-9a-f]+[^"]*)"', page)
        assert shown, page
        assert (await client.get(html.unescape(shown[-1]))).content == b"hello world"
        (upload,) = received[0]
        assert upload.name == "notes.txt"
        assert upload.size == 11
        assert upload.type == "text/plain"
        # Stored under a name of the storage's making, inside the app's folder.
        assert Path(upload.path).is_relative_to(tmp_path / ".lightchat" / "files")
        assert "notes" not in Path(upload.path).name
        # Answered: a second upload to the same question is refused.
        again = await client.post(form.group(1), files=files, headers=HTMX)
        assert again.status_code == 409


@pytest.mark.parametrize(
    ("ask", "files", "message"),
    [
        ({"accept": ["text/plain"]}, [("evil.exe", b"MZ", "text/plain")], "not a type"),
        ({"max_size_mb": 1}, [("big.txt", b"x" * (1024 * 1024 + 1), "text/plain")], "larger"),
        (
            {"max_files": 1},
            [("a.txt", b"a", "text/plain"), ("b.txt", b"b", "text/plain")],
            "at most",
        ),
    ],
)
async def test_ask_file_limits_are_enforced_on_the_server(
    tmp_path: Path, ask: dict[str, Any], files: list[Any], message: str, serve: Serve
) -> None:
    app, received = file_app(tmp_path, **ask)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await wait_shown(site, client, url, lambda m: m.ask is not None)
        page = (await client.get(url)).text
        form = re.search(r'action="([^"]+/asks/[0-9a-f]+/files)"', page)
        assert form is not None
        response = await client.post(
            form.group(1), files=[("files", f) for f in files], headers=HTMX
        )
        assert response.status_code == 400
        assert message in response.text
        assert received == []  # still waiting: the user can try again
        stored = tmp_path / ".lightchat" / "files"
        assert not stored.exists() or not any(p.is_file() for p in stored.rglob("*"))


async def test_ask_file_takes_files_when_composer_uploads_are_off(
    tmp_path: Path, serve: Serve
) -> None:
    # The body limit for uploads once followed the composer's setting only, so with
    # attachments off every answer over 1 MB was refused before the question saw it.
    app = LightChat(settings=settings(tmp_path, uploads=False))
    received: list[Any] = []

    @app.on_chat_start
    async def start() -> None:
        received.append(await cl.AskFileMessage(content="A file", max_size_mb=2).send())

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await wait_shown(site, client, url, lambda m: m.ask is not None)
        page = (await client.get(url)).text
        assert 'aria-label="Attach files"' not in page
        form = re.search(r'action="([^"]+/asks/[0-9a-f]+/files)"', page)
        assert form is not None
        big = {"files": ("big.txt", b"x" * (1024 * 1024 + 1), "text/plain")}
        # The composer still refuses files (and bodies over the plain limit).
        refused = await client.post(f"{url}/messages", files=big, data={"content": "hi"})
        assert refused.status_code == 413
        response = await client.post(form.group(1), files=big, headers=HTMX)
        assert response.status_code == 204
        await site.idle(site.session(client, url))
        (upload,) = received[0]
        assert upload.size == 1024 * 1024 + 1


async def test_composer_uploads_arrive_as_message_elements(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=settings(tmp_path, upload_accept="image/*,.txt"))
    seen: list[Any] = []

    @app.on_message
    async def main(message: Message) -> None:
        seen.append([(e.name, e.mime, type(e).__name__, e.path) for e in message.elements])

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        page = (await client.get(url)).text
        assert 'aria-label="Attach files"' in page
        assert 'enctype="multipart/form-data"' in page
        png = b"\x89PNG\r\n\x1a\n" + b"0" * 10
        response = await client.post(
            f"{url}/messages",
            data={"content": "look"},
            files=[
                ("files", ("cat.png", png, "image/png")),
                ("files", ("a.txt", b"hi", "text/plain")),
            ],
        )
        assert response.status_code == 303
        ((image, text),) = seen
        assert image[:3] == ("cat.png", "image/png", "Image")
        assert text[:3] == ("a.txt", "text/plain", "File")
        assert await asyncio.to_thread(Path(image[3]).read_bytes) == png
        page = (await client.get(url)).text
        img = re.search(r'<img src="([^"]+)" alt="cat.png"', page)
        assert img is not None
        served = await client.get(img.group(1))
        assert served.status_code == 200
        assert served.content == png
        assert served.headers["content-type"] == "image/png"
        # A file only: no text needed.
        only = await client.post(
            f"{url}/messages", data={"content": ""}, files={"files": ("b.txt", b"b", "text/plain")}
        )
        assert only.status_code == 303
        refused = await client.post(
            f"{url}/messages",
            data={"content": "x"},
            files={"files": ("run.sh", b"#!", "text/x-sh")},
            headers=HTMX,
        )
        assert refused.status_code == 400
        assert "not a type" in refused.text
        assert len(seen) == 2


# -- elements ---------------------------------------------------------------------------


def element_app(tmp_path: Path) -> LightChat:
    app = LightChat(settings=settings(tmp_path))
    picture = tmp_path / "pic.png"
    picture.write_bytes(b"\x89PNG\r\n\x1a\nfake")

    @app.on_chat_start
    async def start() -> None:
        await Message(
            content="Elements",
            elements=[
                cl.Image(name="pic", path=str(picture)),
                cl.File(name="report.csv", content=b"a,b\n1,2\n"),
                cl.Text(name="snippet", content="print('hi')", language="python"),
                cl.Text(name="notes", content="side text", display="side"),
                cl.Pdf(name="doc", content=b"%PDF-1.4", display="page"),
                cl.Image(name="remote", url="https://example.com/x.png"),
            ],
        ).send()

    return app


async def test_elements_are_shown_and_their_files_served_to_their_chat_only(
    tmp_path: Path,
    serve: Serve,
) -> None:
    async with serve(element_app(tmp_path)) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await wait_shown(site, client, url, lambda m: m.elements)
        page = (await client.get(url)).text
        assert re.search(r'<img src="[^"]+" alt="pic"', page)
        assert '<img src="https://example.com/x.png" alt="remote"' in page
        download = re.search(r'<a class="lc-file" href="([^"]+)" download="report.csv">', page)
        assert download is not None
        assert 'aria-label="snippet"' in page
        assert "lc-el-text" in page
        side = re.search(r'href="([^"]+/view)"[^>]*hx-target="#lc-side"[^>]*>notes<', page)
        assert side is not None
        page_link = re.search(r'href="([^"]+/view)"[^>]*>doc<', page)
        assert page_link is not None

        served = await client.get(download.group(1))
        assert served.content == b"a,b\n1,2\n"
        assert served.headers["content-disposition"].startswith("attachment")
        assert "sandbox" in served.headers["content-security-policy"]

        panel = await client.get(side.group(1), headers=HTMX)
        assert "side text" in panel.text
        assert "<html" not in panel.text
        doc_page = await client.get(page_link.group(1))
        assert 'aria-label="Elements"' in doc_page.text
        assert '<iframe class="lc-pdf"' in doc_page.text

        # Another browser gets 404 for the chat and for every element of it.
        other = site.browser()
        await site.new_chat(other)
        assert (await other.get(download.group(1))).status_code == 404
        assert (await other.get(side.group(1))).status_code == 404


async def test_element_send_update_and_remove(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=settings(tmp_path))

    @app.on_chat_start
    async def start() -> None:
        msg = await Message(content="Progress").send()
        tasks = cl.TaskList(name="Plan")
        first = cl.Task(title="Fetch", status=cl.TaskStatus.RUNNING)
        await tasks.add_task(first)
        await tasks.add_task(cl.Task(title="Write"))
        await tasks.send(for_id=msg.id)
        first.status = cl.TaskStatus.DONE
        tasks.status = "Done"
        await tasks.send()
        note = cl.Text(name="note", content="temporary")
        await note.send(for_id=msg.id)
        await note.remove()
        msg.content = "Progress (updated)"
        await msg.update()

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        page = (await client.get(url)).text
        assert 'aria-label="Plan"' in page
        assert re.search(r'data-status="done"><span[^>]*></span>Fetch', page)
        assert re.search(r'data-status="ready"><span[^>]*></span>Write', page)
        assert "temporary" not in page
        # update() kept the task list that was sent on its own.
        assert "Progress (updated)" in page
        assert 'aria-label="Plan"' in page


async def test_element_names_and_text_are_escaped(tmp_path: Path, serve: Serve) -> None:
    async def build(texts: list[str]) -> None:
        elements: list[cl.Element] = []
        for text in texts:
            elements.append(cl.Text(name=text, content="notes"))  # its content: markdown
            elements.append(cl.Text(name=text, content=text, language="text"))
            elements.append(cl.File(name=text, content=text.encode()))
            elements.append(cl.Image(name=text, content=b"img"))
            elements.append(cl.Text(name=text, content="side notes", display="side"))
        await Message(content="x", elements=elements).send()

    await assert_text_stays_text(serve, tmp_path, build)


async def test_file_question_texts_are_escaped(tmp_path: Path, serve: Serve) -> None:
    async def form_structure(texts: list[str], folder: Path) -> Any:
        app = LightChat(settings=settings(folder))

        @app.on_chat_start
        async def start() -> None:
            await cl.AskFileMessage(content=" ".join(texts), accept=texts, timeout=10).send()

        async with serve(app) as site:
            client = site.browser()
            url = await site.new_chat(client)
            await wait_shown(site, client, url, lambda m: m.ask is not None)
            page = (await client.get(url)).text
            form = page.index('<form class="lc-ask-file"')
            return tag_structure(page[form : page.index("</form>", form)])

    hostile = await form_structure(list(PAYLOADS), tmp_path / "a")
    assert hostile == await form_structure(["plain"] * len(PAYLOADS), tmp_path / "b")


async def test_uploaded_file_names_are_text_and_never_a_path(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=settings(tmp_path))
    names: list[str] = []

    @app.on_message
    async def main(message: Message) -> None:
        names.extend(e.name for e in message.elements)

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        for payload in ["../../etc/passwd", *PAYLOADS[:3]]:
            await client.post(
                f"{url}/messages",
                data={"content": "x"},
                files={"files": (payload + ".txt", b"data", "text/plain")},
            )
        assert names[0] == "passwd.txt"
        stored = [p for p in (tmp_path / ".lightchat" / "files").rglob("*") if p.is_file()]
        assert len(stored) == 4
        assert all(re.fullmatch(r"[0-9a-f]{32}\.txt", p.name) for p in stored)


async def test_element_message_events_carry_their_parts(tmp_path: Path, serve: Serve) -> None:
    """The log has the element in the message's state, so a reload shows it."""
    async with serve(element_app(tmp_path)) as site:
        client = site.browser()
        url = await site.new_chat(client)
        session = site.session(client, url)
        events = await wait_for_log(
            session.bus,
            session.id,
            lambda evs: any(isinstance(e, MessageEvent) and e.message.elements for e in evs),
            timeout=WAIT_S,
        )
        message = next(m for m in messages_in(events) if m.elements)
        assert [e.kind for e in message.elements] == [
            "image",
            "file",
            "text",
            "text",
            "pdf",
            "image",
        ]


# -- editing and regenerating -----------------------------------------------------------


def counting_app(tmp_path: Path, **overrides: Any) -> tuple[LightChat, list[str]]:
    app = LightChat(settings=settings(tmp_path, **overrides))
    received: list[str] = []

    @app.on_message
    async def main(message: Message) -> None:
        received.append(message.content)
        await Message(content=f"answer {len(received)} to {message.content}").send()

    return app, received


def message_ids(html: str, type_: str) -> list[str]:
    return re.findall(rf'id="msg-(\w+)"[^>]*data-type="{type_}"', html)


async def test_editing_a_message_replaces_the_conversation_after_it(
    tmp_path: Path, serve: Serve
) -> None:
    app, received = counting_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        for text in ("first", "second"):
            await client.post(f"{url}/messages", data={"content": text})
        page = (await client.get(url)).text
        first = message_ids(page, "user_message")[0]
        assert 'aria-label="Edit message"' in page
        response = await client.post(f"{url}/messages/{first}/edit", data={"content": "changed"})
        assert response.status_code == 303
        page = (await client.get(url)).text
        log = log_of(page)
        assert "answer 3 to changed" in log
        assert "second" not in log
        assert "answer 1" not in log
        assert "answer 2" not in log
        assert message_ids(page, "user_message") == [first]  # the same message, new text
        assert received == ["first", "second", "changed"]


async def test_regenerate_answers_the_same_message_again(tmp_path: Path, serve: Serve) -> None:
    app, received = counting_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await client.post(f"{url}/messages", data={"content": "hi"})
        answer = message_ids((await client.get(url)).text, "assistant_message")[0]
        response = await client.post(f"{url}/messages/{answer}/regenerate", headers=HTMX)
        assert response.status_code == 204
        await site.idle(site.session(client, url))
        log = log_of((await client.get(url)).text)
        assert "answer 2 to hi" in log
        assert "answer 1" not in log
        assert received == ["hi", "hi"]


async def test_editing_stops_the_run_in_progress(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=settings(tmp_path))
    stopped: list[bool] = []

    @app.on_message
    async def main(message: Message) -> None:
        if message.content == "slow":
            await Message(content="thinking").send()
            await asyncio.sleep(30)
        await Message(content=f"done {message.content}").send()

    @app.on_stop
    async def on_stop() -> None:
        stopped.append(True)

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await client.post(f"{url}/messages", data={"content": "slow"}, headers=HTMX)
        await wait_shown(site, client, url, lambda m: m.content == "thinking")
        mine = message_ids((await client.get(url)).text, "user_message")[0]
        await client.post(f"{url}/messages/{mine}/edit", data={"content": "fast"})
        log = log_of((await client.get(url)).text)
        assert "done fast" in log
        assert "thinking" not in log
        assert stopped == [True]


async def test_editing_is_refused_for_others_messages_and_when_off(
    tmp_path: Path, serve: Serve
) -> None:
    app, _ = counting_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await client.post(f"{url}/messages", data={"content": "hi"})
        page = (await client.get(url)).text
        answer = message_ids(page, "assistant_message")[0]
        refused = await client.post(f"{url}/messages/{answer}/edit", data={"content": "x"})
        assert refused.status_code == 404
        mine = message_ids(page, "user_message")[0]
        empty = await client.post(f"{url}/messages/{mine}/edit", data={"content": " "})
        assert empty.status_code == 400
        other = site.browser()
        await site.new_chat(other)
        theirs = await other.post(f"{url}/messages/{mine}/edit", data={"content": "x"})
        assert theirs.status_code == 404

    app, _ = counting_app(tmp_path / "off", edit=False)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await client.post(f"{url}/messages", data={"content": "hi"})
        page = (await client.get(url)).text
        assert "Edit message" not in page
        assert "Regenerate" not in page
        mine = message_ids(page, "user_message")[0]
        off = await client.post(f"{url}/messages/{mine}/edit", data={"content": "x"})
        assert off.status_code == 409


async def test_hostile_text_in_edit_and_regenerate_forms_stays_text(
    tmp_path: Path, serve: Serve
) -> None:
    async def build(texts: list[str]) -> None:
        for i, text in enumerate(texts):
            await Message(content=text, type="user_message", author="You").send()
            await Message(content="an answer", id=f"{text}-{i}").send()

    # The user's messages as typed: the forms are what this checks (their markdown, with
    # the same payloads, is checked in test_ui_options_http).
    await assert_text_stays_text(serve, tmp_path, build, user_message_markdown=False)


# -- custom elements --------------------------------------------------------------------

COUNTER = """\
<div class="counter" data-count="{{ props.count }}">
  <p>{{ props.label }}: {{ props.count }}</p>
  <form method="post" action="{{ action_url }}">
    {{ csrf_input }}
    <input type="hidden" name="name" value="increment">
    <input type="hidden" name="payload" value='{"by": 2}'>
    <button type="submit">Add two</button>
  </form>
  <form method="post" action="{{ message_url }}">
    {{ csrf_input }}
    <input type="hidden" name="content" value="from the counter">
    <button type="submit">Say hi</button>
  </form>
</div>
"""


async def test_a_custom_element_draws_props_calls_actions_and_sends_messages(
    tmp_path: Path,
    serve: Serve,
) -> None:
    (tmp_path / "elements").mkdir()
    (tmp_path / "elements" / "Counter.html").write_text(COUNTER)
    app = LightChat(settings=settings(tmp_path))
    said: list[str] = []

    @app.on_chat_start
    async def start() -> None:
        counter = cl.CustomElement(name="Counter", props={"count": 1, "label": "<b>Clicks</b>"})
        cl.user_session.set("counter", counter)
        await Message(content="A counter", elements=[counter]).send()

    @app.action_callback("increment")
    async def increment(action: cl.Action) -> None:
        counter = cl.user_session.get("counter")
        counter.props["count"] += action.payload["by"]
        await counter.update()

    @app.on_message
    async def main(message: Message) -> None:
        said.append(message.content)

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        page = (await client.get(url)).text
        assert 'data-count="1"' in page
        assert "&lt;b&gt;Clicks&lt;/b&gt;: 1" in page  # props are text
        token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
        assert token is not None
        counter = page[page.index('<div class="counter"') :].split("</div>", 1)[0]
        hidden = f'<input type="hidden" name="csrf_token" value="{token.group(1)}">'
        assert counter.count(hidden) == 2  # the custom element's forms carry the token
        action = re.search(r'action="([^"]+/elements/[0-9a-f]+/actions)"', page)
        assert action is not None
        response = await client.post(
            action.group(1), data={"name": "increment", "payload": '{"by": 2}'}
        )
        assert response.status_code == 303
        assert 'data-count="3"' in (await client.get(url)).text
        await client.post(f"{url}/messages", data={"content": "from the counter"})
        assert said == ["from the counter"]
        bad = await client.post(action.group(1), data={"name": "increment", "payload": "[1"})
        assert bad.status_code == 400
        unknown = await client.post(action.group(1), data={"name": "nope"}, headers=HTMX)
        assert unknown.status_code == 404


def trust_app(tmp_path: Path) -> tuple[LightChat, list[tuple[str, dict[str, Any]]]]:
    """A chat offering one action button (``buy``, priced by the server), with a callback
    it never offers (``refund``), beside a file, an image, a text and a custom element."""
    (tmp_path / "elements").mkdir(exist_ok=True)
    (tmp_path / "elements" / "Counter.html").write_text(COUNTER)
    app = LightChat(settings=settings(tmp_path))
    ran: list[tuple[str, dict[str, Any]]] = []

    @app.on_chat_start
    async def start() -> None:
        buy = cl.Action(name="buy", payload={"price": 10}, label="Buy")
        await Message(
            content="Shop",
            actions=[buy],
            elements=[
                cl.File(name="receipt.txt", content=b"paid"),
                cl.Image(name="logo", content=b"\x89PNG", mime="image/png"),
                cl.Text(name="terms", content="No refunds."),
                cl.CustomElement(name="Counter", props={"count": 0, "label": "Clicks"}),
            ],
        ).send()

    @app.action_callback("buy")
    async def bought(action: cl.Action) -> None:
        ran.append((action.name, dict(action.payload)))

    @app.action_callback("refund")
    async def refund(action: cl.Action) -> None:
        ran.append((action.name, dict(action.payload)))

    @app.action_callback("increment")
    async def increment(action: cl.Action) -> None:
        ran.append((action.name, dict(action.payload)))

    return app, ran


def shop_of(site: Site, client: httpx.AsyncClient, url: str) -> MessageData:
    """The message of ``trust_app`` that offers the button and shows the elements."""
    items = site.session(client, url).transcript.items.values()
    return next(m for m in items if isinstance(m, MessageData) and m.content == "Shop")


def part_ids(site: Site, client: httpx.AsyncClient, url: str) -> dict[str, str]:
    """The ids of the shop's button (``action``) and of its elements, by kind."""
    shop = shop_of(site, client, url)
    return {"action": shop.actions[0].id, **{e.kind: e.id for e in shop.elements}}


async def test_an_action_button_runs_with_the_servers_name_and_payload(
    tmp_path: Path, serve: Serve
) -> None:
    app, ran = trust_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        ids = part_ids(site, client, url)
        forged = {"name": "refund", "payload": '{"price": 0}', "label": "x", "id": "y"}
        for headers in (HTMX, {}):
            button = f"{url}/actions/{ids['action']}"
            response = await client.post(button, data=forged, headers=headers)
            assert response.status_code in (204, 303), response.text
        await site.idle(site.session(client, url))
        assert ran == [("buy", {"price": 10}), ("buy", {"price": 10})]


async def test_an_action_the_chat_never_offered_is_refused(tmp_path: Path, serve: Serve) -> None:
    app, ran = trust_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        ids = part_ids(site, client, url)
        shop = shop_of(site, client, url).id
        # A button is named by its id: a callback's name, an element's or a message's id
        # is no button of this chat.
        for name in ("refund", "buy", ids["file"], ids["custom"], shop):
            response = await client.post(f"{url}/actions/{name}", headers=HTMX)
            assert response.status_code == 404, (name, response.text)
            assert "no longer available" in response.text
        # Nor does any part of the chat but a custom element call one by its name.
        for part in ("action", "file", "image", "text"):
            response = await client.post(
                f"{url}/elements/{ids[part]}/actions",
                data={"name": "refund", "payload": '{"amount": 1000}'},
                headers=HTMX,
            )
            assert response.status_code == 404, (part, response.text)
        await site.idle(site.session(client, url))
        assert ran == []


async def test_only_a_custom_element_calls_actions_by_name(tmp_path: Path, serve: Serve) -> None:
    app, ran = trust_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        ids = part_ids(site, client, url)
        call = {"name": "increment", "payload": '{"by": 1}'}
        for part in ("file", "image", "text"):
            refused = await client.post(f"{url}/elements/{ids[part]}/actions", data=call)
            assert refused.status_code == 404, (part, refused.text)
            assert f"Only a custom element calls actions; this is a {part} element." in (
                html.unescape(refused.text)
            )
        gone = await client.post(f"{url}/elements/{'0' * 32}/actions", data=call)
        assert gone.status_code == 404
        assert "no longer in the chat" in gone.text
        assert ran == []
        # The custom element's own call, with what its form sent (the browser's payload).
        called = await client.post(f"{url}/elements/{ids['custom']}/actions", data=call)
        assert called.status_code == 303, called.text
        assert ran == [("increment", {"by": 1})]


@pytest.mark.parametrize(
    ("payload", "status"),
    [
        ("[" * 50_000 + "]" * 50_000, 413),  # over 64 KB
        ('{"a":' + "[" * 30_000 + "]" * 30_000 + "}", 400),  # within 64 KB, too deep to parse
        ('{"a":' * 65 + "1" + "}" * 65, 400),  # parsed, but nested past the limit
        ('{"by": NaN}', 400),
        ('{"by": 1e999}', 400),
        ('{"by": ' + "9" * 5000 + "}", 400),  # more digits than int() converts
        ("[1]", 400),  # JSON, but not an object
        ("{", 400),
    ],
)
async def test_a_custom_elements_payload_is_checked_json(
    tmp_path: Path, payload: str, status: int, serve: Serve
) -> None:
    app, ran = trust_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        custom = part_ids(site, client, url)["custom"]
        action = f"{url}/elements/{custom}/actions"
        response = await client.post(action, data={"name": "increment", "payload": payload})
        assert response.status_code == status, response.text
        assert "payload" in response.text
        deep = '{"a":' * 64 + "1" + "}" * 64  # as deep as the limit
        fine = await client.post(action, data={"name": "increment", "payload": deep})
        assert fine.status_code == 303, fine.text
        assert len(ran) == 1


def test_a_custom_element_name_must_name_a_template() -> None:
    with pytest.raises(cl.ConfigError, match="letters, digits"):
        cl.CustomElement(name="../secrets")


# -- user_env and ?prompt= --------------------------------------------------------------


async def test_user_env_is_asked_once_per_browser_and_reaches_the_chat(
    tmp_path: Path, serve: Serve
) -> None:
    app = LightChat(settings=settings(tmp_path, user_env="API_KEY, REGION"))
    seen: list[Any] = []

    @app.on_chat_start
    async def start() -> None:
        seen.append(cl.user_session.get("env"))

    async with serve(app) as site:
        client = site.browser()
        first = await client.get("/?prompt=hi")
        assert first.status_code == 303
        assert first.headers["location"] == "/env?prompt=hi"
        form = await client.get("/env?prompt=hi")
        assert 'type="password" name="API_KEY"' in form.text
        assert 'name="REGION"' in form.text
        missing = await client.post("/env?prompt=hi", data={"API_KEY": "k"})
        assert missing.status_code == 400
        assert "REGION" in missing.text
        saved = await client.post("/env?prompt=hi", data={"API_KEY": "k1", "REGION": "eu"})
        assert saved.headers["location"] == "/?prompt=hi"
        url = (await client.get("/?prompt=hi")).headers["location"]
        assert url.endswith("?prompt=hi")
        await site.idle(site.session(client, url.split("?")[0]))
        assert seen == [{"API_KEY": "k1", "REGION": "eu"}]
        # Another browser is asked again: the values are this browser's only.
        other = site.browser()
        assert (await other.get("/")).headers["location"] == "/env"


async def test_prompt_fills_the_composer(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=settings(tmp_path))

    @app.on_message
    async def main(message: Message) -> None:
        pass

    async with serve(app) as site:
        client = site.browser()
        response = await client.get("/", params={"prompt": "Explain </textarea><b>x</b>"})
        url = response.headers["location"]
        page = (await client.get(url)).text
        assert "autofocus>Explain &lt;/textarea&gt;&lt;b&gt;x&lt;/b&gt;</textarea>" in page


# -- commands, modes and the side panel -------------------------------------------------


def composer_app(tmp_path: Path) -> tuple[LightChat, list[Any]]:
    app = LightChat(settings=settings(tmp_path))
    received: list[Any] = []

    @app.on_chat_start
    async def start() -> None:
        await cl.context.emitter.set_commands(
            [
                {"id": "Picture", "icon": "🖼", "description": "Draw it", "button": True},
                {"id": "Search", "description": "Look it up", "persistent": True},
            ]
        )
        await cl.context.emitter.set_modes(
            [
                cl.Mode(
                    id="model",
                    name="Model",
                    options=[
                        cl.ModeOption(id="small", name="Small"),
                        cl.ModeOption(id="large", name="Large", default=True),
                    ],
                )
            ]
        )

    @app.on_message
    async def main(message: Message) -> None:
        received.append((message.content, message.command, message.modes))

    return app, received


async def test_commands_and_modes_arrive_with_the_message(tmp_path: Path, serve: Serve) -> None:
    app, received = composer_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        page = (await client.get(url)).text
        assert '<select name="command" aria-label="Command"' in page
        assert 'data-command="Picture"' in page
        assert re.search(r'<option value="large" selected', page)
        post = client.post
        await post(f"{url}/messages", data={"content": "a cat", "command": "Picture"})
        await post(f"{url}/messages", data={"content": "/Search the docs", "mode:model": "small"})
        await post(f"{url}/messages", data={"content": "/Unknown stays text"})
        assert received == [
            ("a cat", "Picture", {"model": "large"}),
            ("the docs", "Search", {"model": "small"}),
            ("/Unknown stays text", None, {"model": "large"}),
        ]
        bad = await post(f"{url}/messages", data={"content": "x", "command": "Nope"}, headers=HTMX)
        assert bad.status_code == 400
        bad = await post(
            f"{url}/messages", data={"content": "x", "mode:model": "huge"}, headers=HTMX
        )
        assert bad.status_code == 400
        assert "not a choice of Model" in bad.text
        assert len(received) == 3


async def test_command_and_mode_labels_are_text(tmp_path: Path, serve: Serve) -> None:
    async def build(texts: list[str]) -> None:
        await cl.context.emitter.set_commands(
            [{"id": f"c{i}", "description": t, "button": True} for i, t in enumerate(texts)]
        )
        options = [cl.ModeOption(id=f"o{i}", name=t, description=t) for i, t in enumerate(texts)]
        await cl.context.emitter.set_modes([cl.Mode(id="m", name=texts[0], options=options)])

    def extras(page: str) -> str:
        start = page.index('<div id="lc-composer-extras"')
        return page[start : page.index('<div class="lc-compose-row">', start)]

    await assert_text_stays_text(serve, tmp_path, build, extras)


async def test_element_sidebar_opens_with_its_elements(tmp_path: Path, serve: Serve) -> None:
    app = LightChat(settings=settings(tmp_path))

    @app.on_chat_start
    async def start() -> None:
        await cl.ElementSidebar.set_title("Sources")
        await cl.ElementSidebar.set_elements(
            [cl.Text(name="a.md", content="first source"), cl.File(name="b.txt", content=b"B")]
        )

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        page = (await client.get(url)).text
        side = page[page.index('<aside id="lc-side"') : page.index("</aside>")]
        assert "Sources" in side
        assert "first source" in side
        link = re.search(r'href="([^"]+)" download="b.txt"', side)
        assert link is not None
        assert (await client.get(link.group(1))).content == b"B"


# -- plots and tables, with the real libraries ------------------------------------------


async def test_pyplot_plotly_and_dataframe_elements(tmp_path: Path, serve: Serve) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import pandas as pd
    import plotly.graph_objects as go
    from matplotlib.figure import Figure

    figure = Figure(figsize=(2, 2))
    figure.add_subplot().plot([1, 2, 3], [3, 1, 2])
    plot = go.Figure(data=[go.Bar(x=["a", "b"], y=[1, 3])])
    rows = pd.DataFrame({"name": ["<b>apples</b>", "pears"], "count": [3, 5]})
    app = LightChat(settings=settings(tmp_path))

    @app.on_chat_start
    async def start() -> None:
        await Message(
            content="Figures",
            elements=[
                cl.Pyplot(name="line", figure=figure),
                cl.Plotly(name="bars", figure=plot),
                cl.Dataframe(name="fruit", data=rows),
            ],
        ).send()

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        page = (await client.get(url)).text
        png = re.search(r'<img src="([^"]+)" alt="line"', page)
        assert png is not None
        served = await client.get(png.group(1))
        assert served.headers["content-type"] == "image/png"
        assert served.content.startswith(b"\x89PNG")
        # Plotly: the figure's frame is lightchat's page (not sandboxed away from the app's
        # origin, so plotly.js comes from the browser's cache), whose policy runs lightchat's
        # script and plotly.js only, with the figure as data.
        frame = re.search(r'<iframe class="lc-plot" src="([^"]+)" title="bars"></iframe>', page)
        assert frame is not None
        html = await client.get(frame.group(1))
        assert html.headers["content-type"].startswith("text/html")
        csp = html.headers["content-security-policy"]
        assert "script-src 'self';" in csp
        assert "unsafe-eval" not in csp
        assert "script-src 'unsafe" not in csp
        assert "Plotly.newPlot" not in html.text  # no copy of plotly.js in the figure
        assert len(html.content) < 20_000
        plotly_js = re.search(r'<script src="(/-/plotly/plotly\.min\.js\?v=\w+)" defer>', html.text)
        assert plotly_js is not None
        assert f'src="/-/static/lightchat.plot.js?v={STATIC.version}"' in html.text
        held = re.search(
            r'<script type="application/json" id="lc-figure">(.*?)</script>', html.text
        )
        assert held is not None
        assert json.loads(held.group(1))["data"][0]["y"] == [1, 3]
        library = await client.get(plotly_js.group(1), headers={"Accept-Encoding": "br"})
        assert library.status_code == 200
        assert library.headers["content-type"] == "text/javascript; charset=utf-8"
        assert library.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert library.headers["content-encoding"] == "br"
        assert "/-/plotly/" not in page  # the chat page itself loads no plotly.js
        table = page[page.index('<table class="lc-table" aria-label="fruit">') :]
        assert '<th scope="col">name</th><th scope="col">count</th>' in table
        assert "<td>&lt;b&gt;apples&lt;/b&gt;</td><td>3</td>" in table


async def test_a_figure_is_kept_as_json_and_its_text_stays_data(
    tmp_path: Path, serve: Serve
) -> None:
    import plotly.graph_objects as go

    title = "</script><script>alert(1)</script><!--"
    figure = go.Figure(data=[go.Bar(x=["a"], y=[2])], layout={"title": {"text": title}})
    page_of_its_own = b"<!doctype html><title>plot</title><svg></svg>"
    app = LightChat(settings=settings(tmp_path))

    @app.on_chat_start
    async def start() -> None:
        await Message(
            content="Figures",
            elements=[
                cl.Plotly(name="figure", figure=figure),
                cl.Plotly(name="as json", content=figure.to_json()),  # Chainlit's content
                cl.Plotly(name="own page", content=page_of_its_own),
            ],
        ).send()

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        (answer,) = site.answers(client, url)
        kept = {element.name: element for element in answer.elements}
        assert kept["figure"].mime == kept["as json"].mime == "application/json"
        assert (kept["figure"].size or 0) < 20_000  # no copy of plotly.js
        page = (await client.get(url)).text
        frames = dict(
            (name, (src, rest))
            for src, name, rest in re.findall(
                r'<iframe class="lc-plot" src="([^"]+)" title="([^"]+)"([^>]*)>', page
            )
        )
        assert frames["figure"][1] == frames["as json"][1] == ""
        assert frames["own page"][1] == ' sandbox="allow-scripts"'  # the app's HTML: apart
        for name in ("figure", "as json"):
            shown = (await client.get(frames[name][0])).text
            held = re.search(r'id="lc-figure">(.*?)</script>', shown, re.DOTALL)
            assert held is not None
            assert "<" not in held.group(1)  # "</script>" in a title cannot end the data
            assert json.loads(held.group(1))["layout"]["title"]["text"] == title
        own = await client.get(frames["own page"][0])
        assert own.content == page_of_its_own
        assert own.headers["content-security-policy"].startswith("sandbox allow-scripts")


async def test_an_answer_to_a_question_that_timed_out_is_refused(
    tmp_path: Path, serve: Serve
) -> None:
    app = LightChat(settings=settings(tmp_path))
    results: list[Any] = []

    @app.on_chat_start
    async def start() -> None:
        results.append(await cl.AskFileMessage(content="Quick, a file", timeout=0.2).send())
        await Message(content="Too late").send()

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await wait_shown(site, client, url, lambda m: m.ask is not None)
        form = re.search(r'action="([^"]+/asks/[0-9a-f]+/files)"', (await client.get(url)).text)
        assert form is not None
        await wait_shown(site, client, url, lambda m: m.content == "Too late")
        late = await client.post(
            form.group(1), files={"files": ("a.txt", b"a", "text/plain")}, headers=HTMX
        )
        assert late.status_code == 409
        assert "timed out" in late.text
        assert results == [None]
        stored = tmp_path / ".lightchat" / "files"
        assert not stored.exists() or not any(p.is_file() for p in stored.rglob("*"))


def test_text_element_content_is_safe_markdown() -> None:
    from lightchat.domain.events import ElementData
    from lightchat.ui.render import element_text_html
    from tests.helpers import assert_inert

    for payload in PAYLOADS:
        assert_inert(
            str(element_text_html(ElementData(id="e", kind="text", name="n", content=payload)))
        )
    shown = element_text_html(ElementData(id="e", kind="text", name="n", content="**bold**"))
    assert "<strong>bold</strong>" in shown


async def test_a_custom_element_script_is_served_from_the_apps_elements_folder(
    tmp_path: Path,
    serve: Serve,
) -> None:
    (tmp_path / "elements").mkdir()
    (tmp_path / "elements" / "Counter.html").write_text("<p>{{ props.count }}</p>")
    (tmp_path / "elements" / "Counter.js").write_text("window.counted = true;")
    (tmp_path / "secret.js").write_text("secret")
    app = LightChat(settings=settings(tmp_path))

    @app.on_chat_start
    async def start() -> None:
        await Message(content="x", elements=[cl.CustomElement(name="Counter", props={})]).send()

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        page = (await client.get(url)).text
        script = re.search(r'<script src="(/-/elements/Counter.js)" id="el-\w+-js-\w+"', page)
        assert script is not None
        served = await client.get(script.group(1))
        assert served.text == "window.counted = true;"
        assert served.headers["content-type"].startswith("text/javascript")
        for bad in ("/-/elements/Missing.js", "/-/elements/..%2Fsecret.js", "/-/elements/a.b.js"):
            assert (await client.get(bad)).status_code == 404


def test_an_action_icon_is_a_lucide_name_or_an_emoji_shown_before_the_label() -> None:
    from lightchat.domain.events import ActionData, MessageData
    from lightchat.ui.render import Renderer

    renderer = Renderer(Settings(), "v1")
    actions = [
        ActionData("a", "n", "Like", icon="thumbs-up"),
        ActionData("b", "n", "Yes", icon="✅"),
    ]
    shown = renderer.message(
        MessageData("m", "Bot", "assistant_message", "hi", actions=actions), "", "/chat/c"
    )
    assert 'data-icon="thumbs-up">' in shown  # the name stays there for the app's CSS
    assert re.search(r'<svg aria-hidden="true"[^>]*lucide-thumbs-up">.*?</svg>Like</button>', shown)
    assert '<span class="lc-action-icon" aria-hidden="true">✅</span>Yes</button>' in shown
