"""Rendering: the partials, the page, and StreamView (what one stream sends), XSS included."""

from __future__ import annotations

import itertools
import re
from dataclasses import replace
from pathlib import Path

import pytest

from lightchat.config.settings import Settings
from lightchat.domain.events import (
    Entry,
    Event,
    MessageData,
    MessageEvent,
    MessageType,
    RemoveEvent,
    RunEvent,
    StepData,
    StepEvent,
    TokenEvent,
)
from lightchat.domain.transcript import Transcript
from lightchat.testing import tokenize
from lightchat.ui.markdown import render_markdown, render_split
from lightchat.ui.render import Renderer
from lightchat.ui.stream_view import Chunk, StreamView, _merge
from tests.helpers import assert_inert
from tests.xss_payloads import PAYLOADS

# Editing off: its form (a textarea holding the message) is checked by structure instead,
# in tests/test_rich_http.py.
RENDERER = Renderer(Settings(name="Bot", edit=False), "v1")
INTERVAL = 0.15
PARTIAL = re.compile(r'<hx-partial hx-target="#([^"]+)" hx-swap="([^"]+)">(.*?)</hx-partial>', re.S)


def message(
    content: str = "",
    *,
    id_: str = "m1",
    type_: MessageType = "assistant_message",
    streaming: bool = False,
    **kw: object,
) -> MessageData:
    data = MessageData(id=id_, author="Bot", type=type_, content=content, streaming=streaming)
    return replace(data, **kw)  # type: ignore[arg-type]


def step(id_: str = "s1", **kw: object) -> StepData:
    return replace(StepData(id=id_, name="search", started_at=100.0), **kw)  # type: ignore[arg-type]


def view_of(*events: Event) -> StreamView:
    transcript = Transcript.from_entries(Entry(i, e) for i, e in enumerate(events, start=1))
    return StreamView(RENDERER, transcript, base="", chat_url="/chat/c1", interval=INTERVAL)


class Feeder:
    """Feeds events to a view one at a time, numbering them after the view's transcript."""

    def __init__(self, view: StreamView) -> None:
        self.view = view
        self.seq = view.transcript.seq

    def feed(self, now: float, *events: Event) -> list[Chunk]:
        entries = []
        for event in events:
            self.seq += 1
            entries.append(Entry(self.seq, event))
        return self.view.feed(entries, now)


def partials(chunks: list[Chunk]) -> list[tuple[str, str, str]]:
    """(target id, swap, content) for every HTML partial in the chunks, in order."""
    return [p for c in chunks if c.event is None for p in PARTIAL.findall(c.data)]


# -- partials -------------------------------------------------------------------------------


def test_assistant_message_partial() -> None:
    out = RENDERER.message(message("Hello **you**"), "")
    assert out.startswith('<article id="msg-m1" class="lc-msg lc-assistant_message"')
    assert 'data-author="Bot"' in out
    assert '<div class="lc-content" id="msg-m1-content"><p>Hello <strong>you</strong></p>' in out
    assert 'data-copy="msg-m1-content"' in out
    assert "data-streaming" not in out
    assert out.count("<article") == 1


def test_user_messages_are_markdown_unless_the_app_says_plain_text(tmp_path: Path) -> None:
    user = RENDERER.message(
        message("**bold** <b> [x](javascript:alert(1))", type_="user_message"), ""
    )
    assert "<p><strong>bold</strong> &lt;b&gt; [x](javascript:alert(1))</p>" in user
    assert "lc-copy" not in user
    plain = Renderer(Settings(app_dir=str(tmp_path), user_message_markdown=False), "1")
    shown = plain.message(message("**not bold** <b>", type_="user_message"), "")
    assert '<p class="lc-plain">**not bold** &lt;b&gt;</p>' in shown


def test_error_messages_are_plain_text() -> None:
    error = RENDERER.message(message("Boom <i>", type_="error"), "")
    assert 'role="alert"' in error
    assert '<p class="lc-plain">Boom &lt;i&gt;</p>' in error


