"""The analytics page: an admin ("root", role admin) and a user ("bob"), with sign-in unless
ANALYTICS_NO_AUTH is set; answers stream after an LLM step with a generation, so a live
question is timed and counted."""

import asyncio
import os

import lightchat as cl

USERS = {"root": ("secret", {"role": "admin"}), "bob": ("builder", {})}

if not os.environ.get("ANALYTICS_NO_AUTH"):

    @cl.password_auth_callback
    def auth(username: str, password: str):
        known = USERS.get(username)
        if known is not None and known[0] == password:
            return cl.User(identifier=username, metadata=known[1])
        return None


@cl.set_starters
async def starters():
    return [
        cl.Starter(label="Say hi", message="Hi"),
        cl.Starter(label="Weather", message="Weather?"),
    ]


@cl.on_message
async def main(message: cl.Message):
    async with cl.Step(name="model", type="llm") as step:
        step.generation = cl.ChatGeneration(
            model="e2e-model", input_token_count=7, output_token_count=3, token_count=10
        )
        step.output = "thought"
    answer = cl.Message(content="")
    await asyncio.sleep(0.05)  # the model thinks before its first token
    for token in ["Hello ", "from ", "the bot"]:
        await answer.stream_token(token)
    await answer.send()
