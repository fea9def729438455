"""Streams a markdown answer token by token, the way a model does."""

from __future__ import annotations

import asyncio

import lightchat as cl

ANSWER = """## Results

Here is the **important** part.

- first item
- second item

| name | value |
| ---- | ----- |
| alpha | 1 |
| beta | 2 |

```python
def greet(name):
    return "hi " + name
```

Done streaming."""


def tokens(text: str) -> list[str]:
    """Small pieces, split inside words and markup too, as a model's tokens are."""
    return [text[i : i + 4] for i in range(0, len(text), 4)]


@cl.on_message
async def answer(message: cl.Message) -> None:
    msg = cl.Message(content="")
    for token in tokens(ANSWER):
        await msg.stream_token(token)
        await asyncio.sleep(0.02)
    await msg.send()