def test_a_message_with_a_language_is_a_code_block() -> None:
    out = RENDERER.message(message('{"a": 1}', language="json"), "")
    assert 'data-language="json"' in out
    assert '<span class="nt">"a"</span>' in out


def test_streaming_message_partial_has_blocks_tail_and_raw() -> None:
    out = RENDERER.message(message("first\n\nsecond", streaming=True), "")
    assert 'data-streaming aria-busy="true"' in out
    assert '<div id="msg-m1-blocks"><p>first</p>\n</div>' in out
    # Streamed text goes on in the paragraph it continues.
    raw = '<span id="msg-m1-raw" class="lc-raw"></span>'
    assert f'<div id="msg-m1-tail"><p>second{raw}</p>\n' in out
    # The space a paragraph drops at its end stays between it and the text after it.
    out = RENDERER.message(message("Sync ", streaming=True), "")
    assert f"<p>Sync {raw}</p>\n" in out
    out = RENDERER.message(message("first\n\n- item", streaming=True), "")
    assert '<li>item</li>\n</ul>\n<span id="msg-m1-raw" class="lc-raw"></span></div>' in out


def test_step_partial_with_nested_steps() -> None:
    transcript = Transcript.from_entries(
        [
            Entry(1, StepEvent(step("outer", name="plan", input='{"q": 1}', show_input="json"))),
            Entry(
                2,
                StepEvent(
                    step(
                        "inner",
                        name="fetch",
                        parent_id="outer",
                        status="done",
                        ended_at=101.5,
                        output="**found**",
                    )
                ),
            ),
        ]
    )
    outer = transcript.items["outer"]
    assert isinstance(outer, StepData)
    out = RENDERER.step(outer, transcript, "")
    assert out.startswith('<details id="step-outer" class="lc-step" data-step-type="undefined"')
    assert 'data-status="running"' in out
    assert '<span class="lc-step-name">plan</span>' in out
    assert 'Using <span class="lc-step-name">plan</span>' in out
    assert "Running</time>" in out  # the time going by, without JavaScript
    assert 'class="lc-step-input"' in out
    assert 'data-language="json"' in out
    children = out.split('id="step-outer-children"', 1)[1]
    assert '<details id="step-inner"' in children
    assert 'Used <span class="lc-step-name">fetch</span>' in children
    assert '<span class="lc-step-duration">1.50 s</span>' in children
    assert "<strong>found</strong>" in children


def test_step_input_hidden_and_failed_state() -> None:
    transcript = Transcript()
    failed = step(input="secret", show_input=False, status="failed", ended_at=100.25)
    out = RENDERER.step(failed, transcript, "")
    assert "secret" not in out
    assert '<span class="lc-step-name">search</span> failed' in out
    assert '<span class="lc-step-duration">0.25 s</span>' in out


def test_controls() -> None:
    idle = RENDERER.controls(False, "/chat/c1")
    assert "lc-stop" not in idle
    assert "disabled" not in idle
    running = RENDERER.controls(True, "/chat/c1")
    assert 'formaction="/chat/c1/stop"' in running
    assert 'hx-post="/chat/c1/stop"' in running
    assert "disabled" in running


def test_chat_page() -> None:
    transcript = Transcript.from_entries(
        [
            Entry(1, RunEvent(running=True)),
            Entry(2, MessageEvent(message("hi", id_="u", type_="user_message"))),
            Entry(3, StepEvent(step())),
        ]
    )
    page = RENDERER.page("chat.html", transcript=transcript, base="/app", chat_url="/app/chat/c1")
    assert "<title>Bot</title>" in page
    assert 'id="lc-log" class="lc-log" role="log"' in page
    assert 'aria-live="polite"' in page
    assert 'action="/app/chat/c1/messages"' in page
    assert 'maxlength="100000"' in page
    assert 'hx-sse:connect="/app/chat/c1/events?after=3"' in page
    assert "lc-stop" in page
    assert '<meta http-equiv="refresh"' in page  # no JavaScript: reload while answering
    assert '<article id="msg-u"' in page
    assert '<details id="step-s1"' in page
    # The page's scripts in one file: lightchat's, then htmx and its SSE extension, at the
    # end of the body (htmx then starts as the page is parsed, not a task later).
    bundle = "lightchat.js+htmx-sse-4.0.1.min.js"
    script = f'<script src="/app/-/static/{bundle}?v=v1"></script>'
    assert script in page
    assert page.index('id="lc-composer"') < page.index(script) < page.index("</body>")
    assert page.index("</head>") < page.index(script)
    assert '<link rel="stylesheet" href="/app/-/static/lightchat.css?v=v1">' in page
    idle = RENDERER.page("chat.html", transcript=Transcript(), base="", chat_url="/chat/c1")
    assert "lc-stop" not in idle
    assert "refresh" not in idle
    assert "events?after=0" in idle


