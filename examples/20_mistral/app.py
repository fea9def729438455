"""Mistral in the chat: a streamed conversation, each model call shown as a step.

`cl.instrument_mistralai()` makes every chat call of the mistralai client made in a chat
an `llm` step: the messages it was given, the answer as it streams in, and its generation
(the model, the settings, the token usage). With MISTRAL_API_KEY set it talks to Mistral;
without a key, to a scripted stand-in for the API on a local port (the repository's
tests/llm_server.py), which answers with the words of examples/demo_model.py. Serve it
with `lightchat serve examples/20_mistral/app.py`.
"""

import os
import sys
from pathlib import Path

from mistralai.client import Mistral

import lightchat as cl

MODEL = "mistral-small-latest"
SYSTEM = "You are a helpful assistant. Answer briefly, in markdown."


def offline_api():
    """The scripted stand-in for Mistral's API, on a free local port."""
    root = Path(__file__).resolve().parents[2]
    sys.path[:0] = [str(root), str(root / "examples")]
    from demo_model import answer

    from tests.llm_server import LLMServer, Reply

    return LLMServer(default=lambda request: Reply(answer(request.prompt), pace_s=0.02))


offline = None if os.environ.get("MISTRAL_API_KEY") else offline_api()
if offline is None:
    client = Mistral(api_key=os.environ["MISTRAL_API_KEY"])
else:
    client = Mistral(api_key="offline", server_url=offline.mistral_url)
cl.instrument_mistralai()


@cl.on_chat_start
async def start():
    cl.user_session.set("messages", [{"role": "system", "content": SYSTEM}])


@cl.on_message
async def main(message: cl.Message):
    messages = cl.user_session.get("messages")
    messages.append({"role": "user", "content": message.content})
    answer = cl.Message(content="")
    stream = await client.chat.stream_async(model=MODEL, messages=messages)
    async for event in stream:
        await answer.stream_token(str(event.data.choices[0].delta.content or ""))
    await answer.send()
    messages.append({"role": "assistant", "content": answer.content})
