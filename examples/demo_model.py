"""An offline stand-in for a language model, so the examples run with no key and no network.

It writes a different answer for each question: it picks up the question's words, and
answers with a short explanation, a list, a table or a code block depending on what was
asked. Nothing here is lightchat API; swap it for your real model.
"""

from __future__ import annotations

import hashlib
import re

from lightchat.testing import tokenize

_STOP_WORDS = """
a an the is are was were what how why who when where which do does did can could should
would i you me my your it its of to in on for with and or about please tell explain show
give write make this that
"""
_STOP = frozenset(_STOP_WORDS.split())

_CODE_WORDS = frozenset(
    ["code", "python", "function", "script", "program", "example", "snippet", "implement"]
)
_COMPARE_WORDS = frozenset(["compare", "versus", "vs", "difference", "differences", "table"])
_ADVICE = ["start small", "measure first", "write it down", "ask why twice", "keep it simple"]
_LIST_WORDS = frozenset(["steps", "list", "ideas", "tips", "ways", "how"])


def _keywords(question: str) -> list[str]:
    words = re.findall(r"[A-Za-z][A-Za-z0-9_+-]*", question.lower())
    return [w for w in words if w not in _STOP] or ["that"]


def _pick(options: list[str], seed: str) -> str:
    digest = int(hashlib.sha256(seed.encode()).hexdigest(), 16)
    return options[digest % len(options)]


def answer(question: str, context: str = "") -> str:
    """A markdown answer to ``question`` (``context``: what a tool found)."""
    words = _keywords(question)
    topic = " ".join(words[:3])
    found = set(words)
    opening = _pick(
        [
            f"Good question about **{topic}**.",
            f"Here is how I would think about **{topic}**.",
            f"Let's look at **{topic}** step by step.",
        ],
        question,
    )
    parts = [opening]
    if context:
        parts.append(f"I looked it up first: _{context}_.")
    if found & _CODE_WORDS:
        name = re.sub(r"\W", "_", words[-1])[:20] or "answer"
        parts.append(
            "A small example in Python:\n\n```python\n"
            f"def {name}(items: list[str]) -> dict[str, int]:\n"
            '    """Count how often each item appears."""\n'
            "    counts: dict[str, int] = {}\n"
            "    for item in items:\n"
            "        counts[item] = counts.get(item, 0) + 1\n"
            "    return counts\n\n\n"
            f'print({name}(["{words[0]}", "{words[0]}", "{topic}"]))\n```'
        )
        parts.append("Run it and you will see each word with its count.")
    elif found & _COMPARE_WORDS:
        a, b = [*[w for w in words if w not in _COMPARE_WORDS], "the alternative"][:2]
        parts.append(
            f"| | {a} | {b} |\n|---|---|---|\n| Learning curve | gentle | steeper |\n"
            f"| Best for | quick starts | large systems |\n| Ecosystem | growing | mature |"
        )
    else:
        bullets = "\n".join(
            f"{i}. **{w.capitalize()}**: {_pick(_ADVICE, w)}."
            for i, w in enumerate(words[:4], start=1)
        )
        parts.append(f"A few points worth keeping in mind:\n\n{bullets}")
        parts.append("Ask me for *code* or a *comparison* and I will answer in that shape.")
    return "\n\n".join(parts)


def stream(question: str, context: str = "") -> list[str]:
    """The answer as word-sized tokens."""
    return tokenize(answer(question, context))
