"""The rules behind the history's UI: feedback toggling, names, tags and metadata, deleting
files, ending a chat, and how the feedback controls render (page and stream)."""

from __future__ import annotations

import asyncio
import html
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from lightchat import LightChat, Settings
from lightchat.bus import MemoryBus
from lightchat.chat.chats import Chats
from lightchat.chat.history import History
from lightchat.chat.threads import (
    MAX_METADATA_BYTES,
    MAX_NAME_CHARS,
    Feedback,
    clean_name,
    feedback_after,
    thread_fields,
)
from lightchat.domain.events import AskData, Entry, MessageData, MessageEvent, RunEvent
from lightchat.domain.transcript import Transcript
from lightchat.store import ElementRecord, LocalFileStorage, ThreadFields
from lightchat.ui.render import Renderer
from lightchat.ui.stream_view import StreamView

# -- feedback -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "value", "comment", "after"),
    [
        (None, 1, None, Feedback(1)),
        (None, 0, None, Feedback(0)),
        (Feedback(1), 1, None, None),  # the same again takes it back
        (Feedback(0, "meh"), 0, None, None),
        (Feedback(1, "kept"), 0, None, Feedback(0, "kept")),  # the other replaces it
        (Feedback(1), None, "why", Feedback(1, "why")),  # a comment alone
        (Feedback(0, "old"), None, "", Feedback(0, None)),  # an empty comment clears it
    ],
)
def test_feedback_after(
    current: Feedback | None, value: int | None, comment: str | None, after: Feedback | None
) -> None:
    assert feedback_after(current, value=value, comment=comment) == after


def test_a_comment_needs_a_verdict() -> None:
    with pytest.raises(ValueError, match="Choose Helpful or Not helpful"):
        feedback_after(None, value=None, comment="hi")


# -- names ----------------------------------------------------------------------------------


def test_clean_name() -> None:
    assert clean_name("  a\n\tb  c ") == "a b c"
    assert clean_name("x" * MAX_NAME_CHARS) == "x" * MAX_NAME_CHARS
    for blank in ("", "   ", "\n\t"):
        with pytest.raises(ValueError, match="Give the chat a name"):
            clean_name(blank)
    with pytest.raises(ValueError, match=f"limit is {MAX_NAME_CHARS}"):
        clean_name("x" * (MAX_NAME_CHARS + 1))


# -- tags and metadata ----------------------------------------------------------------------


def test_thread_fields_keep_tags_and_the_json_state() -> None:
    state = {"items": [1, 2]}
    data: dict[Any, Any] = {  # a key that is no str too, as Python code may put one
        "id": "s1",
        "env": {"OPENAI_API_KEY": "sk-..."},
        "user": None,
        "tags": ("a", 2),
        "chat_profile": "GPT",
        "state": state,
        "client": object(),
        "nan": float("nan"),
        3: "not a str key",
    }
    tags, metadata = thread_fields(data)
    assert tags == ["a", "2"]
    assert metadata == {"chat_profile": "GPT", "state": {"items": [1, 2]}}
    state["items"].append(3)  # a copy was kept
    assert metadata["state"] == {"items": [1, 2]}
    assert thread_fields({"tags": "not-a-list"}) == (None, {})


