"""``cl.instrument_openai()``: every call of the official ``openai`` client made inside a
chat shows as an ``llm`` step, as in Chainlit.

Chat completions (``client.chat.completions.create``, ``.parse`` and the ``.stream``
helper) and the Responses API (``client.responses.create``, ``.parse``, ``.stream``), of
``OpenAI`` and ``AsyncOpenAI`` (and the Azure clients, which share them), whole or
streamed. The step (see ``lightchat.integrations.calls``) shows the messages (a Responses
call's instructions as the system message, its input as the messages), the answer, live
for a stream, and records ``step.generation``: the model, the settings, the tools, the
tool calls and the token usage. Calls made outside a chat are left alone, and so are those
through ``with_raw_response`` and ``with_streaming_response``; only the first choice of
a call asking for several (``n``) is shown.

Example::

    import lightchat as cl
    from openai import AsyncOpenAI

    client = AsyncOpenAI()
    cl.instrument_openai()

    @cl.on_message
    async def main(message: cl.Message):
        answer = cl.Message(content="")
        stream = await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": message.content}],
            stream=True,
        )
        async for chunk in stream:
            if chunk.choices:
                await answer.stream_token(chunk.choices[0].delta.content or "")
        await answer.send()
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lightchat.domain.generation import GenerationMessage
from lightchat.integrations import require
from lightchat.integrations.calls import (
    Answer,
    LLMCall,
    Traced,
    generation_message,
    materialize,
    patch,
    plain,
    settings_of,
    traced,
    traced_async,
    unpatch,
)

try:
    from openai import AsyncStream, NotGiven, Omit, Stream
    from openai.resources.chat.completions import AsyncCompletions, Completions
    from openai.resources.responses import AsyncResponses, Responses
except ImportError:
    require("openai", "openai")  # names the extra when the library is missing
    raise

PROVIDER = "openai"
_NOT_SETTINGS = {
    "messages",
    "input",
    "instructions",
    "tools",
    "functions",
    "stream",
    "stream_options",
    "extra_headers",
    "extra_query",
    "extra_body",
    "timeout",
}
_RAW_RESPONSE = "X-Stainless-Raw-Response"  # what with_raw_response / with_streaming_response add


def instrument_openai() -> None:
    """Show every chat completion and Responses API call of the ``openai`` client made
    inside a chat as an ``llm`` step, from now on (Chainlit's ``cl.instrument_openai``).
    Calling it again changes nothing."""
    for owner, name, how, is_async in _methods():
        patch(owner, name, traced_async(how) if is_async else traced(how))


def uninstrument_openai() -> None:
    """Undo ``instrument_openai``: the client's calls are no longer shown (for tests)."""
    for owner, name, _, _ in _methods():
        unpatch(owner, name)


def _methods() -> list[tuple[type, str, Traced, bool]]:
    chat = Traced(
        begin=_begin_chat,
        whole=_chat_answer,
        reader=_ChatReader,
        streams=(Stream, AsyncStream),
        stream_attribute="_iterator",
        untraced=_untraced,
    )
    responses = Traced(
        begin=_begin_response,
        whole=_response_answer,
        reader=_ResponseReader,
        streams=(Stream, AsyncStream),
        stream_attribute="_iterator",
        untraced=_untraced,
    )
    return [
        (owner, name, how, is_async)
        for owner, how, is_async in (
            (Completions, chat, False),
            (AsyncCompletions, chat, True),
            (Responses, responses, False),
            (AsyncResponses, responses, True),
        )
        for name in ("create", "parse")
    ]


def _given(value: Any) -> bool:
    return not isinstance(value, NotGiven | Omit)


def _untraced(kwargs: dict[str, Any]) -> bool:
    headers = kwargs.get("extra_headers")
    return isinstance(headers, Mapping) and _RAW_RESPONSE in headers


def _listed(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []


def _call(kwargs: dict[str, Any], messages: list[GenerationMessage]) -> LLMCall:
    model = kwargs.get("model")
    tools = [plain(tool) for tool in _listed(kwargs.get("tools"))]
    tools += [{"type": "function", "function": plain(f)} for f in _listed(kwargs.get("functions"))]
    return LLMCall(
        provider=PROVIDER,
        model=str(model) if _given(model) and model else "",
        messages=messages,
        settings=settings_of(kwargs, _NOT_SETTINGS, _given),
        tools=tools or None,
    )


def _usage(answer: Answer, usage: Any) -> None:
    """Token counts from a chat completion's or a response's usage."""
    if usage is None:
        return
    answer.input_tokens = getattr(usage, "prompt_tokens", getattr(usage, "input_tokens", None))
    answer.output_tokens = getattr(
        usage, "completion_tokens", getattr(usage, "output_tokens", None)
    )
    answer.total_tokens = getattr(usage, "total_tokens", None)


# -- chat completions ---------------------------------------------------------------------


def _begin_chat(kwargs: dict[str, Any]) -> LLMCall:
    materialize(kwargs, "messages", "tools", "functions")
    return _call(kwargs, [generation_message(m) for m in _listed(kwargs.get("messages"))])


def _first_choice(choices: Any) -> Any:
    return next((c for c in choices or [] if getattr(c, "index", 0) == 0), None)


def _chat_answer(completion: Any) -> Answer:
    answer = Answer(model=getattr(completion, "model", None))
    _usage(answer, getattr(completion, "usage", None))
    choice = _first_choice(getattr(completion, "choices", None))
    if choice is not None:
        message = choice.message
        answer.text = message.content or getattr(message, "refusal", None) or ""
        answer.tool_calls = [plain(call) for call in message.tool_calls or []]
    return answer


class _ChatReader:
    """Reads the chunks of a streamed chat completion: text, tool calls in deltas, usage."""

    def __init__(self) -> None:
        self._answer = Answer()
        self._calls: dict[int, dict[str, Any]] = {}

    def read(self, chunk: Any) -> str:
        self._answer.model = getattr(chunk, "model", None) or self._answer.model
        _usage(self._answer, getattr(chunk, "usage", None))
        choice = _first_choice(getattr(chunk, "choices", None))
        if choice is None:
            return ""
        delta = choice.delta
        for call in delta.tool_calls or []:
            self._add_call(call)
        text: str = delta.content or getattr(delta, "refusal", None) or ""
        self._answer.text += text
        return text

    def _add_call(self, delta: Any) -> None:
        call = self._calls.setdefault(
            delta.index, {"id": None, "type": "function", "function": {"name": "", "arguments": ""}}
        )
        call["id"] = delta.id or call["id"]
        if delta.function is not None:
            call["function"]["name"] += delta.function.name or ""
            call["function"]["arguments"] += delta.function.arguments or ""

    def answer(self) -> Answer:
        self._answer.tool_calls = [self._calls[index] for index in sorted(self._calls)]
        return self._answer


# -- the Responses API ----------------------------------------------------------------------


def _begin_response(kwargs: dict[str, Any]) -> LLMCall:
    materialize(kwargs, "input", "tools")
    messages: list[GenerationMessage] = []
    instructions = kwargs.get("instructions")
    if isinstance(instructions, str) and instructions:
        messages.append({"role": "system", "content": instructions})
    given = kwargs.get("input")
    if isinstance(given, str):
        messages.append({"role": "user", "content": given})
    for item in _listed(given):
        messages.extend(_input_messages(item))
    return _call(kwargs, messages)


def _input_messages(item: Any) -> list[GenerationMessage]:
    """One item of a Responses call's input as messages: a message, a function call (the
    assistant's) or its output (a tool's). Other items (reasoning...) are not shown."""
    data = plain(item)
    if not isinstance(data, dict):
        return []
    kind = data.get("type", "message")
    if kind == "function_call":
        call = {
            "id": data.get("call_id"),
            "type": "function",
            "function": {"name": data.get("name"), "arguments": data.get("arguments")},
        }
        return [{"role": "assistant", "content": None, "tool_calls": [call]}]
    if kind == "function_call_output":
        output = data.get("output")
        return [
            {
                "role": "tool",
                "tool_call_id": str(data.get("call_id")),
                "content": output if isinstance(output, str | list) else str(output),
            }
        ]
    return [generation_message(data)] if "role" in data else []


def _response_answer(response: Any) -> Answer:
    answer = Answer(model=getattr(response, "model", None))
    _usage(answer, getattr(response, "usage", None))
    texts: list[str] = []
    for item in getattr(response, "output", None) or []:
        if item.type == "message":
            texts += [part.text for part in item.content if part.type == "output_text"]
        elif item.type == "function_call":
            answer.tool_calls.append(
                {
                    "id": item.call_id,
                    "type": "function",
                    "function": {"name": item.name, "arguments": item.arguments},
                }
            )
    answer.text = "".join(texts)
    error = getattr(response, "error", None)
    if error is not None:
        answer.error = str(getattr(error, "message", error))
    return answer


class _ResponseReader:
    """Reads a streamed response's events: its text deltas, then the whole response."""

    def __init__(self) -> None:
        self._answer = Answer()

    def read(self, event: Any) -> str:
        kind = getattr(event, "type", "")
        if kind == "response.output_text.delta":
            text: str = event.delta
            self._answer.text += text
            return text
        if kind in ("response.completed", "response.incomplete", "response.failed"):
            whole = _response_answer(event.response)
            whole.text = whole.text or self._answer.text
            whole.error = whole.error or self._answer.error
            self._answer = whole
        elif kind == "error":
            self._answer.error = str(getattr(event, "message", "error"))
        return ""

    def answer(self) -> Answer:
        return self._answer
