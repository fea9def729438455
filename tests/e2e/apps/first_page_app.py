"""Answers "code" with a streamed Python block, anything else with plain text: what the
first page loads, and when the code's colours come."""

from __future__ import annotations

import lightchat as cl

CODE = "Here it is:\n\n```python\ndef greet(name):\n    return 'hi ' + name\n```\n"


@cl.on_message
async def main(message: cl.Message) -> None:
    answer = cl.Message(content="")
    text = CODE if message.content == "code" else f"You said: {message.content}"
    for word in text.split(" "):
        await answer.stream_token(word + " ")
    await answer.send()
