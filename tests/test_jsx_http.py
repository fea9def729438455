"""Chainlit's JSX custom elements over HTTP: the sandboxed frame and its policy, the chat
page's strict policy kept (and no runtime on a page without such an element), the
element's posts (new props, removal, AskElementMessage's submit and cancel) checked for
owner, form token and JSON, and AskElementMessage's answers and timeout."""

from __future__ import annotations

import asyncio
import gzip
import html
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

import lightchat as cl
from lightchat import LightChat, Message, Settings
from lightchat.cli import load_app
from lightchat.domain.events import MessageData
from lightchat.http.endpoints.custom import JSX_CSP, jsx_csp
from lightchat.http.middleware.security import CSP
from lightchat.ui.jsx import VENDOR_DIR, icon_nodes, imported_icons, script_json
from tests.helpers import HTMX, Serve, Site

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]

COUNTER_JSX = """\
import { useState } from "react";
import { Button } from "@/components/ui/button";
import { Check, X as Close, NoSuchIcon } from "lucide-react";

export default function Counter() {
  return <Button onClick={() => updateElement({ ...props, count: props.count + 1 })}>
    <Check /> {props.count} {"</script>"}
  </Button>;
}
"""

HOSTILE = '</script><img src=x onerror="alert(1)">&"\u2028'


def jsx_app(tmp_path: Path, **overrides: Any) -> tuple[LightChat, list[Any]]:
    """A chat showing a JSX counter; "ask" asks for a JSX form, "ask-template" for a
    Jinja one, with AskElementMessage (their answers are kept)."""
    folder = tmp_path / "public" / "elements"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "Counter.jsx").write_text(COUNTER_JSX)
    (folder / "Form.jsx").write_text("export default function Form() { return <p>form</p>; }")
    (tmp_path / "elements").mkdir(exist_ok=True)
    (tmp_path / "elements" / "Both.html").write_text("<p>from the template</p>")
    (folder / "Both.jsx").write_text("export default function Both() { return <p>jsx</p>; }")
    (tmp_path / "elements" / "Pick.html").write_text(
        '<form method="post" action="{{ submit_url }}">{{ csrf_input }}'
        '<input name="colour" value="red"><input name="tag" value="a"><input name="tag" value="b">'
        "<button>Send</button></form>"
        '<form method="post" action="{{ cancel_url }}">{{ csrf_input }}<button>No</button></form>'
    )
    app = LightChat(settings=Settings(name="Bot", app_dir=str(tmp_path), **overrides))
    answers: list[Any] = []

    @app.on_chat_start
    async def start() -> None:
        counter = cl.CustomElement(name="Counter", props={"count": 1, "text": HOSTILE})
        cl.user_session.set("counter", counter)
        await Message(content="A counter", elements=[counter]).send()

    @app.on_message
    async def main(message: Message) -> None:
        if message.content.startswith("ask"):
            name = "Pick" if message.content == "ask-template" else "Form"
            form = cl.CustomElement(name=name, props={"fields": ["title"]})
            timeout = 0.2 if message.content == "ask-quick" else 10
            answers.append(
                await cl.AskElementMessage(
                    content="Fill it in", element=form, timeout=timeout
                ).send()
            )
        elif message.content == "both":
            await Message(content="both", elements=[cl.CustomElement(name="Both")]).send()

    return app, answers


def counter_of(site: Site, client: httpx.AsyncClient, url: str) -> str:
    """The id of the chat's JSX counter."""
    for item in site.session(client, url).transcript.items.values():
        if isinstance(item, MessageData):
            for element in item.elements:
                if element.name == "Counter":
                    return element.id
    raise AssertionError("no counter")


async def asked(site: Site, client: httpx.AsyncClient, url: str) -> str:
    """Wait until a question shows its element; that element's id."""
    session = site.session(client, url)
    for _ in range(200):
        for item in session.transcript.items.values():
            if isinstance(item, MessageData) and item.ask and item.ask.kind == "element":
                assert item.ask.element_id is not None
                return item.ask.element_id
        await asyncio.sleep(0.01)
    raise AssertionError("no question")


