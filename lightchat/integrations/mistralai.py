"""``cl.instrument_mistralai()``: every chat call of the official ``mistralai`` client made
inside a chat shows as an ``llm`` step, as in Chainlit.

``client.chat.complete`` and ``client.chat.stream`` and their async forms
(``complete_async``, ``stream_async``; the ``parse`` helpers go through them). The step
(see ``lightchat.integrations.calls``) shows the messages, the answer, live for a stream,
and records ``step.generation``: the model, the settings, the tools, the tool calls (in
OpenAI's shape, their arguments as JSON text) and the token usage. Calls made outside a
chat are left alone.

Example::

    import lightchat as cl
    from mistralai.client import Mistral

    client = Mistral()  # MISTRAL_API_KEY
    cl.instrument_mistralai()

    @cl.on_message
    async def main(message: cl.Message):
        answer = cl.Message(content="")
        stream = await client.chat.stream_async(
            model="mistral-small-latest",
            messages=[{"role": "user", "content": message.content}],
        )
        async for event in stream:
            await answer.stream_token(str(event.data.choices[0].delta.content or ""))
        await answer.send()
"""

from __future__ import annotations

from typing import Any

from lightchat.domain.generation import GenerationMessage
from lightchat.integrations import require
from lightchat.integrations.calls import (
    Answer,
    LLMCall,
    Traced,
    arguments_text,
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
    from mistralai.client.chat import Chat
    from mistralai.client.types import UNSET
    from mistralai.client.utils.eventstreaming import EventStream, EventStreamAsync
except ImportError:
    require("mistralai", "mistralai")  # names the extra when the library is missing
    raise

PROVIDER = "mistralai"
_NOT_SETTINGS = {
    "messages",
    "tools",
    "stream",
    "retries",
    "server_url",
    "timeout_ms",
    "http_headers",
}
_METHODS = [
    ("complete", False),
    ("stream", False),
    ("complete_async", True),
    ("stream_async", True),
]


def instrument_mistralai() -> None:
    """Show every chat call of the ``mistralai`` client made inside a chat as an ``llm``
    step, from now on (Chainlit's ``cl.instrument_mistralai``). Calling it again changes
    nothing."""
    how = Traced(
        begin=_begin,
        whole=_answer,
        reader=_Reader,
        streams=(EventStream, EventStreamAsync),
        stream_attribute="generator",
    )
    for name, is_async in _METHODS:
        patch(Chat, name, traced_async(how) if is_async else traced(how))


def uninstrument_mistralai() -> None:
    """Undo ``instrument_mistralai``: the client's calls are no longer shown (for tests)."""
    for name, _ in _METHODS:
        unpatch(Chat, name)


def _given(value: Any) -> bool:
    return value is not None and value is not UNSET and type(value) is not type(UNSET)


def _tool_call(call: Any) -> dict[str, Any]:
    """A Mistral tool call in OpenAI's shape (its arguments as JSON text)."""
    data = plain(call)
    function = data.get("function") or {}
    return {
        "id": data.get("id"),
        "type": "function",
        "function": {
            "name": function.get("name"),
            "arguments": arguments_text(function.get("arguments", {})),
        },
    }


def _message(message: Any) -> GenerationMessage:
    shown = generation_message(message)
    if "tool_calls" in shown:
        shown["tool_calls"] = [_tool_call(call) for call in shown["tool_calls"]]
    return shown


def _begin(kwargs: dict[str, Any]) -> LLMCall:
    materialize(kwargs, "messages", "tools")
    messages = kwargs.get("messages")
    tools = kwargs.get("tools")
    model = kwargs.get("model")
    return LLMCall(
        provider=PROVIDER,
        model=str(model) if _given(model) else "",
        messages=[_message(m) for m in messages] if isinstance(messages, list | tuple) else [],
        settings=settings_of(kwargs, _NOT_SETTINGS, _given),
        tools=[plain(tool) for tool in tools] if isinstance(tools, list | tuple) else None,
    )


def _text(content: Any) -> str:
    """A message's content as text: a string, or the text of its chunks."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(getattr(chunk, "text", "")) for chunk in content)
    return ""


def _usage(answer: Answer, usage: Any) -> None:
    if usage is not None:
        answer.input_tokens = usage.prompt_tokens
        answer.output_tokens = usage.completion_tokens
        answer.total_tokens = usage.total_tokens


def _calls(calls: Any) -> list[dict[str, Any]]:
    return [_tool_call(call) for call in calls] if isinstance(calls, list) else []


def _answer(response: Any) -> Answer:
    answer = Answer(model=getattr(response, "model", None))
    _usage(answer, getattr(response, "usage", None))
    choices = getattr(response, "choices", None) or []
    message = choices[0].message if choices else None
    if message is not None:
        answer.text = _text(message.content)
        answer.tool_calls = _calls(message.tool_calls)
    return answer


class _Reader:
    """Reads the events of a streamed chat: text deltas, whole tool calls, the usage the
    last chunk carries."""

    def __init__(self) -> None:
        self._answer = Answer()

    def read(self, event: Any) -> str:
        chunk = event.data
        self._answer.model = chunk.model or self._answer.model
        _usage(self._answer, chunk.usage)
        if not chunk.choices:
            return ""
        delta = chunk.choices[0].delta
        self._answer.tool_calls += _calls(delta.tool_calls)
        text = _text(delta.content)
        self._answer.text += text
        return text

    def answer(self) -> Answer:
        return self._answer
