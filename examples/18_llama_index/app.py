"""LlamaIndex in the chat: a query engine over the documents in data/, its answer streamed.

`cl.LlamaIndexCallbackHandler()` in LlamaIndex's callback manager shows each query as
steps: the query, its retrieval (each source a link that opens it in the side panel, with
its score) and the LLM call (its tokens streaming in, its generation recorded). It runs
offline on stand-in models (offline.py); with OPENAI_API_KEY set and LlamaIndex's OpenAI
packages installed, on OpenAI. Serve it with `lightchat serve examples/18_llama_index/app.py`
and ask "How do bees make honey?".
"""

import os
from pathlib import Path

from llama_index.core import Settings, SimpleDirectoryReader, VectorStoreIndex
from llama_index.core.base.response.schema import AsyncStreamingResponse
from llama_index.core.callbacks import CallbackManager
from offline import ReadingLLM, WordEmbedding

import lightchat as cl

DATA = Path(__file__).parent / "data"


def use_models() -> None:
    """OpenAI's models when there is a key and LlamaIndex's OpenAI packages; else the
    offline stand-ins."""
    if os.environ.get("OPENAI_API_KEY"):
        try:
            from llama_index.embeddings.openai import OpenAIEmbedding
            from llama_index.llms.openai import OpenAI
        except ImportError:
            pass  # not installed: the stand-ins answer
        else:
            Settings.llm = OpenAI(model="gpt-4o-mini")
            Settings.embed_model = OpenAIEmbedding(model="text-embedding-3-small")
            return
    Settings.llm = ReadingLLM()
    Settings.embed_model = WordEmbedding()


use_models()
# Before the index is built: each part of LlamaIndex takes the callback manager it is
# made with. One handler serves every chat; a step goes to the chat whose question ran it.
Settings.callback_manager = CallbackManager([cl.LlamaIndexCallbackHandler()])
index = VectorStoreIndex.from_documents(SimpleDirectoryReader(str(DATA)).load_data())


@cl.on_chat_start
async def start() -> None:
    await cl.Message(content="Ask me about honey bees, the Moon or Roman roads.").send()


@cl.on_message
async def main(message: cl.Message) -> None:
    query_engine = index.as_query_engine(streaming=True, similarity_top_k=2)
    answer = cl.Message(content="")
    response = await query_engine.aquery(message.content)
    assert isinstance(response, AsyncStreamingResponse)
    async for token in response.async_response_gen():
        await answer.stream_token(token)
    await answer.send()
