"""An explicit app object: several apps can live in one process (tests, embedding).

`lightchat serve examples/04_explicit_app.py` finds `app`; `...py:app` names it.
"""

from lightchat import LightChat, Message, Settings
from lightchat.testing import FakeModel

app = LightChat(settings=Settings(name="Echo"))
model = FakeModel([lambda prompt: f"You said: *{prompt}*"], delay=0.02)


@app.on_message
async def echo(message: Message):
    reply = Message(content="")
    async for token in model.stream(message.content):
        await reply.stream_token(token)
    await reply.send()
