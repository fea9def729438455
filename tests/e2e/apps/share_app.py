"""Sharing a chat: two users with passwords; a shared chat is read by any signed-in user
(sharing itself is turned on by LIGHTCHAT_ALLOW_THREAD_SHARING in the test)."""

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
    async with cl.Step(name="lookup", type="tool") as step:
        step.output = f"looked up {message.content}"
    await cl.Message(content=f"Answer: **{message.content}**").send()


@cl.on_shared_thread_view
async def may_view(thread, viewer):
    return viewer is not None
