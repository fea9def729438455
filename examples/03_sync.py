"""Sync code: a plain `def` callback, a blocking library wrapped with `make_async`.

Sync callbacks run in a worker thread, so a slow one does not freeze other chats; they reach
the chat through `cl.run_sync`.
"""

import time

import lightchat as cl


def slow_lookup(word: str) -> str:
    time.sleep(0.3)  # a blocking client library
    return word[::-1]


lookup = cl.make_async(slow_lookup)


@cl.on_chat_start
def start():
    cl.run_sync(cl.Message(content="Send me a word and I'll reverse it.").send())


@cl.on_message
async def main(message: cl.Message):
    reversed_word = await lookup(message.content.strip())
    await cl.Message(content=f"`{message.content.strip()}` reversed is `{reversed_word}`").send()