def test_app_name_is_escaped_in_the_page() -> None:
    evil = Renderer(Settings(name="<script>alert(1)</script>"), "v1")
    page = evil.page("chat.html", transcript=Transcript(), base="", chat_url="/chat/c1")
    plain = RENDERER.page("chat.html", transcript=Transcript(), base="", chat_url="/chat/c1")
    assert page.count("<script") == plain.count("<script")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


# -- XSS through every field that reaches the page ---------------------------------------


@pytest.mark.parametrize("payload", PAYLOADS)
def test_messages_render_payloads_inert(payload: str) -> None:
    for type_ in ("assistant_message", "user_message", "error", "system_message"):
        for streaming in (False, True):
            assert_inert(RENDERER.message(message(payload, type_=type_, streaming=streaming), ""))
            assert_inert(RENDERER.message(message("x", author=payload, type_=type_), ""))
    assert_inert(RENDERER.message(message("x", language=payload), ""))
    assert_inert(RENDERER.message(message(payload, language="html"), ""))
    assert_inert(RENDERER.message(message(payload, id_=payload), ""))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_steps_render_payloads_inert(payload: str) -> None:
    transcript = Transcript()
    for data in [
        step(name=payload),
        step(input=payload, show_input="json"),
        step(input=payload, show_input=payload),
        step(input="x", show_input=True, output=payload),
        step(output=payload, language=payload),
        step(output=payload, status="failed"),
        step(payload),
    ]:
        assert_inert(RENDERER.step(data, transcript, ""))


@pytest.mark.parametrize("payload", PAYLOADS)
def test_stream_chunks_carry_payloads_inert(payload: str) -> None:
    view = view_of()
    feeder = Feeder(view)
    chunks: list[Chunk] = []
    live = message("", streaming=True)
    chunks += feeder.feed(0.0, MessageEvent(live), StepEvent(step(name=payload)))
    for i, token in enumerate([payload, " and ", payload]):
        chunks += feeder.feed(i * 1.0, TokenEvent("m1", token), TokenEvent("s1", token))
    chunks += view.due(10.0)
    chunks += feeder.feed(
        11.0,
        MessageEvent(message(payload, author=payload)),
        MessageEvent(message(payload, id_="u", type_="user_message")),
        MessageEvent(message(payload, id_="e", type_="error")),
        StepEvent(step("s2", name=payload, parent_id="s1", output=payload)),
        RemoveEvent("s1"),
    )
    for chunk in chunks:
        if chunk.event is None:
            assert_inert(chunk.data)
        else:
            # Streamed text travels as text: the page inserts it as a text node.
            assert chunk.event == "tok"
            target, _, text = chunk.data.partition("\n")
            assert target in ("msg-m1-raw", "step-s1-output")
            assert text in (payload, " and ")


@pytest.mark.parametrize("hostile", ['x" onmouseover="alert(1)', "x'><img src=x onerror=alert(1)>"])
def test_hostile_ids_cannot_inject_markup(hostile: str) -> None:
    view = view_of()
    feeder = Feeder(view)
    chunks = feeder.feed(
        0.0,
        MessageEvent(message("a", id_=hostile, streaming=True)),
        StepEvent(step(hostile + "s")),
        StepEvent(step("child", parent_id=hostile + "s")),
    )
    chunks += feeder.feed(1.0, TokenEvent(hostile, "b\n\nc"))
    chunks += view.due(5.0)
    chunks += feeder.feed(
        6.0,
        MessageEvent(message("done", id_=hostile)),
        StepEvent(step(hostile + "s", status="done")),
        RemoveEvent(hostile + "s"),
        RemoveEvent(hostile),
    )
    for chunk in chunks:
        if chunk.event is None:
            assert_inert(chunk.data)