def test_thread_fields_stop_at_the_size_limit() -> None:
    big = "x" * (MAX_METADATA_BYTES // 2)
    _, metadata = thread_fields({"a": big, "b": big, "c": "small"})
    assert set(metadata) == {"a", "c"}


async def _history(tmp_path: Path) -> History:
    history = History("", str(tmp_path))
    await history.start()
    assert await history.wait_ready()
    return history


@pytest.mark.anyio
@pytest.mark.timeout(10)
async def test_tags_are_written_once_per_change_and_never_make_an_empty_thread(
    tmp_path: Path,
) -> None:
    history = await _history(tmp_path)
    store = history._store
    assert store is not None
    updates: list[str] = []
    one, many = store.update_thread, store.update_threads  # type: ignore[attr-defined]

    async def counting(thread_id: str, **kwargs: object) -> object:
        updates.append(thread_id)
        return await one(thread_id, **kwargs)  # type: ignore[arg-type]

    async def counting_many(fields: list[ThreadFields]) -> None:
        updates.extend(given.thread_id for given in fields)
        await many(fields)

    store.update_thread = counting  # type: ignore[method-assign,assignment]
    store.update_threads = counting_many  # type: ignore[attr-defined]
    try:
        async with asyncio.timeout(5):
            history.note_session("b", "empty", {"tags": ["x"]})
            await history.flush()
            assert await store.get_thread("empty", owner=None) is None

            answer = MessageData(id="m1", author="Bot", type="assistant_message", content="hi")
            history.observe("b", "t1", Entry(1, MessageEvent(answer)))
            history.note_session("b", "t1", {"tags": ["x"], "n": 1})
            await history.flush()
            history.note_session("b", "t1", {"tags": ["x"], "n": 1})  # unchanged: no write
            await history.flush()
            history.note_session("b", "t1", {"tags": ["x", "y"], "n": 2})
            await history.flush()
            thread = await store.get_thread("t1", owner="b")
        assert thread is not None
        assert (thread.tags, thread.meta) == (["x", "y"], {"n": 2})
        assert updates == ["t1", "t1"]
    finally:
        await history.close()


@pytest.mark.anyio
@pytest.mark.timeout(10)
async def test_the_fields_of_many_chats_go_in_one_write_with_their_clients(
    tmp_path: Path,
) -> None:
    history = await _history(tmp_path)
    store = history._store
    assert store is not None
    calls: list[list[ThreadFields]] = []
    many = store.update_threads  # type: ignore[attr-defined]

    async def counting(fields: list[ThreadFields]) -> None:
        calls.append(list(fields))
        await many(fields)

    store.update_threads = counting  # type: ignore[attr-defined]
    try:
        async with asyncio.timeout(5):
            for chat in ("c1", "c2", "c3"):
                answer = MessageData(id=f"m-{chat}", author="Bot", type="assistant_message")
                history.observe("b", chat, Entry(1, MessageEvent(answer)))
            await history.flush()
            for chat in ("c1", "c2", "c3"):
                history.note_session("b", chat, {"tags": [chat]}, client_type="webapp")
            history.note_session("b", "c3", {"tags": ["c3"]}, name="Named", client_type="copilot")
            await history.flush()
            history.note_session("b", "c1", {"tags": ["c1"]}, client_type="webapp")  # as kept
            history.note_session("b", "c2", {"tags": ["c2"]}, client_type="slack")  # moved
            await history.flush()
            threads = {c: await store.get_thread(c, owner="b") for c in ("c1", "c2", "c3")}
        assert [len(fields) for fields in calls] == [3, 1]
        assert calls[1] == [ThreadFields("c2", "b", client_type="slack")]  # the client alone
        assert {c: (t.name, t.tags, t.client_type) for c, t in threads.items() if t} == {
            "c1": (None, ["c1"], "webapp"),
            "c2": (None, ["c2"], "slack"),
            "c3": ("Named", ["c3"], "copilot"),
        }
    finally:
        await history.close()


@pytest.mark.anyio
@pytest.mark.timeout(10)
async def test_deleting_a_thread_deletes_its_files(tmp_path: Path) -> None:
    history = await _history(tmp_path)
    store = history._store
    assert store is not None
    history.files = LocalFileStorage(tmp_path / "files")
    try:
        async with asyncio.timeout(5):
            answer = MessageData(id="m1", author="Bot", type="assistant_message", content="hi")
            history.observe("b", "t1", Entry(1, MessageEvent(answer)))
            await history.flush()
            kept = await history.files.put(b"png", name="map.png", mime="image/png")
            element = ElementRecord(thread_id="t1", for_id="m1", storage_key=kept.key)
            await store.create_element(element, owner="b")
            path = history.files.path(kept.key)
            assert path.exists()
            assert await history.delete("t1", "someone-else") is False
            assert path.exists()
            assert await history.delete("t1", "b") is True
            assert not path.exists()
            assert await history.load("t1", "b") is None
            assert await history.delete("t1", "b") is False
    finally:
        await history.close()


@pytest.mark.anyio
@pytest.mark.timeout(10)
async def test_ending_one_chat(tmp_path: Path) -> None:
    chats = Chats(LightChat(), MemoryBus(), Settings())
    session = chats.create("b")
    async with asyncio.timeout(5):
        assert await chats.end(session.id, "intruder") is False
        assert not session.closed
        assert await chats.end(session.id, "b") is True
        assert session.closed
        assert chats.get(session.id, "b") is None
        assert await chats.end(session.id, "b") is False


# -- rendering the controls -----------------------------------------------------------------


def renderer(feedback: bool = True) -> Renderer:
    made = Renderer(Settings(name="Bot"), "v1")
    made.feedback = feedback
    return made


def answer(id_: str = "m1", streaming: bool = False) -> MessageData:
    return MessageData(
        id=id_, author="Bot", type="assistant_message", content="hi", streaming=streaming
    )


def test_feedback_shows_on_finished_answers_only() -> None:
    on = renderer()
    finished = on.message(answer(), "", "/chat/c1")
    assert (
        '<form class="lc-feedback-verdict" method="post" action="/chat/c1/feedback/m1"' in finished
    )
    assert finished.count('aria-pressed="false"') == 2
    assert '<span class="lc-sr">Helpful</span></button>' in finished
    assert '<span class="lc-sr">Not helpful</span></button>' in finished
    assert "aria-pressed" not in on.message(answer(streaming=True), "", "/chat/c1")
    user = MessageData(id="u", author="You", type="user_message", content="q")
    assert "aria-pressed" not in on.message(user, "", "/chat/c1")
    assert "aria-pressed" not in on.message(answer(), "")  # no chat to post to
    assert "aria-pressed" not in renderer(feedback=False).message(answer(), "", "/chat/c1")
    question = replace(answer(), ask=AskData(kind="text"))
    assert "aria-pressed" not in on.message(question, "", "/chat/c1")  # a waiting question


def test_the_stream_sends_the_buttons_when_the_answer_finishes() -> None:
    on = renderer()
    view = StreamView(on, Transcript(), base="", chat_url="/chat/c1", interval=0.1)
    started = view.feed([Entry(1, MessageEvent(answer(streaming=True)))], 0.0)
    assert all("aria-pressed" not in chunk.data for chunk in started)
    finished = view.feed([Entry(2, MessageEvent(answer())), Entry(3, RunEvent(False))], 1.0)
    sent = "".join(chunk.data for chunk in finished)
    assert 'action="/chat/c1/feedback/m1"' in sent
    assert sent.count('aria-pressed="false"') == 2


def test_given_feedback_shows_pressed_with_its_comment() -> None:
    page = renderer().page(
        "chat.html",
        transcript=Transcript.from_entries([Entry(1, MessageEvent(answer()))]),
        base="",
        chat_url="/chat/c1",
        feedback={"m1": Feedback(0, 'too "short" <really>')},
    )
    assert 'value="0" title="Not helpful" aria-pressed="true">' in page
    assert 'value="1" title="Helpful" aria-pressed="false">' in page
    assert 'aria-label="Feedback comment"' in page
    assert 'value="too &#34;short&#34; &lt;really&gt;"' in page


@pytest.mark.parametrize("hostile", ['x" onclick="alert(1)', "a/b?c#d", "<img src=x>", "../../x"])
def test_hostile_message_ids_stay_in_their_attribute_and_path_segment(hostile: str) -> None:
    markup = renderer().message(answer(hostile), "", "/chat/c1", last_answer_id=hostile)
    actions = re.findall(r'(?:action|hx-post)="([^"]*)"', markup)
    assert len(actions) == 4  # feedback and regenerate, each as action= and hx-post=
    for action in actions:
        path = html.unescape(action)
        segment = path.removeprefix("/chat/c1/feedback/").removeprefix("/chat/c1/messages/")
        assert segment != path
        assert "/" not in segment.removesuffix("/regenerate")
        assert not set('?#<>"') & set(path)
    assert "<img" not in markup
    assert 'onclick="alert' not in markup
