"""Steps: nested tool calls, a step that streams its output, and a step that fails.

Ask anything to see a "plan" step holding two nested steps; include the word "fail" to see
a failed step and the error message the chat shows (the session goes on).
"""

import asyncio

import lightchat as cl


@cl.step(type="retrieval")
async def retrieve(query: str) -> list[str]:
    await asyncio.sleep(0.2)
    return [f"{query} overview.md", f"{query} faq.md"]


@cl.step(type="rerank")
def rerank(documents: list[str]) -> list[str]:
    return sorted(documents, key=len)


@cl.step(name="plan", type="run")
async def plan(question: str) -> str:
    documents = rerank(await retrieve(question))
    async with cl.Step(name="draft", type="llm") as draft:
        draft.input = question
        for word in f"Answer using {documents[0]}".split():
            await draft.stream_token(word + " ")
            await asyncio.sleep(0.05)
    if "fail" in question.lower():
        raise RuntimeError("the search index is unavailable")
    return documents[0]


@cl.on_message
async def main(message: cl.Message):
    best = await plan(message.content)
    await cl.Message(content=f"The best source is **{best}**.").send()
