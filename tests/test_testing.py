"""FakeModel, the scripted model that app authors test with: replies, token streams, tool
calls, errors and delays."""

from __future__ import annotations

import asyncio

import pytest

from lightchat.testing import FakeModel, ModelError, ModelReply, ToolCall, tokenize


@pytest.mark.parametrize(
    "text", ["", "one", "Hello **there**, you!\n\n```py\nx = 1\n```\n", "  lead and trail  "]
)
def test_tokens_join_back_to_the_text(text: str) -> None:
    assert "".join(tokenize(text)) == text


def test_replies_come_in_turn_and_the_last_repeats() -> None:
    model = FakeModel(["first", lambda prompt: f"echo {prompt}"])
    assert model.complete("a") == "first"
    assert model.complete("b") == "echo b"
    assert "".join(model.tokens("c")) == "echo c"
    assert model.prompts == ["a", "b", "c"]


@pytest.mark.anyio
async def test_stream_yields_the_reply_token_by_token() -> None:
    model = FakeModel(["Hello big world"], delay=0.001)
    tokens = [token async for token in model.stream("hi")]
    assert tokens == ["Hello", " big", " world"]
    assert model.prompts == ["hi"]


def test_a_model_needs_a_reply() -> None:
    with pytest.raises(ValueError, match="at least one reply"):
        FakeModel([])


def test_a_reply_is_text_pieces_tool_calls_or_an_error() -> None:
    calls = [ToolCall("search", {"q": "bees"}), ToolCall("weather", '{"city": "Oslo"}', id="c9")]
    model = FakeModel(
        [
            ModelReply(["Hel", "lo"]),
            calls[0],
            calls,
            lambda prompt: ModelReply(f"About {prompt}", tool_calls=[calls[1]]),
        ]
    )
    first = model.next_reply("a")
    assert (first.pieces, first.content, first.tool_calls) == (["Hel", "lo"], "Hello", ())
    assert model.next_reply("b").tool_calls == (calls[0],)
    assert model.next_reply("c").tool_calls == tuple(calls)
    last = model.next_reply("bees")
    assert (last.content, last.pieces) == ("About bees", ["About", " bees"])
    assert [c.arguments_json for c in calls] == ['{"q": "bees"}', '{"city": "Oslo"}']
    with pytest.raises(TypeError, match="not 42"):
        FakeModel([42]).next_reply("x")  # type: ignore[list-item]
    with pytest.raises(TypeError, match="list of replies"):
        FakeModel("hello")
    with pytest.raises(ValueError, match="fail_after needs an error"):
        ModelReply("x", fail_after=1)


@pytest.mark.anyio
async def test_errors_fail_the_call_at_once_or_mid_stream() -> None:
    model = FakeModel(
        [
            ModelReply(error="Rate limit reached", status=429),
            TimeoutError("too slow"),
            ConnectionError,
            ModelReply("one two three", error="cut", fail_after=2),
        ]
    )
    with pytest.raises(ModelError, match="Rate limit reached") as refused:
        model.complete("a")
    assert refused.value.status == 429
    with pytest.raises(TimeoutError, match="too slow"):
        await model.respond("b")
    with pytest.raises(ConnectionError):
        [token async for token in model.stream("c")]
    got: list[str] = []

    async def read_stream() -> None:
        async for token in model.stream("d"):
            got.append(token)

    with pytest.raises(ModelError, match="cut"):
        await read_stream()
    assert got == ["one", " two"]  # the stream broke off after two pieces
    tokens = model.tokens("e")  # the same, without pauses
    assert [next(tokens), next(tokens)] == ["one", " two"]
    with pytest.raises(ModelError, match="cut"):
        next(tokens)
    assert model.prompts == ["a", "b", "c", "d", "e"]


@pytest.mark.anyio
async def test_delays_pace_the_stream_and_whole_answers() -> None:
    loop = asyncio.get_running_loop()
    model = FakeModel(["a b c", ModelReply("d e", delay=0.02)], delay=0.01)
    began = loop.time()
    whole = await model.respond("x")  # as long as its three tokens would take
    assert whole.content == "a b c"
    assert loop.time() - began >= 0.03
    began = loop.time()
    assert await model.acomplete("y") == "d e"  # its own delay
    assert loop.time() - began >= 0.04
    assert model.pause_of(ModelReply("z")) == 0.01