# -- StreamView -----------------------------------------------------------------------------


def test_tokens_become_tok_chunks_with_plain_text() -> None:
    view = view_of(MessageEvent(message("Hi", streaming=True)), StepEvent(step()))
    view.feed([Entry(3, TokenEvent("m1", "!"))], 0.0)  # first render, after the reset
    chunks = view.feed([Entry(4, TokenEvent("m1", " <b>x</b> & y"))], 0.01)
    # A message's text names no log position: a page that reconnects has it drawn again.
    assert chunks == [Chunk("msg-m1-raw\n <b>x</b> & y", "tok", 4, marked=False)]
    chunks = view.feed([Entry(5, TokenEvent("s1", "out <i>"))], 0.02)
    assert chunks == [Chunk("step-s1-output\nout <i>", "tok", 5)]
    assert view.next_deadline() == pytest.approx(INTERVAL)


def test_tokens_for_a_finished_message_rerender_it() -> None:
    view = view_of(MessageEvent(message("Done")))
    chunks = view.feed([Entry(2, TokenEvent("m1", " **more**"))], 0.0)
    ((target, swap, content),) = partials(chunks)
    assert (target, swap) == ("msg-m1", "outerMorph")
    assert "Done <strong>more</strong>" in content


def test_rerender_happens_at_most_once_per_interval() -> None:
    view = view_of()
    feeder = Feeder(view)
    feeder.feed(0.0, MessageEvent(message("", streaming=True)))
    render_times: list[float] = []
    now = 0.0
    for i in range(200):
        now = i * 0.01
        chunks = feeder.feed(now, TokenEvent("m1", f"*word{i}* "))
        if any(t == "msg-m1-tail" for t, _, _ in partials(chunks)):
            render_times.append(now)
        deadline = view.next_deadline()
        if deadline is not None:
            assert deadline >= now
    gaps = [b - a for a, b in itertools.pairwise(render_times)]
    assert len(render_times) >= 5  # it does re-render while streaming...
    assert len(render_times) <= 2 / INTERVAL + 1  # ...but not per token
    assert all(gap >= INTERVAL - 1e-9 for gap in gaps)
    # Nothing is due right after a render; the pending text is rendered once its time comes.
    assert view.due(now) == []
    late = view.due(now + INTERVAL)
    assert [t for t, _, _ in partials(late)] in ([], ["msg-m1-tail"])
    assert view.next_deadline() is None  # nothing left pending: no busy loop


def test_a_growing_block_is_re_sent_a_bounded_number_of_times() -> None:
    view = view_of()
    feeder = Feeder(view)
    feeder.feed(0.0, MessageEvent(message("", streaming=True)))
    tail_bytes = 0
    text = ""
    for i in range(400):  # one long paragraph, a token every interval: the worst case
        token = f"word{i} "
        text += token
        chunks = feeder.feed(i * INTERVAL, TokenEvent("m1", token))
        tail_bytes += sum(len(c) for t, _, c in partials(chunks) if t == "msg-m1-tail")
    # Re-rendering the whole paragraph every interval would send ~200x its size.
    assert tail_bytes < 4 * len(text)


