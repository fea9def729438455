"""The lightchat app the benchmarks serve with `lightchat serve benchmarks/bench_app.py`.

Each user message gets one reply: a tool step streaming 20 tokens, then a message streaming
200 tokens (see ``workload.py``). The environment chooses the pace:

- ``BENCH_PACE``: tokens per second; 0 (the default) streams as fast as possible;
- ``BENCH_PARAGRAPH``: message tokens per paragraph (0: one paragraph; default 40);
- ``BENCH_STAMP``: 1 for tokens stamped with their emission time (the default when
  paced), 0 for plain words;
- ``BENCH_GC_LOG``: a file to write the garbage collector's time to at exit.
"""

from __future__ import annotations

import os

from workload import DEFAULT_PARAGRAPH, MESSAGE_TOKENS, STEP_TOKENS, Pacer, log_gc, token_text

import lightchat as cl

PACE = float(os.environ.get("BENCH_PACE", "0"))
PARAGRAPH = int(os.environ.get("BENCH_PARAGRAPH", str(DEFAULT_PARAGRAPH)))
STAMPED = os.environ.get("BENCH_STAMP", "1" if PACE > 0 else "0") == "1"
if os.environ.get("BENCH_GC_LOG"):
    log_gc(os.environ["BENCH_GC_LOG"])


@cl.on_message
async def answer(message: cl.Message) -> None:
    pacer = Pacer(PACE)
    async with cl.Step(name="search", type="tool") as step:
        for index in range(STEP_TOKENS):
            await pacer.wait(index)
            await step.stream_token(token_text(index, STAMPED, PARAGRAPH))
    msg = cl.Message(content="")
    for index in range(STEP_TOKENS, STEP_TOKENS + MESSAGE_TOKENS):
        await pacer.wait(index)
        await msg.stream_token(token_text(index, STAMPED, PARAGRAPH))
    await msg.send()
