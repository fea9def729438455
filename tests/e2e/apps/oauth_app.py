"""OAuth sign-in: the provider comes from the OAUTH_GENERIC_* variables; bob is refused."""

import lightchat as cl


@cl.oauth_callback
def auth(provider_id, token, raw_user_data, default_user, id_token=None):
    if default_user.identifier.startswith("bob"):
        return None
    return default_user


@cl.on_chat_start
async def start():
    user = cl.user_session.get("user")
    await cl.Message(content=f"Welcome, {user.display_name} ({user.identifier}).").send()


@cl.on_message
async def main(message: cl.Message):
    await cl.Message(content=f"Echo: {message.content}").send()
