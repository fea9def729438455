"""A streamed OpenAI answer, instrumented: its model call is an llm step. The test points
the client at its scripted server (OPENAI_BASE_URL, OPENAI_API_KEY)."""

from openai import AsyncOpenAI

import lightchat as cl

cl.instrument_openai()


@cl.on_message
async def main(message: cl.Message):
    answer = cl.Message(content="")
    async with AsyncOpenAI(max_retries=0) as client:
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": message.content}],
            stream=True,
            stream_options={"include_usage": True},
        )
        async for chunk in stream:
            if chunk.choices:
                await answer.stream_token(chunk.choices[0].delta.content or "")
    await answer.send()
