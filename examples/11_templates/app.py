"""Template overrides: the templates/ folder beside this file changes lightchat's own.

`templates/_message.html` extends `lightchat:_message.html` and adds a line under each
assistant message (the `tools` block); `templates/chat.html` changes the page's title and
the header's heading. Everything else, and what the stream sends, stays lightchat's.

    lightchat serve examples/11_templates/app.py
"""

import lightchat as cl


@cl.on_chat_start
async def start():
    await cl.Message(content="Ask me anything: every answer carries the footer line.").send()


@cl.on_message
async def main(message: cl.Message):
    answer = cl.Message(content="")
    for word in f"You said: **{message.content}**".split(" "):
        await answer.stream_token(word + " ")
    await answer.send()
