"""Sign-in: one user with a password; the chat greets them by name and echoes."""

import lightchat as cl

USERS = {"ada": ("lovelace", "Ada Lovelace")}


@cl.password_auth_callback
def auth(username: str, password: str):
    known = USERS.get(username)
    if known is not None and known[0] == password:
        return cl.User(identifier=username, display_name=known[1])
    return None


@cl.on_chat_start
async def start():
    user = cl.user_session.get("user")
    await cl.Message(content=f"Welcome, {user.display_name}.").send()


@cl.on_message
async def main(message: cl.Message):
    await cl.Message(content=f"Echo: {message.content}").send()