class Page:
    """Just enough of the browser to apply a streaming message's chunks."""

    def __init__(self, message_id: str) -> None:
        self.id = message_id
        self.blocks = ""
        self.tail = ""
        self.raw = ""
        self.block_appends: list[str] = []
        self.html_bytes = 0

    def apply(self, chunks: list[Chunk]) -> None:
        mid = self.id
        raw = f'<span id="msg-{mid}-raw" class="lc-raw"></span>'
        for chunk in chunks:
            if chunk.event == "tok":
                target, _, text = chunk.data.partition("\n")
                assert target == f"msg-{mid}-raw"
                assert not chunk.marked  # a reconnect draws the message again instead
                self.raw += text
                continue
            self.html_bytes += len(chunk.data.encode())
            for target, swap, content in PARTIAL.findall(chunk.data):
                if target == f"msg-{mid}-blocks":
                    if swap == "innerHTML":
                        self.blocks = content
                    else:
                        assert swap == "beforeend"
                        self.blocks += content
                        self.block_appends.append(content)
                elif target == f"msg-{mid}-tail":
                    assert swap == "innerMorph"
                    # The streamed text goes on in the last paragraph, or after the tail.
                    assert content.count(raw) == 1
                    assert content.endswith((raw, f"{raw}</p>\n"))
                    self.tail = content
                    self.raw = ""
                elif target == "lc-log" and swap == "beforeend":
                    found = re.search(
                        rf'<div id="msg-{mid}-blocks">(.*?)</div>\s*<div id="msg-{mid}-tail">'
                        r'(.*)</div>\s*</div>\s*<div class="lc-tools">',
                        content,
                        re.S,
                    )
                    assert found is not None
                    self.blocks, self.tail = found.group(1), found.group(2)
                    assert raw in self.tail

    @property
    def markup(self) -> str:
        """The message's HTML, without the text streamed since its last render."""
        raw = f'<span id="msg-{self.id}-raw" class="lc-raw"></span>'
        return self.blocks + self.tail.replace(raw, "")

    @property
    def shown(self) -> str:
        """What the reader sees: the HTML with the streamed text in its place."""
        raw = f'<span id="msg-{self.id}-raw" class="lc-raw"></span>'
        escaped = self.raw.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        return self.blocks + self.tail.replace(raw, escaped.replace('"', "&quot;"))


STREAMED_DOCUMENTS = [
    "\n\n".join(f"Paragraph number {i} says *something* short." for i in range(30)),
    "# Title\n\nIntro with `code`.\n\n- one\n- two\n- three\n\n```python\ndef f(x):\n"
    "    return x < 1\n```\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n> quote\n\nThe end.",
    "Unfinished fence:\n\n```\nline one\n\nline two",
]


@pytest.mark.parametrize("text", STREAMED_DOCUMENTS)
def test_streamed_markdown_ends_as_the_full_render(text: str) -> None:
    view = view_of()
    feeder = Feeder(view)
    page = Page("m1")
    tokens = tokenize(text)
    page.apply(feeder.feed(0.0, MessageEvent(message(tokens[0], streaming=True))))
    now = 0.0
    for i, token in enumerate(tokens[1:], start=1):
        now = i * 0.02
        page.apply(feeder.feed(now, TokenEvent("m1", token)))
        # What the reader sees is always the text so far, as rendered blocks plus raw text.
        assert page.raw == "" or text[: sum(map(len, tokens[: i + 1]))].endswith(page.raw)
    page.apply(view.due(now + INTERVAL))
    assert page.shown == render_markdown(text)

    # Each finished block was sent once, appended, and never again.
    for block in page.block_appends:
        assert page.blocks.count(block) == 1
    settled, _, _ = render_split(text)
    assert sum(len(b) for b in page.block_appends) == len(page.blocks)
    assert settled > 0

    # The final message replaces the streaming one with the full render.
    final = feeder.feed(now + 1, MessageEvent(message(text)))
    ((target, swap, content),) = partials(final)
    assert (target, swap) == ("msg-m1", "outerMorph")
    assert render_markdown(text) in content
    assert "data-streaming" not in content
    # Bytes on the wire stay a small multiple of the final HTML.
    if text == STREAMED_DOCUMENTS[0]:
        assert page.html_bytes < 4 * len(content.encode())


