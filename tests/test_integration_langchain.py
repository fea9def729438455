"""LangChain and LangGraph in a real chat: ``cl.LangchainCallbackHandler`` turns a run's
chains, model calls, tools, retrievers and graph nodes into nested steps, streams the
models' tokens into them, records each call's generation, and streams a final answer.

The models are langchain-core's fakes and lightchat's ``ScriptedChatModel`` (which
streams tool calls); the tools, retrievers, sequences and graphs are real.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Literal, cast
from uuid import uuid4

import pytest
from langchain_core.callbacks import (
    AsyncCallbackHandler,
    AsyncCallbackManagerForLLMRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import (
    FakeListChatModel,
    GenericFakeChatModel,
)
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolCall
from langchain_core.output_parsers import StrOutputParser
from langchain_core.outputs import ChatGenerationChunk, GenerationChunk
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import Runnable, RunnableConfig, RunnableLambda, RunnableSequence
from langchain_core.tools import tool
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.prebuilt import ToolNode

import lightchat as cl
from lightchat import LightChat, Message
from lightchat.chat.session import ChatSession
from lightchat.cli import load_app
from lightchat.domain.events import Event, MessageData, StepData, TokenEvent
from lightchat.domain.generation import ChatGeneration, CompletionGeneration
from lightchat.domain.transcript import Transcript
from lightchat.integrations.langchain import HIDDEN_TAG, LangchainCallbackHandler
from lightchat.integrations.langchain_testing import ScriptedChatModel
from tests.helpers import WAIT_S, events_of, messages_in, new_session, wait_for_log

pytestmark = pytest.mark.timeout(20)
anyio = pytest.mark.anyio

Node = tuple[str, str, str, list[Any]]
"""A step as the tests compare it: (type, name, status, nested steps)."""


# -- what the runs are made of --------------------------------------------------------------


@tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    if city == "Mars":
        raise ValueError("no weather station on Mars")
    return f"sunny in {city}"


class Shelf(BaseRetriever):
    """The documents sharing a word with the query."""

    documents: list[Document]

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        words = set(query.lower().split())
        return [d for d in self.documents if words & set(d.page_content.lower().split())]


SHELF = Shelf(
    documents=[
        Document(page_content="paris is sunny in june", metadata={"source": "almanac"}),
        Document(page_content="oslo is cold in winter", metadata={"source": "atlas"}),
    ]
)


def ask_weather(city: str) -> AIMessage:
    call = ToolCall(name="get_weather", args={"city": city}, id=f"call-{city}")
    return AIMessage(content="", tool_calls=[call])


def after_the_tool(messages: list[BaseMessage]) -> str:
    return f"The tool says: {messages[-1].text}."


def agent_graph(
    model: Runnable[Any, BaseMessage], *, handle_tool_errors: bool = False, sync: bool = False
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """A LangGraph agent: a model node (a sync or an async function) and a tool node, in
    a loop until the model calls no tool."""

    def call_model(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [model.invoke(state["messages"])]}

    async def acall_model(state: MessagesState) -> dict[str, list[BaseMessage]]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    def route(state: MessagesState) -> Literal["tools", "__end__"]:
        last = state["messages"][-1]
        return "tools" if isinstance(last, AIMessage) and last.tool_calls else "__end__"

    builder = StateGraph(MessagesState)
    builder.add_node("agent", call_model if sync else acall_model)
    builder.add_node("tools", ToolNode([get_weather], handle_tool_errors=handle_tool_errors))
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route)
    builder.add_edge("tools", "agent")
    return builder.compile()


def weather_agent(city: str = "Paris", **options: Any) -> CompiledStateGraph[Any, Any, Any, Any]:
    model = ScriptedChatModel(replies=[ask_weather(city), after_the_tool])
    return agent_graph(model.bind_tools([get_weather]), **options)


def hello_chain() -> RunnableSequence[dict[str, str], str]:
    prompt = ChatPromptTemplate.from_messages([("system", "Be brief."), ("human", "{question}")])
    model = GenericFakeChatModel(messages=iter(["hello there friend"]))
    return RunnableSequence(prompt, model, StrOutputParser())


def config(handler: AsyncCallbackHandler) -> RunnableConfig:
    return RunnableConfig(callbacks=[handler])


class WordsLLM(FakeListLLM):
    """A text LLM that streams its scripted answers word by word."""

    @property
    def _llm_type(self) -> str:
        return "words"

    async def _astream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[GenerationChunk]:
        text = await self._acall(prompt, stop)
        for word in re.findall(r"\s*\S+", text):
            if run_manager is not None:
                await run_manager.on_llm_new_token(word)
            yield GenerationChunk(text=word)


# -- running it in a chat -------------------------------------------------------------------


async def in_chat(
    body: Callable[[], Awaitable[None]], *more: str
) -> tuple[ChatSession, list[Event]]:
    """Run ``body`` as the app's on_message for "go" (then the messages ``more``, which
    it answers with an echo); returns the session and its log."""
    app = LightChat()

    @app.on_message
    async def main(message: Message) -> None:
        if message.content == "go":
            await body()
        else:
            await cl.Message(content=f"echo: {message.content}").send()

    session = new_session(app)
    async with asyncio.timeout(WAIT_S):
        for text in ("go", *more):
            await session.send_user_message(text)
    return session, await events_of(session)


def tree(shown: Transcript, parent: str | None = None) -> list[Node]:
    """The steps as shown: at the top of the chat (``parent`` None), or in a step."""
    steps = [
        item
        for item in shown.items.values()
        if isinstance(item, StepData)
        and (item.parent_id == parent if parent else not shown.is_nested(item))
    ]
    return [(s.type, s.name, s.status, tree(shown, s.id)) for s in steps]


def now_shown() -> list[Node]:
    """The steps of the chat as the handler left them (before the run's end closes any
    step still open)."""
    return tree(cl.context.session.transcript)


def step_named(session: ChatSession, name: str, index: int = 0) -> StepData:
    found = [
        item
        for item in session.transcript.items.values()
        if isinstance(item, StepData) and item.name == name
    ]
    return found[index]


def answers(events: list[Event]) -> list[MessageData]:
    """The assistant's messages, each as last shown."""
    last: dict[str, MessageData] = {}
    for message in messages_in(events):
        if message.type != "user_message":
            last[message.id] = message
    return list(last.values())


