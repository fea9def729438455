"""Layout: answers with long words and code (the page must not grow wider than the screen),
a toast on request ("toast ..."; "error ..." for an error toast), and a slow answer
("slow") for Stop."""

import asyncio

import lightchat as cl

LONG = "Pneumonoultramicroscopicsilicovolcanoconiosis" * 3
CODE = "```python\ndef greet(name: str) -> str:\n    return 'Hello, ' + name + '! ' * 40\n```"


@cl.on_message
async def main(message: cl.Message):
    text = message.content
    if text.startswith("toast "):
        await cl.context.emitter.send_toast(text.removeprefix("toast "), type="info")
        return
    if text.startswith("error "):
        await cl.context.emitter.send_toast(text.removeprefix("error "), type="error")
        return
    if text == "slow":
        answer = cl.Message(content="")
        for n in range(400):
            await answer.stream_token(f"word{n} ")
            await asyncio.sleep(0.05)
        await answer.send()
        return
    await cl.Message(
        content=f"A long word: {LONG}, and some code:\n\n{CODE}\n\nSee https://example.com/{LONG}"
    ).send()
