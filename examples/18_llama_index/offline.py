"""Offline stand-ins for the example's models, so it runs with no key and no network.

``WordEmbedding`` embeds a text as the words it uses (hashed into 256 numbers), so a
question finds the documents that share its words. ``ReadingLLM`` answers from the context
LlamaIndex puts in its prompt: the sentences that share the most words with the question,
streamed a word at a time. Nothing here is lightchat API; use a real model instead (see
the README).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import re
from collections.abc import AsyncIterator, Iterator
from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.types import (
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
)
from llama_index.core.llms.callbacks import llm_completion_callback
from llama_index.core.llms.custom import CustomLLM

_STOP_WORDS = """
a an the is are was were what how why who when where which do does did can could of to in on
for with and or about it its their they them there from by at as be this that
"""
_STOP = frozenset(_STOP_WORDS.split())
_SIZE = 256


def words(text: str) -> list[str]:
    """The words of a text that say something (lower case, without the small ones)."""
    return [w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP and len(w) > 2]


def _vector(text: str) -> list[float]:
    vector = [0.0] * _SIZE
    for word in words(text):
        stem = word[:5]  # "bees" and "bee", "makes" and "make" count as one
        vector[int(hashlib.sha256(stem.encode()).hexdigest(), 16) % _SIZE] += 1.0
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    return [x / norm for x in vector]


class WordEmbedding(BaseEmbedding):
    """Texts as the words they use: similar when they share words."""

    @classmethod
    def class_name(cls) -> str:
        return "WordEmbedding"

    def _get_query_embedding(self, query: str) -> list[float]:
        return _vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return _vector(query)

    def _get_text_embedding(self, text: str) -> list[float]:
        return _vector(text)


def answer(prompt: str) -> str:
    """The answer to the query in LlamaIndex's question-answering prompt, read from its
    context: the two sentences sharing the most words with the question, in their order."""
    parts = re.split(r"\n-{5,}\n", prompt)
    context = parts[1] if len(parts) > 2 else prompt
    question = prompt.rpartition("Query:")[2].split("\n", 1)[0]
    asked = {w[:5] for w in words(question)}
    # The documents' text, without their metadata ("file_path: ...") and headings.
    lines = [line for line in context.splitlines() if not re.match(r"^\s*(#|[\w ]+: )", line)]
    sentences = re.split(r"(?<=[.!?])\s+", " ".join(lines))
    scored = [
        (len(asked & {w[:5] for w in words(s)}), i, s.strip()) for i, s in enumerate(sentences)
    ]
    best = sorted(item for item in scored if item[0] > 0)[-2:]
    if not best:
        return "The documents do not say."
    return " ".join(sentence for _, _, sentence in sorted(best, key=lambda item: item[1]))


class ReadingLLM(CustomLLM):
    """A model that answers from the documents in its prompt (see ``answer``), a word
    every ``delay`` seconds when it streams."""

    delay: float = 0.03

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name="reading-model", is_chat_model=False)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=answer(prompt))

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        return CompletionResponse(text=answer(prompt))

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        return _tokens(answer(prompt))

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        async def slowly() -> AsyncIterator[CompletionResponse]:
            for response in _tokens(answer(prompt)):
                await asyncio.sleep(self.delay)
                yield response

        return slowly()


def _tokens(text: str) -> Iterator[CompletionResponse]:
    """A completion streamed a word at a time."""
    so_far = ""
    for word in text.split(" "):
        delta = word if not so_far else " " + word
        so_far += delta
        yield CompletionResponse(text=so_far, delta=delta)