def tokens_of(events: list[Event], item_id: str) -> list[str]:
    return [e.delta for e in events if isinstance(e, TokenEvent) and e.id == item_id]


# -- chains and runnables -------------------------------------------------------------------


@anyio
async def test_a_sequence_shows_its_model_call_and_hides_its_plumbing() -> None:
    shown: list[list[Node]] = []

    async def body() -> None:
        answer = cl.Message(content="")
        handler = LangchainCallbackHandler()
        async for chunk in hello_chain().astream({"question": "Hi?"}, config=config(handler)):
            await answer.stream_token(chunk)
        await answer.send()
        shown.append(now_shown())

    session, events = await in_chat(body)
    assert shown == [[("llm", "GenericFakeChatModel", "done", [])]]
    llm = step_named(session, "GenericFakeChatModel")
    assert json.loads(llm.input) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi?"},
    ]
    assert llm.output == "hello there friend"
    assert [m.content for m in answers(events)] == ["hello there friend"]


@anyio
async def test_to_ignore_and_to_keep_choose_the_steps_shown() -> None:
    shown: list[list[Node]] = []

    async def run(chain: Runnable[dict[str, str], str], **options: Any) -> None:
        handler = LangchainCallbackHandler(**options)
        await chain.ainvoke({"question": "Hi?"}, config=config(handler))
        shown.append(now_shown())
        for item in list(cl.context.session.transcript.items.values()):
            if isinstance(item, StepData):
                await cl.Step(name=item.name, id=item.id).remove()

    async def body() -> None:
        await run(hello_chain(), to_ignore=[])
        await run(hello_chain(), to_ignore=["RunnableSequence"], to_keep=["llm"])
        await run(hello_chain(), to_keep=[])
        await run(hello_chain(), to_ignore=["FakeChat"])
        prompt, model, parser = hello_chain().steps
        named = prompt | (model | parser).with_config(run_name="answer")
        await run(named)

    await in_chat(body)
    llm: Node = ("llm", "GenericFakeChatModel", "done", [])
    assert shown == [
        [
            (
                "run",
                "RunnableSequence",
                "done",
                [
                    ("undefined", "ChatPromptTemplate", "done", []),
                    llm,
                    ("undefined", "StrOutputParser", "done", []),
                ],
            )
        ],
        [llm],  # the sequence hidden by name, the prompt and parser with it
        [],  # nothing kept under the hidden sequence
        [  # only the model is hidden: its name holds "FakeChat"
            (
                "run",
                "RunnableSequence",
                "done",
                [
                    ("undefined", "ChatPromptTemplate", "done", []),
                    ("undefined", "StrOutputParser", "done", []),
                ],
            )
        ],
        # A named chain is kept under a hidden sequence (a chain is in to_keep), with
        # everything under it (it is shown).
        [("undefined", "answer", "done", [llm, ("undefined", "StrOutputParser", "done", [])])],
    ]


