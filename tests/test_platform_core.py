"""What the chat platforms share: which platforms are on, what a message becomes on them,
and a clear error when a platform's extra is missing."""

from __future__ import annotations

import sys

import pytest

from lightchat.domain.events import ActionData, AskData, ElementData, MessageData
from lightchat.errors import ConfigError
from lightchat.platforms import Platforms, enabled
from lightchat.platforms.core import render, thread_id_for
from lightchat.platforms.discord import chunks
from lightchat.platforms.slack import blocks_of, mrkdwn


def test_a_platform_is_on_when_all_its_variables_are_set() -> None:
    assert enabled({}) == []
    assert enabled({"SLACK_BOT_TOKEN": "x"}) == []
    both = {"SLACK_BOT_TOKEN": "x", "SLACK_SIGNING_SECRET": "y", "DISCORD_BOT_TOKEN": "z"}
    assert enabled(both) == ["slack", "discord"]
    assert enabled({"TEAMS_APP_ID": "a", "TEAMS_APP_PASSWORD": ""}) == []


def test_a_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "lightchat.platforms.slack", raising=False)
    for name in [n for n in sys.modules if n == "slack_bolt" or n.startswith("slack_bolt.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "slack_bolt", None)
    with pytest.raises(ConfigError, match=r"pip install 'lightchat\[slack\]'"):
        Platforms(None, {"SLACK_BOT_TOKEN": "x", "SLACK_SIGNING_SECRET": "y"})


def test_no_platform_no_endpoint() -> None:
    assert Platforms(None, {}).endpoints == {}


def test_conversation_ids_are_stable_and_apart() -> None:
    assert thread_id_for("slack", "T", "C", "1.2") == thread_id_for("slack", "T", "C", "1.2")
    assert thread_id_for("slack", "T", "C", "1.2") != thread_id_for("discord", "T", "C", "1.2")


def test_markdown_becomes_slack_mrkdwn() -> None:
    assert mrkdwn("**bold** and *it* and ~~gone~~") == "*bold* and _it_ and ~gone~"
    assert mrkdwn("[docs](https://example.com)") == "<https://example.com|docs>"
    assert mrkdwn("## Title\ntext") == "*Title*\ntext"
    assert mrkdwn("2 * 3 * 4") == "2 * 3 * 4"


def test_what_a_message_becomes() -> None:
    message = MessageData(
        id="m1",
        author="Assistant",
        type="assistant_message",
        content="Here",
        elements=[
            ElementData(id="e1", kind="image", name="chart", key="k1", mime="image/png"),
            ElementData(id="e2", kind="file", name="site", url="https://example.com/a.pdf"),
            ElementData(id="e3", kind="text", name="notes", content="one\ntwo"),
            ElementData(id="e4", kind="plotly", name="figure"),
        ],
        actions=[ActionData(id="a1", name="more", label="More")],
    )
    out = render(message)
    assert out is not None
    assert [f.id for f in out.files] == ["e1"]
    assert "[site](https://example.com/a.pdf)" in out.text
    assert "**notes**\n```\none\ntwo\n```" in out.text
    assert "_figure_ (shown in the web app)" in out.text
    assert [(b.action_id, b.label) for b in out.buttons] == [("a1", "More")]
    blocks = blocks_of(out)
    assert blocks[-1]["elements"][0]["value"] == "a1"


def test_what_is_not_posted_and_how_questions_read() -> None:
    user = MessageData(id="u", author="Ada", type="user_message", content="hi")
    streaming = MessageData(
        id="s", author="A", type="assistant_message", content="x", streaming=True
    )
    empty = MessageData(id="e", author="A", type="assistant_message")
    assert render(user) is None
    assert render(streaming) is None
    assert render(empty) is None
    ask = MessageData(
        id="q",
        author="A",
        type="assistant_message",
        content="Your CSV?",
        ask=AskData(kind="file", accept=["text/csv"], max_files=2),
    )
    out = render(ask)
    assert out is not None
    assert "Reply with up to 2 file(s) (text/csv)" in out.text


def test_long_text_is_cut_where_platforms_take_it() -> None:
    text = "\n".join(["x" * 900] * 5)
    pieces = chunks(text)
    assert all(len(p) <= 2000 for p in pieces)
    assert "\n".join(pieces) == text
    assert len(chunks("y" * 4500)) == 3
    out = render(MessageData(id="m", author="A", type="assistant_message", content="z" * 7000))
    assert out is not None
    sections = [b for b in blocks_of(out) if b["type"] == "section"]
    assert all(len(b["text"]["text"]) <= 3000 for b in sections)
    assert sum(len(b["text"]["text"]) for b in sections) == 7000