def test_plain_text_that_reads_the_same_is_not_sent_again() -> None:
    view = view_of()
    feeder = Feeder(view)
    page = Page("m1")
    page.apply(feeder.feed(0.0, MessageEvent(message("Plain", streaming=True))))
    text = "Plain"
    tails = 0
    for i in range(300):  # one long paragraph of plain words, a token every interval
        token = f" word{i}"
        text += token
        chunks = feeder.feed(i * INTERVAL, TokenEvent("m1", token))
        tails += sum(1 for t, _, _ in partials(chunks) if t == "msg-m1-tail")
        page.apply(chunks)
    # The page's paragraph, with the text streamed into it, is already what a render
    # would show: the paragraph is not sent again.
    assert tails == 0
    assert page.shown == render_markdown(text) == f"<p>{text}</p>\n"

    # A finished paragraph joins the finished blocks at once, and the next one starts plain.
    now = 300 * INTERVAL
    page.apply(feeder.feed(now, TokenEvent("m1", "\n\nNext")))
    page.apply(view.due(now + INTERVAL))
    assert page.blocks == render_markdown(text)
    assert page.shown == render_markdown(text + "\n\nNext")
    text += "\n\nNext"
    now += 2 * INTERVAL
    sent = feeder.feed(now, TokenEvent("m1", " and on"))
    sent += view.due(now + INTERVAL)
    assert partials(sent) == []
    page.apply(sent)
    text += " and on"
    assert page.shown.endswith("</p>\n<p>Next and on</p>\n")

    # Markdown that changes how the text reads is sent at the next render (due once the
    # unrendered text is half the rendered paragraph).
    text += " **bold** & <b>"
    page.apply(feeder.feed(now + 2 * INTERVAL, TokenEvent("m1", " **bold** & <b>")))
    while page.raw:
        assert len(page.raw) < len(text)
        now += INTERVAL
        page.apply(feeder.feed(now + 2 * INTERVAL, TokenEvent("m1", " more")))
        text += " more"
    assert page.shown == page.markup == render_markdown(text)
    assert "<strong>bold</strong> &amp; &lt;b&gt;" in page.markup


def test_words_streamed_with_their_trailing_space_stay_apart() -> None:
    view = view_of()
    feeder = Feeder(view)
    page = Page("m1")
    page.apply(feeder.feed(0.0, MessageEvent(message("Sync ", streaming=True))))
    words = ["Sync"]
    for i in range(60):
        words.append(f"w{i}")
        page.apply(feeder.feed(i * INTERVAL, TokenEvent("m1", f"w{i} ")))
        assert re.sub(r"<[^>]+>", " ", page.shown).split() == words


@pytest.mark.parametrize("text", STREAMED_DOCUMENTS)
def test_a_page_that_reconnects_mid_message_sees_each_word_once(text: str) -> None:
    tokens = tokenize(text)
    events: list[Event] = [MessageEvent(message(tokens[0], streaming=True))]
    events += [TokenEvent("m1", token) for token in tokens[1:]]
    for cut in range(1, len(events), 7):
        # The page showed the log up to ``cut`` (its last id); a new stream goes on from there.
        view = view_of(*events[:cut])
        page = Page("m1")
        drawn = RENDERER.message(view.transcript.items["m1"], "")  # type: ignore[arg-type]
        page.apply(
            [
                Chunk(
                    f'<hx-partial hx-target="#lc-log" hx-swap="beforeend">{drawn}</hx-partial>',
                    None,
                    cut,
                )
            ]
        )
        feeder = Feeder(view)
        now = 0.0
        for event in events[cut:]:
            now += 0.02
            page.apply(feeder.feed(now, event))
        page.apply(view.due(now + INTERVAL))
        assert page.shown == render_markdown(text), cut


def test_paragraphs_are_appended_once_each() -> None:
    text = STREAMED_DOCUMENTS[0]
    view = view_of()
    feeder = Feeder(view)
    sent: list[tuple[str, str, str]] = []
    for i, token in enumerate(tokenize(text)):
        event: Event = (
            MessageEvent(message(token, streaming=True)) if i == 0 else TokenEvent("m1", token)
        )
        sent += partials(feeder.feed(i * 0.02, event))
    sent += partials(view.due(100.0))
    appended = "".join(c for t, s, c in sent if t == "msg-m1-blocks" and s == "beforeend")
    assert all(s == "beforeend" for t, s, _ in sent if t == "msg-m1-blocks")
    for i in range(29):  # the last paragraph is still the tail
        assert appended.count(f"<p>Paragraph number {i} says") == 1