@anyio
async def test_runs_langchain_marks_hidden_are_not_shown() -> None:
    shown: list[list[Node]] = []

    def shout(text: str) -> str:
        return text.upper()

    async def body() -> None:
        hidden = RunnableLambda(shout).with_config(tags=[HIDDEN_TAG])
        chain = hello_chain() | hidden | RunnableLambda(shout)
        result = await chain.ainvoke({"question": "Hi?"}, config=config(LangchainCallbackHandler()))
        assert result == "HELLO THERE FRIEND"
        shown.append(now_shown())

    await in_chat(body)
    assert shown == [
        [("llm", "GenericFakeChatModel", "done", []), ("undefined", "shout", "done", [])]
    ]


@anyio
async def test_tokens_stream_into_the_llm_step_while_the_model_writes() -> None:
    seen: list[tuple[str, list[str]]] = []

    async def body() -> None:
        session = cl.context.session
        handler = LangchainCallbackHandler()
        stream = hello_chain().astream({"question": "Hi?"}, config=config(handler))
        assert await anext(stream) == "hello"  # the model waits here, mid-answer
        (step,) = handler.steps.values()
        events = await wait_for_log(
            session.bus, session.id, lambda events: bool(tokens_of(events, step.id))
        )
        shown = session.transcript.items[step.id]
        assert isinstance(shown, StepData)
        seen.append((shown.status, tokens_of(events, step.id)))
        async for _ in stream:
            pass

    session, events = await in_chat(body)
    assert seen == [("running", ["hello"])]
    llm = step_named(session, "GenericFakeChatModel")
    assert "".join(tokens_of(events, llm.id)) == "hello there friend"


@anyio
async def test_steps_nest_under_the_step_open_where_the_chain_runs() -> None:
    shown: list[list[Node]] = []

    async def body() -> None:
        async with cl.Step(name="research", type="run"):
            handler = LangchainCallbackHandler()
            await hello_chain().ainvoke({"question": "Hi?"}, config=config(handler))
        shown.append(now_shown())

    await in_chat(body)
    assert shown == [[("run", "research", "done", [("llm", "GenericFakeChatModel", "done", [])])]]


# -- tools and retrievers -------------------------------------------------------------------


