"""How a chat starts: chat profiles, starters and chat settings.

- The header's "Chat profile" picks how the chat runs ("Quick" or "Thorough"); choosing
  another one starts a new chat with it.
- An empty chat shows the profile's description and starters: buttons that send a first
  message for you ("Learning" opens a few more).
- "Settings" opens the chat settings (answer style, streaming speed, streaming on or off);
  the next answers follow them.
"""

import asyncio

from demo_model import answer

import lightchat as cl
from lightchat.testing import tokenize


@cl.set_chat_profiles
async def chat_profiles(user=None, language=None):
    return [
        cl.ChatProfile(
            name="Quick",
            markdown_description="Short answers: the **gist** only.",
            default=True,
        ),
        cl.ChatProfile(
            name="Thorough",
            markdown_description="Complete answers, with lists, tables and code.",
            starters=[
                cl.Starter(label="Compare two tools", message="Compare Django versus Flask"),
                cl.Starter(label="Show me code", message="Write python code to count words"),
            ],
        ),
    ]


@cl.set_starters
async def starters(user=None, language=None):
    return [
        cl.Starter(label="Why is the sky blue?", message="Why is the sky blue?"),
        cl.Starter(label="Vector databases", message="What is a vector database?"),
    ]


@cl.set_starter_categories
async def starter_categories(user=None, language=None):
    return [
        cl.StarterCategory(
            label="Learning",
            starters=[
                cl.Starter(label="The piano", message="How do I learn the piano?"),
                cl.Starter(label="Writing tests", message="Tips for writing tests"),
            ],
        )
    ]


@cl.on_chat_start
async def start():
    await cl.ChatSettings(
        [
            cl.Select(
                id="style",
                label="Style",
                values=["plain", "friendly"],
                initial_index=0,
                description="How the answer opens.",
            ),
            cl.Slider(id="speed", label="Tokens per second", initial=60, min=10, max=200, step=10),
            cl.Switch(id="stream", label="Stream the answer", initial=True),
        ]
    ).send()


@cl.on_settings_update
async def settings_changed(settings: dict):
    state = "on" if settings["stream"] else "off"
    await cl.Message(
        content=f"Settings saved: style **{settings['style']}**, streaming {state} "
        f"at {settings['speed']} tokens per second."
    ).send()


@cl.on_message
async def main(message: cl.Message):
    settings = cl.user_session.get("chat_settings")
    text = answer(message.content)
    if cl.user_session.get("chat_profile") == "Quick":
        text = text.split("\n\n")[0] + "\n\n_Pick the Thorough profile for the whole answer._"
    if settings["style"] == "friendly":
        text = "Happy to help! " + text
    reply = cl.Message(content="")
    if settings["stream"]:
        for token in tokenize(text):
            await reply.stream_token(token)
            await asyncio.sleep(1 / settings["speed"])
    else:
        reply.content = text
    await reply.send()