def test_a_view_started_mid_stream_resets_on_its_first_render() -> None:
    view = view_of(MessageEvent(message("First block.\n\nSecond so far", streaming=True)))
    chunks = view.feed([Entry(2, TokenEvent("m1", " and more"))], 0.0)
    # The page may have had the text already (it reconnected after it): it is not sent
    # as text, only in the message drawn as it stands.
    assert all(chunk.event is None for chunk in chunks)
    found = partials(chunks)
    assert found[0] == ("msg-m1-blocks", "innerHTML", "<p>First block.</p>\n")
    assert found[1][0:2] == ("msg-m1-tail", "innerMorph")
    assert found[1][2].startswith("<p>Second so far and more<span")

    # A view that showed the message itself continues from it: no reset, appends only.
    fresh = view_of()
    feeder = Feeder(fresh)
    feeder.feed(0.0, MessageEvent(message("First block.\n\nSecond so far", streaming=True)))
    later = partials(feeder.feed(1.0, TokenEvent("m1", " and more\n\nThird")))
    assert ("msg-m1-blocks", "beforeend", "<p>Second so far and more</p>\n") in later
    assert all(swap != "innerHTML" for _, swap, _ in later)


def test_new_and_changed_items_target_the_right_place() -> None:
    view = view_of()
    feeder = Feeder(view)
    found = partials(
        feeder.feed(
            0.0,
            MessageEvent(message("hello")),
            StepEvent(step("outer")),
            StepEvent(step("inner", parent_id="outer")),
            StepEvent(step("under-message", parent_id="m1")),
            MessageEvent(message("hello again")),
            StepEvent(step("inner", parent_id="outer", status="done")),
            RemoveEvent("outer"),
            RemoveEvent("never-shown"),
            RunEvent(running=True),
        )
    )
    assert [(t, s) for t, s, _ in found] == [
        ("lc-log", "beforeend"),
        ("lc-log", "beforeend"),
        ("step-outer-children", "beforeend"),
        ("lc-log", "beforeend"),
        ("msg-m1", "outerMorph"),
        ("step-inner", "outerMorph"),
        ("step-outer", "delete"),
        ("lc-controls", "innerHTML"),
    ]
    assert "lc-stop" in found[-1][2]
    assert set(view.transcript.items) == {"m1", "under-message"}


def test_merge_joins_neighbouring_chunks() -> None:
    ops = [
        Chunk("<a1>", None, 1),
        Chunk("<a2>", None, 2),
        Chunk("msg-x-raw\nhel", "tok", 3),
        Chunk("msg-x-raw\nlo", "tok", 4),
        Chunk("step-y-output\nout", "tok", 5),
        Chunk("<b>", None, 6),
        Chunk("msg-x-raw\n!", "tok", 7),
    ]
    assert _merge(ops) == [
        Chunk("<a1><a2>", None, 2),
        Chunk("msg-x-raw\nhello", "tok", 4),
        Chunk("step-y-output\nout", "tok", 5),
        Chunk("<b>", None, 6),
        Chunk("msg-x-raw\n!", "tok", 7),
    ]
    assert _merge([]) == []


def test_merge_keeps_a_partial_apart_from_the_one_creating_its_target() -> None:
    # htmx resolves every target of an event before swapping: a partial aimed at an element
    # that the previous partial creates must travel in an event of its own.
    view = view_of()
    chunks = Feeder(view).feed(
        0.0, StepEvent(step("outer")), StepEvent(step("inner", parent_id="outer"))
    )
    assert [[t for t, _, _ in partials([c])] for c in chunks] == [
        ["lc-log"],
        ["step-outer-children"],
    ]


def test_feed_merges_a_batch_into_few_events() -> None:
    view = view_of(MessageEvent(message("", streaming=True)))
    view.feed([Entry(2, TokenEvent("m1", "a"))], 0.0)
    chunks = view.feed([Entry(i, TokenEvent("m1", str(i))) for i in range(3, 8)], 0.01)
    assert chunks == [Chunk("msg-m1-raw\n34567", "tok", 7, marked=False)]
