"""Sign-in by header: an authenticating proxy in front sets X-Forwarded-User."""

import lightchat as cl


@cl.header_auth_callback
def from_proxy(headers):
    name = headers.get("x-forwarded-user")
    if not name:
        return None
    return cl.User(identifier=name, display_name=f"{name.title()} via proxy")


@cl.on_chat_start
async def start():
    user = cl.user_session.get("user")
    await cl.Message(content=f"Hello, {user.identifier}.").send()


@cl.on_message
async def main(message: cl.Message):
    await cl.Message(content=f"Echo: {message.content}").send()