@anyio
async def test_a_retriever_and_a_tool_show_what_they_were_asked_and_answered() -> None:
    shown: list[list[Node]] = []

    def context_of(documents: list[Document]) -> str:
        return "\n".join(d.page_content for d in documents)

    async def body() -> None:
        handler = LangchainCallbackHandler()
        prompt = ChatPromptTemplate.from_messages([("human", "{context}\n\n{question}")])
        rag = (
            {"context": SHELF | context_of, "question": lambda question: question}
            | prompt
            | FakeListChatModel(responses=["Sunny."])
            | StrOutputParser()
        )
        assert await rag.ainvoke("paris weather", config=config(handler)) == "Sunny."
        weather = await get_weather.ainvoke({"city": "Paris"}, config=config(handler))
        assert weather == "sunny in Paris"
        shown.append(now_shown())

    session, _ = await in_chat(body)
    assert shown == [
        [
            ("retrieval", "Shelf", "done", []),
            ("undefined", "context_of", "done", []),
            ("llm", "FakeListChatModel", "done", []),
            ("tool", "get_weather", "done", []),
        ]
    ]
    retrieval = step_named(session, "Shelf")
    assert retrieval.input == "paris weather"
    assert json.loads(retrieval.output) == [
        {"page_content": "paris is sunny in june", "metadata": {"source": "almanac"}}
    ]
    assert json.loads(step_named(session, "FakeListChatModel").input) == [
        {"role": "user", "content": "paris is sunny in june\n\nparis weather"}
    ]
    weather = step_named(session, "get_weather")
    assert json.loads(weather.input) == {"city": "Paris"}
    assert weather.output == "sunny in Paris"


@anyio
async def test_a_failing_tool_fails_its_step_and_the_chat_goes_on() -> None:
    handlers: list[LangchainCallbackHandler] = []

    async def body() -> None:
        handlers.append(LangchainCallbackHandler())
        await get_weather.ainvoke({"city": "Mars"}, config=config(handlers[0]))

    session, events = await in_chat(body, "still there?")
    (step,) = handlers[0].steps.values()
    assert step.is_error
    assert step.end is not None  # failed by the handler, not by the run's end
    shown = step_named(session, "get_weather")
    assert (shown.type, shown.status, shown.output) == (
        "tool",
        "failed",
        "no weather station on Mars",
    )
    assert [(m.type, m.content) for m in answers(events)] == [
        ("error", "ValueError: no weather station on Mars"),
        ("assistant_message", "echo: still there?"),
    ]


# -- LangGraph --------------------------------------------------------------------------------

AGENT_TREE: list[Node] = [
    (
        "run",
        "LangGraph",
        "done",
        [
            (
                "undefined",
                "agent",
                "done",
                [("llm", "ScriptedChatModel", "done", []), ("undefined", "route", "done", [])],
            ),
            ("undefined", "tools", "done", [("tool", "get_weather", "done", [])]),
            (
                "undefined",
                "agent",
                "done",
                [("llm", "ScriptedChatModel", "done", []), ("undefined", "route", "done", [])],
            ),
        ],
    )
]


@anyio
async def test_a_langgraph_agent_streamed_in_messages_mode_shows_its_nodes() -> None:
    shown: list[list[Node]] = []
    answer_ids: list[str] = []

    async def body() -> None:
        # The pattern of Chainlit's LangGraph docs, with the graph's async stream.
        handler = LangchainCallbackHandler()
        answer = cl.Message(content="")
        answer_ids.append(answer.id)
        question = {"messages": [HumanMessage(content="Weather in Paris?")]}
        async for item in weather_agent().astream(
            question, stream_mode="messages", config=config(handler)
        ):
            message, metadata = cast(tuple[BaseMessage, dict[str, Any]], item)
            if message.content and metadata["langgraph_node"] == "agent":
                await answer.stream_token(message.text)
        await answer.send()
        shown.append(now_shown())

    session, events = await in_chat(body)
    assert shown == [AGENT_TREE]
    first_call, second_call = (step_named(session, "ScriptedChatModel", i) for i in (0, 1))
    assert json.loads(first_call.output) == [{"name": "get_weather", "args": {"city": "Paris"}}]
    assert second_call.output == "The tool says: sunny in Paris."
    assert "".join(tokens_of(events, second_call.id)) == second_call.output
    tool = step_named(session, "get_weather")
    assert tool.parent_id == step_named(session, "tools").id
    assert tool.output == "sunny in Paris"
    (answer,) = answers(events)
    assert (answer.id, answer.content) == (answer_ids[0], "The tool says: sunny in Paris.")
    assert "".join(tokens_of(events, answer.id))  # it streamed


