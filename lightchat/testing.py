"""Helpers for testing chat apps: a scripted stand-in for a language model.

Example::

    from lightchat.testing import FakeModel

    model = FakeModel(["Hello **there**!", lambda prompt: f"You said {prompt}"])

    @cl.on_message
    async def main(message):
        reply = cl.Message(content="")
        async for token in model.stream(message.content):
            await reply.stream_token(token)
        await reply.send()
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterator, Sequence

Reply = str | Callable[[str], str]

_TOKEN = re.compile(r"\s*\S+|\s+")


def tokenize(text: str) -> list[str]:
    """Split text into word-sized tokens that join back to exactly the text."""
    return _TOKEN.findall(text)


class FakeModel:
    """Streams scripted replies, in turn (the last one repeats), token by token.

    A reply is a string, or a function of the prompt that returns one. ``delay`` is the
    pause between tokens in seconds. ``prompts`` records what the model was asked.
    """

    def __init__(self, replies: Sequence[Reply] = ("OK",), delay: float = 0.0) -> None:
        if not replies:
            raise ValueError("FakeModel needs at least one reply.")
        self.replies = list(replies)
        self.delay = delay
        self.prompts: list[str] = []

    def _next(self, prompt: str) -> str:
        index = min(len(self.prompts), len(self.replies) - 1)
        self.prompts.append(prompt)
        reply = self.replies[index]
        return reply(prompt) if callable(reply) else reply

    def complete(self, prompt: str) -> str:
        """The next reply, whole."""
        return self._next(prompt)

    def tokens(self, prompt: str) -> Iterator[str]:
        """The next reply as tokens, without pauses (for sync code)."""
        yield from tokenize(self._next(prompt))

    async def stream(self, prompt: str) -> AsyncIterator[str]:
        """The next reply as tokens, ``delay`` seconds apart."""
        for token in tokenize(self._next(prompt)):
            if self.delay:
                await asyncio.sleep(self.delay)
            yield token