async def test_a_jsx_element_is_a_sandboxed_frame_with_a_policy_of_its_own(
    tmp_path: Path, serve: Serve
) -> None:
    app, _ = jsx_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        page = await client.get(url)
        assert page.headers["content-security-policy"] == CSP  # the chat page stays strict
        assert "unsafe-eval" not in CSP
        frame = re.search(r"<iframe class=\"lc-jsx\"[^>]*>", page.text)
        assert frame is not None
        tag = frame.group(0)
        assert 'sandbox="allow-scripts"' in tag
        assert "allow-same-origin" not in page.text
        assert "lightchat.elements.js" in page.text
        # Without JavaScript (no frame runs it), the page says what the element needs.
        assert '<noscript><p class="lc-hint">This element needs JavaScript.</p></noscript>' in (
            page.text
        )
        assert "/vendor/" not in page.text  # the runtime loads inside the frame only
        # The props ride on the frame as an escaped attribute: the hostile text is text.
        props = re.search(r'data-lc-props="([^"]*)"', tag)
        assert props is not None
        assert json.loads(html.unescape(props.group(1)))["text"] == HOSTILE
        assert "<img src=x" not in page.text

        counter = counter_of(site, client, url)
        shown = await client.get(f"{url}/elements/{counter}/jsx")
        assert shown.status_code == 200
        policy = shown.headers["content-security-policy"]
        assert policy == f"{JSX_CSP}; frame-ancestors 'self'"
        assert policy.startswith("sandbox allow-scripts;")
        assert "allow-same-origin" not in policy
        assert "script-src 'self' 'unsafe-eval'" in policy
        assert "connect-src 'none'" in policy
        for runtime in ("preact.umd.js", "compat.umd.js", "babel.min.js", "lightchat.jsx.js"):
            assert runtime in shown.text
        assert "/-/static/vendor/" in shown.text
        data = re.search(
            r'<script type="application/json" id="lc-jsx-data">(.*?)</script>', shown.text, re.S
        )
        assert data is not None
        assert "</script" not in data.group(1)
        assert "<img" not in data.group(1)
        parsed = json.loads(data.group(1))
        assert parsed["source"] == COUNTER_JSX
        assert parsed["props"]["text"] == HOSTILE
        assert sorted(parsed["icons"]) == ["Check", "X"]  # the names imported, known ones
        # The frame signs its messages with a key that the page's frame carries too.
        key = re.search(r'data-lc-key="([0-9a-f]{32})"', tag)
        assert key is not None
        assert parsed["key"] == key.group(1)


async def test_a_page_without_jsx_elements_loads_no_runtime(tmp_path: Path, serve: Serve) -> None:
    app, _ = jsx_app(tmp_path)

    @app.on_chat_start
    async def start() -> None:
        await Message(content="plain").send()

    async with serve(app) as site:
        client = site.browser()
        url = await site.chat(client, "both")  # a template and a JSX file: the template wins
        page = (await client.get(url)).text
        assert "from the template" in page
        for runtime in ("/vendor/", "lightchat.elements.js", "lightchat.jsx", "<iframe"):
            assert runtime not in page, runtime


