"""Favourite messages: one user signs in with a password; the chat echoes. Favourites are
on (``LIGHTCHAT_FAVORITES=1`` in the test's environment)."""

import lightchat as cl


@cl.password_auth_callback
def auth(username: str, password: str):
    if (username, password) == ("ada", "lovelace"):
        return cl.User(identifier=username, display_name="Ada Lovelace")
    return None


@cl.on_message
async def main(message: cl.Message):
    await cl.Message(content=f"Echo: {message.content}").send()