@anyio
async def test_a_failing_tool_in_a_graph_fails_its_step_and_the_agent_goes_on() -> None:
    handlers: list[LangchainCallbackHandler] = []

    async def body() -> None:
        handlers.append(LangchainCallbackHandler())
        graph = weather_agent("Mars", handle_tool_errors=True)
        question = {"messages": [HumanMessage(content="Weather on Mars?")]}
        result: dict[str, list[BaseMessage]] = await graph.ainvoke(
            question, config=config(handlers[0])
        )
        await cl.Message(content=result["messages"][-1].text).send()

    session, events = await in_chat(body)
    tool = step_named(session, "get_weather")
    assert (tool.status, tool.output) == ("failed", "no weather station on Mars")
    assert step_named(session, "tools").status == "done"
    assert [m.content for m in answers(events)][-1].startswith("The tool says: Error")
    assert step_named(session, "LangGraph").status == "done"


# -- sync code --------------------------------------------------------------------------------


@anyio
async def test_sync_chains_through_make_async_show_the_same_steps() -> None:
    shown: list[list[Node]] = []
    streamed: list[str] = []

    async def body() -> None:
        handler = LangchainCallbackHandler()
        await cl.make_async(hello_chain().invoke)({"question": "Hi?"}, config=config(handler))
        shown.append(now_shown())
        # Chainlit's docs: the sync stream, created in a thread and read here.
        for chunk in await cl.make_async(hello_chain().stream)(
            {"question": "Hi?"}, config=config(LangchainCallbackHandler())
        ):
            streamed.append(chunk)
        question = {"messages": [HumanMessage(content="Weather in Paris?")]}
        graph = weather_agent(sync=True)
        await cl.make_async(graph.invoke)(question, config=config(LangchainCallbackHandler()))
        shown.append(now_shown())

    session, events = await in_chat(body)
    llm: Node = ("llm", "GenericFakeChatModel", "done", [])
    assert shown == [[llm], [llm, llm, *AGENT_TREE]]
    assert "".join(streamed) == "hello there friend"
    streamed_step = step_named(session, "GenericFakeChatModel", 1)
    assert "".join(tokens_of(events, streamed_step.id)) == "hello there friend"
    assert step_named(session, "get_weather").output == "sunny in Paris"


# -- generations ------------------------------------------------------------------------------


@anyio
async def test_a_chat_model_step_carries_its_generation() -> None:
    handlers: list[LangchainCallbackHandler] = []

    async def body() -> None:
        handlers.append(LangchainCallbackHandler())
        model = ScriptedChatModel(replies=[ask_weather("Paris")], model_name="scripted-4")
        bound = model.bind_tools([get_weather]).bind(temperature=0.2, openai_api_key="sk-x")
        prompt = [SystemMessage(content="Use tools."), HumanMessage(content="Paris weather?")]
        async for _ in bound.astream(prompt, config=config(handlers[0])):
            pass

    session, _ = await in_chat(body)
    (step,) = handlers[0].steps.values()
    generation = step.generation
    assert isinstance(generation, ChatGeneration)
    assert (generation.provider, generation.model) == ("scriptedchatmodel", "scripted-4")
    assert generation.messages == [
        {"role": "system", "content": "Use tools."},
        {"role": "user", "content": "Paris weather?"},
    ]
    assert generation.message_completion == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "call-Paris",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    # The call's settings, without the key, the tools (they have their field) or "_type".
    assert generation.settings == {"model_name": "scripted-4", "stop": None, "temperature": 0.2}
    assert generation.tools is not None
    assert [t["function"]["name"] for t in generation.tools] == ["get_weather"]
    assert generation.tools[0]["type"] == "function"
    # Counted by the model: 4 words in, one tool call out.
    assert (generation.input_token_count, generation.output_token_count) == (4, 1)
    assert generation.token_count == 5
    assert generation.duration is not None
    assert generation.duration > 0
    assert generation.tt_first_token is not None
    assert 0 <= generation.tt_first_token <= generation.duration * 1000
    assert generation.token_throughput == pytest.approx(1 / generation.duration)
    # Published with the step (so stored and shown with it), in Literal AI's shape.
    published = step_named(session, "ScriptedChatModel").generation
    assert published is not None
    assert published == json.loads(json.dumps(generation.to_dict()))
    assert (published["model"], published["tokenCount"]) == ("scripted-4", 5)


