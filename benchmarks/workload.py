"""The benchmark workload, shared by the lightchat app, the baseline app and the client.

One reply is a tool step streaming ``STEP_TOKENS`` tokens, then a message streaming
``MESSAGE_TOKENS`` tokens. Tokens are numbered 0..REPLY_TOKENS-1 across the reply.

- As fast as possible (``pace == 0``): each token is a short word; the producer yields to
  the event loop between tokens (``asyncio.sleep(0)``), as a real model client reading a
  network stream would.
- Paced (``pace > 0`` tokens/s): the producer waits for each token's slot.

Stamped tokens (the default when paced) are `` §<index>.<monotonic_ns>``, the moment each
was emitted. ``time.monotonic_ns()`` is one clock for every process on this machine, so the
client measures true emission-to-receipt latency whatever batching the server does. Plain
tokens are short words, about as long as a language model's tokens.

A paragraph break follows every ``paragraph`` message tokens (0: one long paragraph), and
the last message token ends with ``END_MARK``, which no other token contains.
"""

from __future__ import annotations

import asyncio
import gc
import json
import signal
import time
from pathlib import Path
from typing import Any

STEP_TOKENS = 20
MESSAGE_TOKENS = 200
REPLY_TOKENS = STEP_TOKENS + MESSAGE_TOKENS
END_MARK = "\u220e"  # the end-of-proof sign
MARK = "\u00a7"  # the section sign: starts a paced token, found in no markup
DEFAULT_PARAGRAPH = 40

_WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "while", "tokens"]
_WORDS += ["stream", "into", "the", "page", "and", "every", "reader", "sees", "each", "word"]
_WORDS += ["as", "soon", "as", "the", "model", "writes", "it"]


def token_text(index: int, stamped: bool, paragraph: int) -> str:
    """The text of token ``index`` of a reply (see the module docstring)."""
    text = f" {MARK}{index}.{time.monotonic_ns()}" if stamped else f" {_WORDS[index % len(_WORDS)]}"
    message_index = index - STEP_TOKENS
    if index == REPLY_TOKENS - 1:
        text += f" {END_MARK}"
    elif message_index >= 0 and paragraph and (message_index + 1) % paragraph == 0:
        text += "\n\n"
    return text


class Pacer:
    """Waits before each token: a bare yield, or until its slot at ``pace`` tokens/s."""

    def __init__(self, pace: float) -> None:
        self.pace = pace
        self.start = time.monotonic()

    async def wait(self, index: int) -> None:
        """Wait until token ``index`` is due."""
        if self.pace <= 0:
            await asyncio.sleep(0)
            return
        delay = self.start + index / self.pace - time.monotonic()
        await asyncio.sleep(max(delay, 0.0))


def log_gc(path: str) -> None:
    """Time the garbage collector in this process; write the totals to ``path`` on SIGUSR1.

    The benchmark apps call this when ``BENCH_GC_LOG`` names a file, so the load benchmarks
    can say how much of the server's CPU time went to collecting garbage. (Not at exit:
    uvicorn re-raises SIGTERM after its shutdown, so ``atexit`` never runs.)
    """
    totals = {"collections": [0, 0, 0], "seconds": [0.0, 0.0, 0.0], "max_pause_s": 0.0}
    started = [0.0]

    def measure(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
            return
        elapsed = time.perf_counter() - started[0]
        generation = info["generation"]
        totals["collections"][generation] += 1
        totals["seconds"][generation] += elapsed
        totals["max_pause_s"] = max(totals["max_pause_s"], elapsed)

    def write(signum: int, frame: Any) -> None:
        Path(path).write_text(json.dumps(totals))

    gc.callbacks.append(measure)
    signal.signal(signal.SIGUSR1, write)
