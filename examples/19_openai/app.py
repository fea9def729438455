"""OpenAI in the chat: a streamed conversation, each model call shown as a step.

`cl.instrument_openai()` makes every call of the openai client made in a chat an `llm`
step: the messages it was given, the answer as it streams in, and its generation (the
model, the settings, the token usage). With OPENAI_API_KEY set it talks to OpenAI
(OPENAI_BASE_URL names another compatible server); without a key, to a scripted stand-in
for the API on a local port (the repository's tests/llm_server.py), which answers with the
words of examples/demo_model.py. Serve it with `lightchat serve examples/19_openai/app.py`.
"""

import os
import sys
from pathlib import Path

from openai import AsyncOpenAI

import lightchat as cl

MODEL = "gpt-4o-mini"
SYSTEM = "You are a helpful assistant. Answer briefly, in markdown."


def offline_api():
    """The scripted stand-in for OpenAI's API, on a free local port."""
    root = Path(__file__).resolve().parents[2]
    sys.path[:0] = [str(root), str(root / "examples")]
    from demo_model import answer

    from tests.llm_server import LLMServer, Reply

    return LLMServer(default=lambda request: Reply(answer(request.prompt), pace_s=0.02))


offline = None if os.environ.get("OPENAI_API_KEY") else offline_api()
if offline is None:
    client = AsyncOpenAI()
else:
    client = AsyncOpenAI(base_url=offline.openai_url, api_key="offline")
cl.instrument_openai()


@cl.on_chat_start
async def start():
    cl.user_session.set("messages", [{"role": "system", "content": SYSTEM}])


@cl.on_message
async def main(message: cl.Message):
    messages = cl.user_session.get("messages")
    messages.append({"role": "user", "content": message.content})
    answer = cl.Message(content="")
    stream = await client.chat.completions.create(
        model=MODEL, messages=messages, stream=True, stream_options={"include_usage": True}
    )
    async for chunk in stream:
        if chunk.choices:
            await answer.stream_token(chunk.choices[0].delta.content or "")
    await answer.send()
    messages.append({"role": "assistant", "content": answer.content})
