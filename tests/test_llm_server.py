"""The scripted LLM server (tests/llm_server.py) answers the official clients as the real
APIs do: OpenAI's Chat Completions and Responses, Mistral's chat, whole and streamed."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest
from mistralai.client import Mistral
from mistralai.client.errors import SDKError
from mistralai.client.models import UserMessageTypedDict
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from tests.llm_server import LLMServer, Reply, ToolCall, Usage

pytestmark = pytest.mark.timeout(20)

QUESTION: list[ChatCompletionMessageParam] = [
    {"role": "user", "content": "What is the weather in Paris?"}
]
IN_MISTRAL: list[UserMessageTypedDict] = [{"role": "user", "content": "Quel temps fait-il ?"}]
WEATHER: ChatCompletionToolParam = {
    "type": "function",
    "function": {
        "name": "weather",
        "description": "The weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


@pytest.fixture
def llm() -> Iterator[LLMServer]:
    with LLMServer() as server:
        yield server


@pytest.fixture
def client(llm: LLMServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=llm.openai_url, api_key="test", max_retries=0) as client:
        yield client


@pytest.fixture
def mistral(llm: LLMServer) -> Iterator[Mistral]:
    with Mistral(api_key="test", server_url=llm.mistral_url) as client:
        yield client


def test_a_chat_completion_whole(llm: LLMServer, client: openai.OpenAI) -> None:
    llm.script(Reply("Sunny, 24 °C.", usage=Usage(11, 5), model="gpt-4o-mini-2024-07-18"))
    completion = client.chat.completions.create(
        model="gpt-4o-mini", messages=QUESTION, temperature=0.2
    )
    assert completion.choices[0].message.content == "Sunny, 24 °C."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "gpt-4o-mini-2024-07-18"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (11, 5)
    (request,) = llm.requests
    assert (request.api, request.streamed) == ("chat", False)
    assert request.prompt == "What is the weather in Paris?"
    assert request.body["temperature"] == 0.2
    assert request.headers["authorization"] == "Bearer test"


def test_a_streamed_chat_completion_sends_the_pieces_tool_calls_and_usage(
    llm: LLMServer, client: openai.OpenAI
) -> None:
    llm.script(Reply(["Let me ", "check."], tool_calls=[ToolCall("weather", {"city": "Paris"})]))
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=QUESTION,
            tools=[WEATHER],
            stream=True,
            stream_options={"include_usage": True},
        )
    )
    texts = [c.choices[0].delta.content for c in chunks if c.choices]
    assert [t for t in texts if t] == ["Let me ", "check."]
    deltas = [call for c in chunks if c.choices for call in c.choices[0].delta.tool_calls or []]
    assert deltas[0].function is not None
    assert (deltas[0].id, deltas[0].function.name) == ("call_1_0", "weather")
    arguments = "".join(d.function.arguments or "" for d in deltas if d.function)
    assert json.loads(arguments) == {"city": "Paris"}
    assert len(deltas) > 2  # the arguments come in pieces, as OpenAI sends them
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


def test_no_usage_chunk_unless_asked(llm: LLMServer, client: openai.OpenAI) -> None:
    llm.script(Reply("Hi"))
    chunks = list(client.chat.completions.create(model="m", messages=QUESTION, stream=True))
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)


def test_the_chat_stream_helper_assembles_the_answer(llm: LLMServer, client: openai.OpenAI) -> None:
    llm.script(Reply("It is sunny.", tool_calls=[ToolCall("weather", '{"city": "Paris"}')]))
    with client.chat.completions.stream(model="m", messages=QUESTION) as stream:
        for _ in stream:
            pass
        message = stream.get_final_completion().choices[0].message
    assert message.content == "It is sunny."
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert call.type == "function"
    assert (call.function.name, call.function.arguments) == ("weather", '{"city": "Paris"}')


def test_a_response_whole_and_streamed(llm: LLMServer, client: openai.OpenAI) -> None:
    llm.script(
        Reply("Sunny.", tool_calls=[ToolCall("weather", {"city": "Paris"})]),
        Reply(["Sun", "ny."]),
    )
    response = client.responses.create(model="gpt-4o", input="Weather?", instructions="Be brief.")
    assert response.output_text == "Sunny."
    assert [item.type for item in response.output] == ["message", "function_call"]
    assert response.usage is not None
    assert response.usage.output_tokens > 0
    assert response.instructions == "Be brief."
    events = list(client.responses.create(model="gpt-4o", input="Weather?", stream=True))
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    deltas = [e.delta for e in events if e.type == "response.output_text.delta"]
    assert deltas == ["Sun", "ny."]
    assert [r.api for r in llm.requests] == ["responses", "responses"]
    assert llm.requests[0].prompt == "Weather?"


def test_the_responses_stream_helper_assembles_text_and_calls(
    llm: LLMServer, client: openai.OpenAI
) -> None:
    llm.script(Reply("Checking.", tool_calls=[ToolCall("weather", {"city": "Oslo"})]))
    question = [{"role": "user", "content": [{"type": "input_text", "text": "Oslo?"}]}]
    with client.responses.stream(model="gpt-4o", input=question) as stream:  # type: ignore[arg-type]
        for _ in stream:
            pass
        response = stream.get_final_response()
    assert response.output_text == "Checking."
    call = response.output[1]
    assert call.type == "function_call"
    assert (call.name, json.loads(call.arguments)) == ("weather", {"city": "Oslo"})
    assert llm.requests[0].prompt == "Oslo?"


@pytest.mark.anyio
async def test_the_async_client(llm: LLMServer) -> None:
    llm.script(Reply("One"), Reply(["T", "wo"]))
    async with openai.AsyncOpenAI(base_url=llm.openai_url, api_key="t", max_retries=0) as client:
        whole = await client.chat.completions.create(model="m", messages=QUESTION)
        assert whole.choices[0].message.content == "One"
        stream = await client.chat.completions.create(model="m", messages=QUESTION, stream=True)
        pieces = [c.choices[0].delta.content async for c in stream if c.choices]
    assert "".join(p or "" for p in pieces) == "Two"


def test_an_error_status_is_the_clients_error(llm: LLMServer, client: openai.OpenAI) -> None:
    llm.script(Reply(status=429, error="Rate limit reached"), Reply(status=400, error="Bad"))
    with pytest.raises(openai.RateLimitError, match="Rate limit reached") as raised:
        client.chat.completions.create(model="m", messages=QUESTION)
    assert raised.value.status_code == 429
    with pytest.raises(openai.BadRequestError, match="Bad"):
        client.responses.create(model="m", input="hi", stream=True)


def test_no_reply_left_is_a_500_unless_a_default_answers(
    llm: LLMServer, client: openai.OpenAI
) -> None:
    with pytest.raises(openai.InternalServerError, match="no reply left"):
        client.chat.completions.create(model="m", messages=QUESTION)
    llm.default = lambda request: Reply(f"You asked: {request.prompt}")
    answer = client.chat.completions.create(model="m", messages=QUESTION)
    assert answer.choices[0].message.content == "You asked: What is the weather in Paris?"


def test_a_held_reply_waits_for_release(llm: LLMServer, client: openai.OpenAI) -> None:
    reply = Reply(["one ", "two ", "three"], hold_after=2)
    llm.script(reply)
    stream = client.chat.completions.create(model="m", messages=QUESTION, stream=True)
    first = [next(stream) for _ in range(3)]  # the role, then two pieces
    assert [c.choices[0].delta.content for c in first] == ["", "one ", "two "]
    reply.wait_holding()
    reply.release()
    rest = [c.choices[0].delta.content for c in stream]
    assert rest[0] == "three"


def test_a_cut_reply_drops_the_connection_mid_answer(llm: LLMServer, client: openai.OpenAI) -> None:
    llm.script(Reply(["one ", "two ", "three"], cut_after=1))
    got: list[str] = []
    with pytest.raises(openai.APIConnectionError):  # noqa: PT012 - the pieces before the cut
        for chunk in client.chat.completions.create(model="m", messages=QUESTION, stream=True):
            got.append(chunk.choices[0].delta.content or "")
    assert "".join(got) == "one "


def test_mistral_whole_and_streamed(llm: LLMServer, mistral: Mistral) -> None:
    llm.script(
        Reply("Il fait beau.", tool_calls=[ToolCall("weather", {"city": "Paris"})]),
        Reply(["Il fait ", "beau."], tool_calls=[ToolCall("weather", {"city": "Lyon"})]),
    )
    whole = mistral.chat.complete(model="mistral-small-latest", messages=IN_MISTRAL)
    message = whole.choices[0].message
    assert message is not None
    assert message.content == "Il fait beau."
    assert isinstance(message.tool_calls, list)
    call = message.tool_calls[0]
    assert call.function.name == "weather"
    assert call.id is not None
    assert len(call.id) == 9
    assert whole.usage.total_tokens
    stream = mistral.chat.stream(model="mistral-small-latest", messages=IN_MISTRAL)
    chunks = [event.data for event in stream]
    assert "".join(str(c.choices[0].delta.content or "") for c in chunks) == "Il fait beau."
    calls = [call for c in chunks for call in c.choices[0].delta.tool_calls or []]
    assert [json.loads(str(c.function.arguments)) for c in calls] == [{"city": "Lyon"}]
    assert chunks[-1].usage is not None
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert [r.api for r in llm.requests] == ["mistral", "mistral"]


@pytest.mark.anyio
async def test_mistral_async_and_an_error(llm: LLMServer) -> None:
    llm.script(Reply(["Salut"]), Reply(status=401, error="Unauthorized"))
    async with Mistral(api_key="test", server_url=llm.mistral_url) as mistral:
        stream = await mistral.chat.stream_async(model="m", messages=IN_MISTRAL)
        pieces = [event.data.choices[0].delta.content async for event in stream]
        assert "".join(str(p or "") for p in pieces) == "Salut"
        with pytest.raises(SDKError, match="Unauthorized") as raised:
            await mistral.chat.complete_async(model="m", messages=IN_MISTRAL)
    assert raised.value.status_code == 401
