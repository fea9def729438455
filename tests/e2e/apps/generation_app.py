"""An llm step with its generation (set by hand, as an integration sets it), whose prompt
holds markup that must stay text."""

from __future__ import annotations

import lightchat as cl


@cl.on_message
async def answer(message):
    async with cl.Step(name="gpt-4o-mini", type="llm") as step:
        step.input = message.content
        step.output = reply = "Lisbon is in **Portugal**."
        step.generation = cl.ChatGeneration(
            provider="openai",
            model="gpt-4o-mini",
            settings={"temperature": 0.2},
            messages=[
                {"role": "system", "content": "Answer briefly. <b>not bold</b>"},
                {"role": "user", "content": message.content},
            ],
            message_completion={"role": "assistant", "content": reply},
            input_token_count=1234,
            output_token_count=7,
            tt_first_token=180.0,
            token_throughput=55.5,
        )
    await cl.Message(content=reply).send()