@anyio
async def test_without_usage_the_streamed_chunks_are_counted() -> None:
    handlers: list[LangchainCallbackHandler] = []

    async def body() -> None:
        handlers.append(LangchainCallbackHandler())
        await hello_chain().ainvoke({"question": "Hi?"}, config=config(handlers[0]))
        async for _ in hello_chain().astream({"question": "Hi?"}, config=config(handlers[0])):
            pass

    await in_chat(body)
    whole, streamed = (step.generation for step in handlers[0].steps.values())
    assert isinstance(whole, ChatGeneration)
    assert isinstance(streamed, ChatGeneration)
    assert (whole.token_count, whole.tt_first_token, whole.token_throughput) == (None, None, None)
    assert whole.variables == {"question": "Hi?"}
    assert streamed.variables == {"question": "Hi?"}  # from the prompt: the stream defers
    assert (streamed.output_token_count, streamed.token_count) == (5, 5)  # "hello", " "...
    assert streamed.input_token_count is None
    assert streamed.message_completion == {"role": "assistant", "content": "hello there friend"}


@anyio
async def test_a_text_llm_step_carries_a_completion_generation() -> None:
    handlers: list[LangchainCallbackHandler] = []

    async def body() -> None:
        handlers.append(LangchainCallbackHandler())
        prompt = PromptTemplate.from_template("Say {what}.")
        streaming = prompt | WordsLLM(responses=["a b c"])
        async for _ in streaming.astream({"what": "abc"}, config=config(handlers[0])):
            pass
        await FakeListLLM(responses=["done"]).ainvoke("Finish.", config=config(handlers[0]))

    session, events = await in_chat(body)
    streamed, whole = (step.generation for step in handlers[0].steps.values())
    assert isinstance(streamed, CompletionGeneration)
    assert (streamed.prompt, streamed.completion) == ("Say abc.", "a b c")
    assert streamed.provider == "words"
    assert streamed.variables == {"what": "abc"}
    assert streamed.output_token_count == 3
    assert streamed.tt_first_token is not None
    assert isinstance(whole, CompletionGeneration)
    assert (whole.prompt, whole.completion, whole.settings["responses"]) == (
        "Finish.",
        "done",
        ["done"],
    )
    llm = step_named(session, "WordsLLM")
    assert (llm.input, llm.output) == ("Say abc.", "a b c")
    assert "".join(tokens_of(events, llm.id)) == "a b c"


# -- the final answer -------------------------------------------------------------------------

AGENT_TEXT = "I should check the almanac.\nFinal Answer: It is sunny in Paris."


@anyio
async def test_stream_final_answer_streams_what_follows_the_answer_prefix() -> None:
    handlers: list[LangchainCallbackHandler] = []

    async def body() -> None:
        handlers.append(LangchainCallbackHandler(stream_final_answer=True))
        model = GenericFakeChatModel(messages=iter([AGENT_TEXT]))
        async for _ in model.astream("Weather?", config=config(handlers[0])):
            pass

    session, events = await in_chat(body)
    handler = handlers[0]
    assert handler.answer_reached
    assert handler.has_streamed_final_answer
    assert handler.final_stream is not None
    (answer,) = answers(events)
    assert (answer.id, answer.content) == (handler.final_stream.id, "It is sunny in Paris.")
    assert not answer.streaming  # finished when the model call ended
    assert tokens_of(events, answer.id)  # streamed token by token
    assert step_named(session, "GenericFakeChatModel").output == AGENT_TEXT


