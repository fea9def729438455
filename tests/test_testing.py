"""FakeModel, the scripted model that app authors test with."""

from __future__ import annotations

import pytest

from lightchat.testing import FakeModel, tokenize


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
