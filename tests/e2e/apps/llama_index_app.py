"""LlamaIndex in the chat, through ``instrument()``: a streamed query over two documents
(its retrieval's sources open in the side panel), and a function agent whose tool waits
for the user's go-ahead (an AskActionMessage), so the page shows the agent's run and its
tool call nested in it while they run. The models are llama-index-core's mocks; the chat
model streams a word every 50 ms."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.agent.workflow import AgentStream, FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.base.response.schema import AsyncStreamingResponse
from llama_index.core.embeddings.mock_embed_model import MockEmbedding
from llama_index.core.llms.mock import MockFunctionCallingLLM
from llama_index.core.memory import ChatMemoryBuffer

import lightchat as cl
from lightchat.integrations.llama_index import instrument

BEES = "Bees make honey from the nectar of flowers."
MOON = "The Moon turns around the Earth in about 27 days."

instrument()
Settings.embed_model = MockEmbedding(embed_dim=8)
index = VectorStoreIndex.from_documents([Document(text=BEES), Document(text=MOON)])


async def slowly(text: str) -> AsyncIterator[ChatMessage]:
    for word in text.split(" "):
        await asyncio.sleep(0.05)
        yield ChatMessage(role=MessageRole.ASSISTANT, content=word + " ")


def reply(messages: list[ChatMessage], **kwargs: Any) -> Any:
    """The chat model: the agent's model calls its tool, then answers with what it gave;
    a query's answer streams."""
    if not kwargs.get("tools"):
        return slowly("Bees make honey.")
    if messages[-1].role == MessageRole.TOOL:
        return slowly(f"Here is what I found: {messages[-1].content}")
    call = ToolCallBlock(tool_call_id="call-1", tool_name="look_up", tool_kwargs={"topic": "bees"})
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=[call])


Settings.llm = MockFunctionCallingLLM(response_generator=reply, is_chat_model=True)


async def look_up(topic: str) -> str:
    """Look a topic up, once the user agrees."""
    go = cl.Action(name="look_up", payload={}, label="Look it up")
    agreed = await cl.AskActionMessage(
        content=f"Look up {topic}?", actions=[go], timeout=120
    ).send()
    return BEES if agreed else "nothing"


@cl.on_message
async def main(message: cl.Message):
    answer = cl.Message(content="")
    if message.content.startswith("Agent"):
        agent = FunctionAgent(tools=[look_up], llm=Settings.llm, name="researcher")
        run = agent.run(message.content, memory=ChatMemoryBuffer.from_defaults())
        async for event in run.stream_events():
            if isinstance(event, AgentStream):
                await answer.stream_token(event.delta)
        await run
    else:
        engine = index.as_query_engine(streaming=True, similarity_top_k=2)
        response = await engine.aquery(message.content)
        assert isinstance(response, AsyncStreamingResponse)
        async for token in response.async_response_gen():
            await answer.stream_token(token)
    await answer.send()
