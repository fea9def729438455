"""Two users with passwords, and history: each sees only their own chats."""

import lightchat as cl

USERS = {"ada": ("lovelace", "Ada Lovelace"), "bob": ("builder", "Bob Builder")}


@cl.password_auth_callback
def auth(username: str, password: str):
    known = USERS.get(username)
    if known is not None and known[0] == password:
        return cl.User(identifier=username, display_name=known[1])
    return None


@cl.on_message
async def main(message: cl.Message):
    await cl.Message(content=f"Answer: {message.content}").send()