@pytest.mark.parametrize(
    ("tokens", "prefix", "answer"),
    [
        (["Final", " Answer", ":", " Paris", "."], None, "Paris."),
        (["Final Answer:", " Paris."], None, "Paris."),
        (["Final", " ", "Answer:", " ", "Paris"], None, "Paris"),
        (["Final Answer: Par", "is"], None, "Paris"),
        (["Thinking", " about", " it."], None, None),
        (["FINAL", "-", "ANSWER", " Paris"], ["FINAL", "-", "ANSWER"], "Paris"),
    ],
)
@anyio
async def test_the_answer_prefix_is_found_however_the_model_splits_it(
    tokens: list[str], prefix: list[str] | None, answer: str | None
) -> None:
    handlers: list[LangchainCallbackHandler] = []

    async def body() -> None:
        handler = LangchainCallbackHandler(stream_final_answer=True, answer_prefix_tokens=prefix)
        handlers.append(handler)
        for token in tokens:
            await handler.on_llm_new_token(token, run_id=uuid4())

    await in_chat(body)
    final = handlers[0].final_stream
    assert (final.content if final is not None else None) == answer


@anyio
async def test_force_stream_final_answer_streams_every_token() -> None:
    handlers: list[LangchainCallbackHandler] = []

    async def body() -> None:
        handler = LangchainCallbackHandler(stream_final_answer=True, force_stream_final_answer=True)
        handlers.append(handler)
        async for _ in hello_chain().astream({"question": "Hi?"}, config=config(handler)):
            pass

    _, events = await in_chat(body)
    assert [m.content for m in answers(events)] == ["hello there friend"]


# -- failures -------------------------------------------------------------------------------


class BrokenMidway(ScriptedChatModel):
    """Streams two words of its answer, then fails."""

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        count = 0
        async for chunk in super()._astream(messages, stop, run_manager, **kwargs):
            yield chunk
            count += 1
            if count == 2:
                raise ConnectionError("the provider hung up")


@anyio
async def test_a_model_failing_midway_keeps_what_it_streamed() -> None:
    handlers: list[LangchainCallbackHandler] = []

    async def body() -> None:
        handler = LangchainCallbackHandler(stream_final_answer=True, force_stream_final_answer=True)
        handlers.append(handler)
        model = BrokenMidway(replies=["Paris is sunny today"])
        async for _ in model.astream("Weather?", config=config(handler)):
            pass

    session, events = await in_chat(body, "still there?")
    (step,) = handlers[0].steps.values()
    assert step.is_error
    assert step.end is not None
    shown = step_named(session, "BrokenMidway")
    assert (shown.status, shown.output) == ("failed", "Paris is\n\nthe provider hung up")
    assert [(m.type, m.content, m.streaming) for m in answers(events)] == [
        ("assistant_message", "Paris is", False),
        ("error", "ConnectionError: the provider hung up", False),
        ("assistant_message", "echo: still there?", False),
    ]


@anyio
async def test_stop_mid_answer_keeps_what_streamed_and_the_chat_goes_on() -> None:
    reached = asyncio.Event()
    handlers: list[LangchainCallbackHandler] = []

    class StuckMidway(ScriptedChatModel):
        """Streams two words of its answer, then waits for ever."""

        async def _astream(
            self,
            messages: list[BaseMessage],
            stop: list[str] | None = None,
            run_manager: AsyncCallbackManagerForLLMRun | None = None,
            **kwargs: Any,
        ) -> AsyncIterator[ChatGenerationChunk]:
            chunks = super()._astream(messages, stop, run_manager, **kwargs)
            yield await anext(chunks)
            yield await anext(chunks)
            reached.set()
            await asyncio.Event().wait()

    app = LightChat()

    @app.on_message
    async def main(message: Message) -> None:
        if message.content != "go":
            await cl.Message(content=f"echo: {message.content}").send()
            return
        handler = LangchainCallbackHandler(stream_final_answer=True, force_stream_final_answer=True)
        handlers.append(handler)
        model = StuckMidway(replies=["Paris is sunny today"])
        async for _ in model.astream("Weather?", config=config(handler)):
            pass

    session = new_session(app)
    async with asyncio.timeout(WAIT_S):
        done = session.send_user_message("go")
        await reached.wait()
        assert await session.stop() is True
        await done
        await session.send_user_message("still there?")

    events = await events_of(session)
    shown = step_named(session, "StuckMidway")
    assert (shown.status, shown.output) == ("failed", "Paris is")  # no word of the cancel
    assert [(m.content, m.streaming) for m in answers(events)] == [
        ("Paris is", False),
        ("echo: still there?", False),
    ]
    assert handlers[0].has_streamed_final_answer


