"""LlamaIndex in a chat, both ways in: Chainlit's ``cl.LlamaIndexCallbackHandler`` on the
callback manager, and ``instrument()`` on the instrumentation dispatcher.

Real llama-index-core at its installed version, on its own mocks: ``MockLLM`` (a completion
model), ``MockFunctionCallingLLM`` (a chat model that answers from the script each test
gives it, whole or streamed, or calls tools), ``MockEmbedding`` and an in-memory
``VectorStoreIndex`` of two documents. Each test runs a real chat session and checks the
steps it shows: their tree, the retrieved nodes as elements, the tokens streamed live, the
LLM call's generation, and that a failing retrieval or LLM call fails its step while the
chat goes on.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Any

import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.agent.workflow import AgentStream, FunctionAgent
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.base.response.schema import AsyncStreamingResponse, StreamingResponse
from llama_index.core.callbacks import CallbackManager, CBEventType
from llama_index.core.chat_engine.types import ChatMode
from llama_index.core.embeddings.mock_embed_model import MockEmbedding
from llama_index.core.llms.mock import MockFunctionCallingLLM, MockLLM
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.schema import NodeWithScore, QueryBundle

import lightchat as cl
from lightchat import LightChat
from lightchat.api.message import Message
from lightchat.chat.session import ChatSession
from lightchat.domain.events import MessageData, StepData, StepEvent, TokenEvent
from lightchat.integrations.llama_index import (
    LlamaIndexCallbackHandler,
    LlamaIndexInstrumentor,
    instrument,
)
from tests.helpers import WAIT_S, events_of, new_session

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

PARIS = "Paris is the capital of France."
BERLIN = "Berlin is the capital of Germany."
SOURCES = "Retrieved the following sources: Source 1 (score 1.00), Source 2 (score 1.00)"


# -- the models, the index and the chat -------------------------------------------------------


Reply = ChatMessage | Iterator[ChatMessage] | AsyncIterator[ChatMessage] | BaseException


def words(text: str, fail: BaseException | None = None) -> Iterator[ChatMessage]:
    """A streamed answer, a word at a time (and then ``fail``, if given)."""
    for word in text.split(" "):
        yield ChatMessage(role=MessageRole.ASSISTANT, content=word + " ")
    if fail is not None:
        raise fail


async def async_words(text: str, fail: BaseException | None = None) -> AsyncIterator[ChatMessage]:
    """``words``, for an async stream."""
    for message in words(text):
        yield message
        await asyncio.sleep(0)
    if fail is not None:
        raise fail


def calls(*called: tuple[str, dict[str, Any]]) -> ChatMessage:
    """An answer that calls tools."""
    blocks = [
        ToolCallBlock(tool_call_id=f"call-{i}", tool_name=name, tool_kwargs=arguments)
        for i, (name, arguments) in enumerate(called)
    ]
    return ChatMessage(role=MessageRole.ASSISTANT, blocks=list(blocks))


def said(text: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.ASSISTANT, content=text)


def scripted(*replies: Reply) -> MockFunctionCallingLLM:
    """A chat model (llama-index-core's mock) answering each call with the next reply."""
    script = list(replies)

    def reply(messages: Any, **kwargs: Any) -> Any:
        answer = script.pop(0)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    return MockFunctionCallingLLM(response_generator=reply, is_chat_model=True)


@pytest.fixture(autouse=True)
def llama_settings() -> Iterator[None]:
    """LlamaIndex's global settings for a test (mock embeddings), put back after it."""
    saved = (Settings._llm, Settings._embed_model, Settings._callback_manager)
    Settings.embed_model = MockEmbedding(embed_dim=8)
    Settings.llm = MockLLM(max_tokens=4)
    Settings.callback_manager = CallbackManager([])
    yield
    Settings._llm, Settings._embed_model, Settings._callback_manager = saved


@pytest.fixture
def instrumented() -> Iterator[LlamaIndexInstrumentor]:
    """``instrument()`` for one test, then off again."""
    instrumentor = instrument()
    yield instrumentor
    instrumentor.uninstrument()


def handler_everywhere(**kwargs: Any) -> LlamaIndexCallbackHandler:
    """Chainlit's set-up: the handler in the callback manager every component takes."""
    handler = LlamaIndexCallbackHandler(**kwargs)
    Settings.callback_manager = CallbackManager([handler])
    return handler


def paris_and_berlin() -> VectorStoreIndex:
    """The index (built before the chat, as an app builds it when it loads)."""
    return VectorStoreIndex.from_documents([Document(text=PARIS), Document(text=BERLIN)])


Handler = Callable[[Message], Coroutine[Any, Any, None]]


async def chat_with(handler: Handler, *questions: str) -> ChatSession:
    """A chat whose on_message is ``handler``; each question asked in turn, answered."""
    app = LightChat()
    app.on_message(handler)
    session = new_session(app)
    async with asyncio.timeout(WAIT_S * 2):
        for question in questions:
            await session.send_user_message(question)
    return session


def steps(session: ChatSession) -> dict[str, StepData]:
    """The chat's steps as they ended, by name (the last of a name wins)."""
    return {s.name: s for s in session.transcript.items.values() if isinstance(s, StepData)}


def all_steps(session: ChatSession) -> list[StepData]:
    return [s for s in session.transcript.items.values() if isinstance(s, StepData)]


def messages(session: ChatSession, kind: str = "assistant_message") -> list[MessageData]:
    items = session.transcript.items.values()
    return [m for m in items if isinstance(m, MessageData) and m.type == kind]


def tokens_of(events: list[Any], step_id: str) -> list[tuple[int, str]]:
    return [
        (i, e.delta) for i, e in enumerate(events) if isinstance(e, TokenEvent) and e.id == step_id
    ]


async def assert_streamed_live(session: ChatSession, step: StepData) -> None:
    """The step showed running, then its tokens arrived, then it ended with them."""
    events = await events_of(session)
    shown = [i for i, e in enumerate(events) if isinstance(e, StepEvent) and e.step.id == step.id]
    first, last = shown[0], shown[-1]
    first_event = events[first]
    assert isinstance(first_event, StepEvent)
    assert first_event.step.status == "running"
    tokens = tokens_of(events, step.id)
    assert tokens, "no token streamed into the step"
    assert all(first < i < last for i, _ in tokens)
    assert "".join(delta for _, delta in tokens) == step.output


# -- Chainlit's handler on the callback manager ---------------------------------------------


async def test_a_streamed_query_shows_as_nested_steps_the_way_chainlits_docs_run_it() -> None:
    handler_everywhere(event_starts_to_ignore=[], event_ends_to_ignore=[])
    index = paris_and_berlin()

    async def answer(message: Message) -> None:  # Chainlit's LlamaIndex docs, as written
        query_engine = index.as_query_engine(streaming=True, similarity_top_k=2)
        msg = cl.Message(content="", author="Assistant")
        res = await cl.make_async(query_engine.query)(message.content)
        assert isinstance(res, StreamingResponse)
        for token in res.response_gen:
            await msg.stream_token(token)
        await msg.send()

    session = await chat_with(answer, "What is the capital of France?")
    shown = steps(session)
    query, retrieve, embedding = shown["query"], shown["retrieve"], shown["embedding"]
    synthesize, llm = shown["synthesize"], shown["llm"]
    assert [(s.name, s.type, s.status) for s in all_steps(session)] == [
        ("query", "run", "done"),
        ("retrieve", "retrieval", "done"),
        ("embedding", "embedding", "done"),
        ("synthesize", "undefined", "done"),
        ("llm", "llm", "done"),
    ]
    assert query.parent_id is None
    assert retrieve.parent_id == synthesize.parent_id == query.id
    assert embedding.parent_id == retrieve.id
    assert llm.parent_id is None  # LlamaIndex streams the answer once the query returned
    assert query.input == retrieve.input == "What is the capital of France?"
    assert retrieve.output == SOURCES
    assert [(e.name, e.kind, e.display) for e in retrieve.elements] == [
        ("Source 1", "text", "side"),
        ("Source 2", "text", "side"),
    ]
    assert sorted(e.content or "" for e in retrieve.elements) == sorted([PARIS, BERLIN])
    assert query.output == SOURCES  # its answer still streams: its sources
    assert embedding.output == '{\n  "embeddings": 1,\n  "dimensions": 8\n}'

    (reply,) = messages(session)
    assert reply.content == "text text text text"
    assert "What is the capital of France?" in llm.input
    assert PARIS in llm.input
    assert llm.output == reply.content
    await assert_streamed_live(session, llm)

    generation = llm.generation
    assert generation is not None
    assert generation["type"] == "COMPLETION"
    assert generation["provider"] == "MockLLM"
    assert "What is the capital of France?" in generation["prompt"]
    assert generation["completion"] == reply.content
    assert generation["outputTokenCount"] > 0  # as LlamaIndex's token counter counts
    assert generation["inputTokenCount"] > 10
    assert generation["tokenCount"] == (
        generation["inputTokenCount"] + generation["outputTokenCount"]
    )
    assert generation["ttFirstToken"] is not None
    assert generation["ttFirstToken"] >= 0
    assert generation["duration"] >= generation["ttFirstToken"] / 1000


async def test_chainlits_defaults_leave_embeddings_and_syntheses_out() -> None:
    handler = handler_everywhere()
    index = paris_and_berlin()

    async def answer(message: Message) -> None:
        response = await cl.make_async(index.as_query_engine().query)(message.content)
        await cl.Message(content=str(response)).send()

    session = await chat_with(answer, "Capital?")
    assert [(s.name, s.type) for s in all_steps(session)] == [
        ("query", "run"),
        ("retrieve", "retrieval"),
        ("llm", "llm"),
    ]
    query, llm = steps(session)["query"], steps(session)["llm"]
    assert llm.parent_id == query.id  # a whole answer: the call is the query's
    assert query.output == llm.output == "text text text text"
    assert handler.steps == {}  # every step ended
    assert handler.total_llm_token_count > 0  # a TokenCountingHandler, as Chainlit's is


async def test_a_chat_models_call_records_its_messages_and_answer() -> None:
    handler_everywhere()
    Settings.llm = scripted(said("Paris, on the Seine."))
    index = paris_and_berlin()

    async def answer(message: Message) -> None:
        response = await index.as_query_engine().aquery(message.content)
        await cl.Message(content=str(response)).send()

    session = await chat_with(answer, "Capital of France?")
    llm = steps(session)["llm"]
    assert llm.output == "Paris, on the Seine."
    generation = llm.generation
    assert generation is not None
    assert (generation["type"], generation["provider"]) == ("CHAT", "MockFunctionCallingLLM")
    roles = [m["role"] for m in generation["messages"]]
    assert roles[-1] == "user"
    assert "Capital of France?" in generation["messages"][-1]["content"]
    assert PARIS in " ".join(m["content"] for m in generation["messages"])
    assert generation["messageCompletion"] == {
        "role": "assistant",
        "content": "Paris, on the Seine.",
    }
    assert generation["ttFirstToken"] is None  # not streamed
    assert generation["tokenCount"] > generation["outputTokenCount"] > 0


class BrokenRetriever(BaseRetriever):
    """A retriever whose vector store is down."""

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        raise ConnectionError("the vector store is down")


async def failing_retrieval(message: Message) -> None:
    if message.content == "again":
        await cl.Message(content="Still here.").send()
        return
    engine = RetrieverQueryEngine.from_args(BrokenRetriever())
    await engine.aquery(message.content)


async def assert_failed_and_went_on(session: ChatSession, retrieve: StepData) -> None:
    assert retrieve.status == "failed"
    assert retrieve.output == "the vector store is down"
    (error,) = messages(session, "error")
    assert "the vector store is down" in error.content
    assert [m.content for m in messages(session)] == ["Still here."]


async def test_a_failing_retrieval_fails_its_step_and_the_query_and_the_chat_goes_on() -> None:
    handler_everywhere()
    session = await chat_with(failing_retrieval, "Capital?", "again")
    query, retrieve = steps(session)["query"], steps(session)["retrieve"]
    assert query.status == "failed"
    assert retrieve.parent_id == query.id
    await assert_failed_and_went_on(session, retrieve)


async def test_an_llm_failing_mid_answer_fails_its_step_and_keeps_what_streamed() -> None:
    handler_everywhere()
    Settings.llm = scripted(async_words("Paris is", fail=TimeoutError("the model timed out")))
    index = paris_and_berlin()

    async def answer(message: Message) -> None:
        response = await index.as_query_engine(streaming=True).aquery(message.content)
        msg = cl.Message(content="")
        assert isinstance(response, AsyncStreamingResponse)
        async for token in response.async_response_gen():
            await msg.stream_token(token)
        await msg.send()

    session = await chat_with(answer, "Capital?")
    llm = steps(session)["llm"]
    assert llm.status == "failed"
    assert llm.output == "Paris is "  # what streamed stays
    (reply,) = messages(session)
    assert reply.content == "Paris is "
    (error,) = messages(session, "error")
    assert "the model timed out" in error.content


async def test_steps_nest_in_the_apps_step_and_show_only_in_a_chat() -> None:
    handler = handler_everywhere()
    index = paris_and_berlin()
    outside = await index.as_query_engine().aquery("Capital?")  # no chat here: no step
    assert str(outside) == "text text text text"
    assert handler.steps == {}

    async def answer(message: Message) -> None:
        async with cl.Step(name="research", type="run"):
            response = await index.as_query_engine().aquery(message.content)
        await cl.Message(content=str(response)).send()

    session = await chat_with(answer, "Capital?")
    research, query = steps(session)["research"], steps(session)["query"]
    assert query.parent_id == research.id


async def test_cl_names_the_handler_with_chainlits_arguments() -> None:
    assert cl.LlamaIndexCallbackHandler is LlamaIndexCallbackHandler
    handler = cl.LlamaIndexCallbackHandler(event_starts_to_ignore=[], event_ends_to_ignore=[])
    assert handler.event_starts_to_ignore == handler.event_ends_to_ignore == ()
    assert cl.LlamaIndexCallbackHandler().event_starts_to_ignore == (
        CBEventType.CHUNKING,
        CBEventType.SYNTHESIZE,
        CBEventType.EMBEDDING,
        CBEventType.NODE_PARSING,
        CBEventType.TREE,
    )


# -- instrument(): the instrumentation dispatcher -------------------------------------------


async def test_instrument_shows_a_streamed_async_query_as_nested_steps(
    instrumented: LlamaIndexInstrumentor,
) -> None:
    Settings.llm = scripted(async_words("Paris is the capital."))
    index = paris_and_berlin()  # built outside the chat: no step

    async def answer(message: Message) -> None:
        engine = index.as_query_engine(streaming=True, similarity_top_k=2)
        response = await engine.aquery(message.content)
        msg = cl.Message(content="")
        assert isinstance(response, AsyncStreamingResponse)
        async for token in response.async_response_gen():
            await msg.stream_token(token)
        await msg.send()

    session = await chat_with(answer, "What is the capital of France?")
    assert [(s.name, s.type, s.status) for s in all_steps(session)] == [
        ("query", "run", "done"),
        ("retrieve", "retrieval", "done"),
        ("embedding", "embedding", "done"),
        ("synthesize", "undefined", "done"),
        ("llm", "llm", "done"),
    ]
    shown = steps(session)
    query, retrieve, llm = shown["query"], shown["retrieve"], shown["llm"]
    assert retrieve.parent_id == shown["synthesize"].parent_id == query.id
    assert shown["embedding"].parent_id == retrieve.id
    assert retrieve.output == SOURCES
    assert sorted(e.content or "" for e in retrieve.elements) == sorted([PARIS, BERLIN])

    (reply,) = messages(session)
    assert reply.content == llm.output == "Paris is the capital. "
    await assert_streamed_live(session, llm)
    generation = llm.generation
    assert generation is not None
    assert generation["type"] == "CHAT"
    assert generation["messageCompletion"]["content"] == "Paris is the capital. "
    assert "What is the capital of France?" in generation["messages"][-1]["content"]
    assert generation["ttFirstToken"] is not None
    assert generation["outputTokenCount"] > 0


# Building a workflow agent reads attributes pydantic deprecates (llama-index-workflows does).
@pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecationWarning")
async def test_instrument_shows_a_function_agents_run_its_calls_and_a_failing_tool(
    instrumented: LlamaIndexInstrumentor,
) -> None:
    def multiply(a: int, b: int) -> int:
        """Multiply two whole numbers."""
        return a * b

    def divide(a: int, b: int) -> float:
        """Divide a number by another."""
        return a / b

    llm = scripted(
        calls(("multiply", {"a": 6, "b": 7}), ("divide", {"a": 6, "b": 0})),
        said("6 x 7 is 42; 6 cannot be divided by 0."),
    )

    async def answer(message: Message) -> None:
        agent = FunctionAgent(tools=[multiply, divide], llm=llm, name="calculator")
        msg = cl.Message(content="")
        run = agent.run(message.content, memory=ChatMemoryBuffer.from_defaults())
        async for event in run.stream_events():
            if isinstance(event, AgentStream):
                await msg.stream_token(event.delta)
        await run
        await msg.send()

    session = await chat_with(answer, "6 x 7, and 6 / 0?")
    run, first, times, share, last = all_steps(session)
    assert (run.name, run.type, run.status) == ("calculator", "run", "done")
    assert run.input == "6 x 7, and 6 / 0?"
    assert run.output == "6 x 7 is 42; 6 cannot be divided by 0."
    assert all(s.parent_id == run.id for s in (first, times, share, last))
    assert (first.type, last.type) == ("llm", "llm")
    assert (times.name, times.type, times.status) == ("multiply", "tool", "done")
    assert times.input == '{\n  "a": 6,\n  "b": 7\n}'
    assert times.output == "42"
    assert (share.name, share.status, share.output) == ("divide", "failed", "division by zero")

    generation = first.generation
    assert generation is not None
    assert [tool["name"] for tool in generation["tools"]] == ["multiply", "divide"]
    completion = generation["messageCompletion"]
    assert [c["function"]["name"] for c in completion["tool_calls"]] == ["multiply", "divide"]
    assert '"name": "multiply"' in first.output
    # The model was told what each call gave, the failure included, and answered.
    told = last.generation["messages"] if last.generation else []
    assert [m.get("content") for m in told if m["role"] == "tool"] == ["42", "division by zero"]
    assert [m.content for m in messages(session)] == [run.output]


async def test_instrument_fails_a_failing_retrieval_and_the_chat_goes_on(
    instrumented: LlamaIndexInstrumentor,
) -> None:
    session = await chat_with(failing_retrieval, "Capital?", "again")
    query, retrieve = steps(session)["query"], steps(session)["retrieve"]
    assert (query.status, retrieve.parent_id) == ("failed", query.id)
    await assert_failed_and_went_on(session, retrieve)


async def test_instrument_streams_a_chat_engine_answer_into_the_message(
    instrumented: LlamaIndexInstrumentor,
) -> None:
    Settings.llm = scripted(async_words("It is Paris."))
    index = paris_and_berlin()

    async def answer(message: Message) -> None:
        chat_engine = index.as_chat_engine(
            chat_mode=ChatMode.CONDENSE_PLUS_CONTEXT, memory=ChatMemoryBuffer.from_defaults()
        )
        response = await chat_engine.astream_chat(message.content)
        msg = cl.Message(content="")
        async for token in response.async_response_gen():
            await msg.stream_token(token)
        await msg.send()

    session = await chat_with(answer, "And the capital of France?")
    (reply,) = messages(session)
    assert reply.content == "It is Paris. "
    shown = steps(session)
    assert shown["retrieve"].output == SOURCES
    assert shown["llm"].output == reply.content
    await assert_streamed_live(session, shown["llm"])


async def test_instrument_is_once_and_uninstrument_stops_the_steps() -> None:
    instrumentor = instrument()
    assert instrument() is instrumentor
    assert instrumentor.instrumented
    instrumentor.uninstrument()
    assert not instrumentor.instrumented
    index = paris_and_berlin()

    async def answer(message: Message) -> None:
        response = await index.as_query_engine().aquery(message.content)
        await cl.Message(content=str(response)).send()

    session = await chat_with(answer, "Capital?")
    assert all_steps(session) == []
    assert [m.content for m in messages(session)] == ["text text text text"]
