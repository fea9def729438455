"""The chat that the host app (main.py) mounts at /chat: its users are the host's users.

``host_auth=True``: the user the host signed in (``request.user``) is the chat's signed-in
user, so each of them sees only their own chats and history; the chat has no login page.
"""

from lightchat import LightChat, Message
from lightchat.testing import tokenize

chat = LightChat(host_auth=True)


@chat.on_chat_start
async def start() -> None:
    await Message(content="Hello! Ask me anything; I answer with your own words.").send()


@chat.on_message
async def answer(message: Message) -> None:
    reply = Message(content="")
    for token in tokenize(f"You said: {message.content}"):
        await reply.stream_token(token)
    await reply.send()