@anyio
async def test_outside_a_chat_the_handler_shows_nothing_and_the_chain_runs() -> None:
    handler = LangchainCallbackHandler()
    answer = await hello_chain().ainvoke({"question": "Hi?"}, config=config(handler))
    assert answer == "hello there friend"
    assert handler.steps == {}


def test_chainlits_names_are_one_langchain_callback_handler() -> None:
    assert cl.LangchainCallbackHandler is cl.AsyncLangchainCallbackHandler
    assert cl.LangchainCallbackHandler is LangchainCallbackHandler
    assert issubclass(LangchainCallbackHandler, AsyncCallbackHandler)
    handler = LangchainCallbackHandler()
    assert handler.answer_prefix_tokens == ["Final", "Answer", ":"]
    assert (handler.stream_final_answer, handler.answer_reached) == (False, False)
    assert "RunnableSequence" in handler.to_ignore
    assert "llm" in handler.to_keep


def test_the_scripted_model_repeats_its_last_reply_and_keeps_its_prompts() -> None:
    model = ScriptedChatModel(replies=["one", lambda messages: f"{len(messages)} messages"])
    assert model.invoke("a").text == "one"
    assert model.invoke([HumanMessage("a"), HumanMessage("b")]).text == "2 messages"
    chunks: Iterator[Any] = model.stream("c")
    assert [c.text for c in chunks] == ["1", " messages", ""]
    assert [len(p) for p in model.prompts] == [1, 2, 1]


# -- the examples -----------------------------------------------------------------------------

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


async def run_example(folder: str, question: str) -> tuple[ChatSession, list[Event]]:
    """The example as `lightchat serve` loads it, offline, asked one question."""
    app = load_app(str(EXAMPLES / folder / "app.py"))
    session = new_session(app, app.settings)
    async with asyncio.timeout(WAIT_S):
        await session.start()
        await session.send_user_message(question)
    return session, await events_of(session)


@pytest.mark.usefixtures("isolated_import")
@anyio
async def test_the_langchain_example_answers_offline_showing_its_steps(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    session, events = await run_example("16_langchain", "What's the weather in Paris?")
    assert tree(session.transcript) == [
        ("llm", "ScriptedChatModel", "done", []),
        ("tool", "get_weather", "done", []),
        ("llm", "ScriptedChatModel", "done", []),
    ]
    assert step_named(session, "get_weather").output == "Paris: sunny, 21 °C"
    assert [m.content for m in answers(events)] == ["Here is the weather. Paris: sunny, 21 °C."]


@pytest.mark.usefixtures("isolated_import")
@anyio
async def test_the_langgraph_example_streams_the_final_node_and_shows_the_graph(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    session, events = await run_example("17_langgraph", "What's the weather in Oslo?")
    (graph,) = tree(session.transcript)
    assert graph[:3] == ("run", "LangGraph", "done")
    assert [(node[1], [step[1] for step in node[3]]) for node in graph[3]] == [
        ("agent", ["ScriptedChatModel", "should_continue"]),
        ("tools", ["get_weather"]),
        ("agent", ["ScriptedChatModel", "should_continue"]),
        ("final", ["ScriptedChatModel"]),
    ]
    (answer,) = answers(events)
    assert answer.content == (
        "Good evening, weather fans! The weather in Oslo: snowing, -3 °C. Back to you!"
    )
    assert "".join(tokens_of(events, answer.id)).strip()  # streamed, not sent whole
