"""A streamed Mistral answer, instrumented: its model call is an llm step. The test points
the client at its scripted server (MISTRAL_SERVER_URL)."""

import os

from mistralai.client import Mistral

import lightchat as cl

cl.instrument_mistralai()


@cl.on_message
async def main(message: cl.Message):
    answer = cl.Message(content="")
    async with Mistral(api_key="test", server_url=os.environ["MISTRAL_SERVER_URL"]) as client:
        stream = await client.chat.stream_async(
            model="mistral-small-latest",
            messages=[{"role": "user", "content": message.content}],
        )
        async for event in stream:
            await answer.stream_token(str(event.data.choices[0].delta.content or ""))
    await answer.send()