async def test_the_vendored_runtime_is_served_compressed_or_not(
    tmp_path: Path, serve: Serve
) -> None:
    app, _ = jsx_app(tmp_path)
    babel = "/-/static/vendor/babel-standalone/babel.min.js"
    async with serve(app) as site:
        client = site.browser()
        packed = await client.get(babel, headers={"Accept-Encoding": "gzip"})
        assert packed.status_code == 200
        assert packed.headers["content-encoding"] == "gzip"
        assert packed.headers["content-type"].startswith("text/javascript")
        assert b"Babel" in packed.content[:20000]  # httpx unpacks it
        plain = await client.get(babel, headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers
        raw = gzip.decompress((VENDOR_DIR / "babel-standalone" / "babel.min.js.gz").read_bytes())
        assert plain.content == raw
        preact = await client.get("/-/static/vendor/preact/preact.umd.js")
        assert preact.status_code == 200
        assert preact.headers["content-type"].startswith("text/javascript")
        for missing in ("nope/x.js", "preact/..%2F..%2F..%2Fapp.py", "lucide/.hidden"):
            assert (await client.get(f"/-/static/vendor/{missing}")).status_code == 404


async def test_update_element_keeps_new_props_and_delete_element_removes_it(
    tmp_path: Path, serve: Serve
) -> None:
    app, _ = jsx_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        counter = counter_of(site, client, url)
        posted = await client.post(
            f"{url}/elements/{counter}/props", data={"props": '{"count": 5}'}, headers=HTMX
        )
        assert posted.status_code == 204, posted.text
        element = site.session(client, url).element(counter)
        assert element is not None
        assert json.loads(element.content or "") == {"count": 5}
        assert "&#34;count&#34;: 5" in (await client.get(url)).text or (
            "&quot;count&quot;: 5" in (await client.get(url)).text
        )
        removed = await client.post(f"{url}/elements/{counter}/delete", headers=HTMX)
        assert removed.status_code == 204, removed.text
        assert site.session(client, url).element(counter) is None
        again = await client.post(f"{url}/elements/{counter}/delete", headers=HTMX)
        assert again.status_code == 404
        assert "no longer in the chat" in again.text


@pytest.mark.parametrize(
    ("props", "status"),
    [
        ("[" * 50_000 + "]" * 50_000, 413),  # over 64 KB
        ('{"a":' * 65 + "1" + "}" * 65, 400),  # nested past the limit
        ('{"count": NaN}', 400),
        ("[1]", 400),  # JSON, but not an object
        ("{", 400),
        ("", 400),  # missing
    ],
)
async def test_new_props_must_be_a_json_object(
    tmp_path: Path, props: str, status: int, serve: Serve
) -> None:
    app, _ = jsx_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        counter = counter_of(site, client, url)
        response = await client.post(
            f"{url}/elements/{counter}/props", data={"props": props}, headers=HTMX
        )
        assert response.status_code == status, response.text
        assert "props" in response.text  # the notice says what was wrong
        element = site.session(client, url).element(counter)
        assert element is not None
        assert json.loads(element.content or "")["count"] == 1  # unchanged


async def test_only_the_chats_browser_reaches_its_element_routes(
    tmp_path: Path, serve: Serve
) -> None:
    app, _ = jsx_app(tmp_path)
    async with serve(app) as site:
        owner = site.browser()
        url = await site.new_chat(owner)
        await site.idle(site.session(owner, url))
        counter = counter_of(site, owner, url)
        stranger = site.browser()
        await stranger.get("/")  # a browser of its own, with its own chat
        base = f"{url}/elements/{counter}"
        assert (await stranger.get(f"{base}/jsx")).status_code == 404
        for action, data in (
            ("props", {"props": '{"count": 99}'}),
            ("delete", {}),
            ("submit", {"values": "{}"}),
            ("cancel", {}),
        ):
            response = await stranger.post(f"{base}/{action}", data=data, headers=HTMX)
            assert response.status_code == 404, (action, response.text)
        element = site.session(owner, url).element(counter)
        assert element is not None
        assert json.loads(element.content or "")["count"] == 1
        # Another element than a custom one has no frame.
        assert (await owner.get(f"{url}/elements/{'0' * 32}/jsx")).status_code == 404


async def test_element_posts_need_the_form_token_and_the_same_origin(
    tmp_path: Path, serve: Serve
) -> None:
    app, _ = jsx_app(tmp_path)
    async with serve(app, form_token=False) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        counter = counter_of(site, client, url)
        page = (await client.get(url)).text
        token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
        assert token is not None
        target = f"{url}/elements/{counter}/props"
        data = {"props": '{"count": 7}'}
        refused = await client.post(target, data=data, headers=HTMX)
        assert refused.status_code == 403
        cross = await client.post(
            target,
            data=data,
            headers={**HTMX, "X-CSRF-Token": token.group(1), "Origin": "https://evil.example"},
        )
        assert cross.status_code == 403
        element = site.session(client, url).element(counter)
        assert element is not None
        assert json.loads(element.content or "")["count"] == 1
        fine = await client.post(
            target, data=data, headers={**HTMX, "X-CSRF-Token": token.group(1)}
        )
        assert fine.status_code == 204


async def test_ask_element_message_answers_with_submitted_values_or_a_cancel(
    tmp_path: Path, serve: Serve
) -> None:
    app, answers = jsx_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        await client.post(f"{url}/messages", data={"content": "ask"}, headers=HTMX)
        form = await asked(site, client, url)
        counter = counter_of(site, client, url)
        # Only the element asked for answers; its values must be a JSON object.
        wrong = await client.post(f"{url}/elements/{counter}/submit", data={"values": "{}"})
        assert wrong.status_code == 409
        bad = await client.post(
            f"{url}/elements/{form}/submit", data={"values": "[1]"}, headers=HTMX
        )
        assert bad.status_code == 400
        done = await client.post(
            f"{url}/elements/{form}/submit", data={"values": '{"title": "Hi"}'}
        )
        assert done.status_code == 303
        await site.idle(site.session(client, url))
        assert answers == [{"title": "Hi", "submitted": True}]
        question = next(
            m
            for m in site.session(client, url).transcript.items.values()
            if isinstance(m, MessageData) and m.ask is None and m.content == "Thanks for submitting"
        )
        assert question.elements == []  # the element went away with the question
        late = await client.post(f"{url}/elements/{form}/cancel", headers=HTMX)
        assert late.status_code == 409

        await client.post(f"{url}/messages", data={"content": "ask"}, headers=HTMX)
        form = await asked(site, client, url)
        cancelled = await client.post(f"{url}/elements/{form}/cancel", headers=HTMX)
        assert cancelled.status_code == 204
        await site.idle(site.session(client, url))
        assert answers[-1] == {"submitted": False}
        contents = [
            m.content
            for m in site.session(client, url).transcript.items.values()
            if isinstance(m, MessageData)
        ]
        assert "Cancelled" in contents


async def test_a_template_element_answers_through_its_submit_url(
    tmp_path: Path, serve: Serve
) -> None:
    app, answers = jsx_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        await client.post(f"{url}/messages", data={"content": "ask-template"}, headers=HTMX)
        pick = await asked(site, client, url)
        page = (await client.get(url)).text
        assert f'action="{url}/elements/{pick}/submit"' in page
        assert f'action="{url}/elements/{pick}/cancel"' in page
        done = await client.post(
            f"{url}/elements/{pick}/submit", data={"colour": "red", "tag": ["a", "b"]}
        )
        assert done.status_code == 303
        await site.idle(site.session(client, url))
        assert answers == [{"colour": "red", "tag": ["a", "b"], "submitted": True}]


async def test_ask_element_message_times_out(tmp_path: Path, serve: Serve) -> None:
    app, answers = jsx_app(tmp_path)
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        await client.post(f"{url}/messages", data={"content": "ask-quick"})
        await site.idle(site.session(client, url))
        assert answers == [None]
        messages = [
            m
            for m in site.session(client, url).transcript.items.values()
            if isinstance(m, MessageData) and m.content == "Timed out"
        ]
        assert len(messages) == 1
        assert messages[0].ask is None
        assert messages[0].elements == []


async def test_new_props_reach_on_chat_resume(tmp_path: Path, serve: Serve) -> None:
    app, _ = jsx_app(tmp_path, database_url="")
    seen: list[Any] = []

    @app.on_chat_resume
    async def resume(thread: dict[str, Any]) -> None:
        seen.extend(e.get("props") for e in thread["elements"] if e["type"] == "custom")

    async with serve(app, lifespan=True) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        counter = counter_of(site, client, url)
        await client.post(f"{url}/elements/{counter}/props", data={"props": '{"count": 42}'})
        await site.history.flush()
        thread = url.rsplit("/", 1)[1]
        await site.services.chats.end(thread, site.owner(client))  # as after a restart
        await client.get(url)
        assert seen == [{"count": 42}]


def test_the_icons_a_source_imports_are_found_by_lucide_reacts_names() -> None:
    source = 'import Thing, { Check, X as Close } from "lucide-react";\nimport { A } from "x";'
    assert imported_icons(source) == ["Check", "X"]
    found = icon_nodes(["Check", "CheckIcon", "LucideCheck", "NoSuchIcon"])
    assert sorted(found) == ["Check", "CheckIcon", "LucideCheck"]
    assert found["Check"] == found["CheckIcon"]


def test_json_for_a_script_element_cannot_end_it() -> None:
    text = str(script_json({"a": HOSTILE}))
    for unsafe in ("<", ">", "&", "\u2028"):
        assert unsafe not in text
    assert json.loads(text) == {"a": HOSTILE}


def test_ask_element_message_takes_a_custom_element() -> None:
    with pytest.raises(cl.ConfigError, match="CustomElement"):
        cl.AskElementMessage(content="x", element=cl.Text(content="no"))  # type: ignore[arg-type]


async def test_send_user_message_sends_as_the_user_with_any_command(
    tmp_path: Path, serve: Serve
) -> None:
    app, _ = jsx_app(tmp_path)
    heard: list[tuple[str, str | None]] = []

    @app.on_message
    async def main(message: Message) -> None:
        heard.append((message.content, message.command))

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        counter = counter_of(site, client, url)
        target = f"{url}/elements/{counter}/message"
        # As in Chainlit, the element names any command, not only one the composer offers.
        sent = await client.post(target, data={"content": "hi", "command": "my_command"})
        assert sent.status_code == 303, sent.text
        assert heard == [("hi", "my_command")]
        shown = [
            m
            for m in site.session(client, url).transcript.items.values()
            if isinstance(m, MessageData) and m.type == "user_message"
        ]
        assert [m.content for m in shown] == ["hi"]
        for data, status in (
            ({"content": "  "}, 400),
            ({"content": "x", "command": "c" * 101}, 400),
            ({"content": "x" * 100_001}, 413),
        ):
            refused = await client.post(target, data=data, headers=HTMX)
            assert refused.status_code == status, (data, refused.text)
        gone = await client.post(f"{url}/elements/{'0' * 32}/message", data={"content": "x"})
        assert gone.status_code == 404
        stranger = site.browser()
        await stranger.get("/")
        assert (await stranger.post(target, data={"content": "x"})).status_code == 404
        await site.idle(site.session(client, url))
        assert heard == [("hi", "my_command")]


def test_a_jsx_frame_may_be_framed_wherever_its_chat_page_may() -> None:
    assert jsx_csp("'self'").endswith("; frame-ancestors 'self'")
    assert jsx_csp("'none'").endswith("; frame-ancestors 'self'")  # the chat page frames it
    widened = jsx_csp("'self' https://intranet.example")
    assert widened.endswith("; frame-ancestors 'self' https://intranet.example")
    assert widened.startswith("sandbox allow-scripts;")


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "15_jsx_elements" / "app.py"


def frame_json(page: str) -> dict[str, Any]:
    """The data a JSX element's frame page carries."""
    found = re.search(r'<script type="application/json" id="lc-jsx-data">(.*?)</script>', page)
    assert found is not None
    data: dict[str, Any] = json.loads(found.group(1))
    return data


@pytest.mark.usefixtures("isolated_import")
async def test_the_jsx_example_polls_and_asks_for_a_rating(serve: Serve) -> None:
    app = load_app(str(EXAMPLE))
    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        await site.idle(site.session(client, url))
        items = site.session(client, url).transcript.items.values()
        poll = next(e for m in items if isinstance(m, MessageData) for e in m.elements)
        shown = frame_json((await client.get(f"{url}/elements/{poll.id}/jsx")).text)
        assert "export default function Poll" in shown["source"]
        assert sorted(shown["icons"]) == ["Vote"]
        votes = {"Pizza": 2, "Salad": 0, "Soup": 1}
        props = json.dumps({"question": "Lunch?", "options": votes})
        voted = await client.post(f"{url}/elements/{poll.id}/props", data={"props": props})
        assert voted.status_code == 303
        payload = json.dumps({"options": votes})
        closed = await client.post(
            f"{url}/elements/{poll.id}/actions", data={"name": "close_poll", "payload": payload}
        )
        assert closed.status_code == 303
        await client.post(f"{url}/messages", data={"content": "Tea at four"}, headers=HTMX)
        rating = await asked(site, client, url)
        shown = frame_json((await client.get(f"{url}/elements/{rating}/jsx")).text)
        assert shown["props"] == {"max": 5, "label": "Tea at four"}
        assert sorted(shown["icons"]) == ["Star"]
        values = json.dumps({"stars": 4, "why": "cosy"})
        rated = await client.post(f"{url}/elements/{rating}/submit", data={"values": values})
        assert rated.status_code == 303
        await site.idle(site.session(client, url))
        said = [a.content for a in site.answers(client, url)]
        assert "The poll is closed: **Pizza** wins." in said
        assert said[-1] == "Rated 4 of 5: cosy"


async def test_a_jsx_element_in_the_side_panel_updates_and_removes_itself(
    tmp_path: Path, serve: Serve
) -> None:
    app, _ = jsx_app(tmp_path)

    @app.on_chat_start
    async def start() -> None:
        panel = cl.CustomElement(name="Counter", props={"count": 1}, id="side-counter")
        await cl.ElementSidebar.set_elements([panel, cl.Text(name="notes", content="n")])

    async with serve(app) as site:
        client = site.browser()
        url = await site.new_chat(client)
        session = site.session(client, url)
        await site.idle(session)
        base = f"{url}/elements/side-counter"
        assert (await client.get(f"{base}/jsx")).status_code == 200
        posted = await client.post(f"{base}/props", data={"props": '{"count": 4}'})
        assert posted.status_code == 303
        panel = session.transcript.sidebar
        assert panel is not None
        assert [e.name for e in panel.elements] == ["Counter", "notes"]  # in its place
        assert json.loads(panel.elements[0].content or "") == {"count": 4}
        removed = await client.post(f"{base}/delete")
        assert removed.status_code == 303
        panel = session.transcript.sidebar
        assert panel is not None
        assert [e.name for e in panel.elements] == ["notes"]
        notes = panel.elements[0].id
        refused = await client.post(f"{url}/elements/{notes}/delete", headers=HTMX)
        assert refused.status_code == 404  # only a custom element removes itself
        assert "Only a custom element" in refused.text
