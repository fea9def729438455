"""OpenAI's Chat Completions and Responses APIs, scripted and in process, for an app's tests: real
``openai`` clients whose HTTP goes to an in-process transport that answers from a script.

``ScriptedOpenAI`` takes a script (``lightchat.testing.FakeModel``) and makes clients
(``async_client()``, ``client()``) that need no key and no network. Each
``chat.completions.create`` gets the script's next reply, in the API's own shapes: a whole
completion, or with ``stream=True`` its chunks (the text in the script's pieces, tool calls
in deltas, the usage last when ``stream_options.include_usage`` asks for it); the
script's pauses are kept. A reply that fails answers with the API's error (a string: that
HTTP status, which the client raises as its ``RateLimitError``, ``InternalServerError``...;
an exception: a network failure, which it raises as ``APITimeoutError`` for a
``TimeoutError``, else ``APIConnectionError``), or, with ``fail_after``, breaks off its
stream there (an error event, which it raises as ``APIError``).
``cl.instrument_openai()`` shows the calls as steps, as it shows real ones::

    from lightchat.testing import FakeModel, ScriptedOpenAI, ToolCall

    api = ScriptedOpenAI(FakeModel([ToolCall("get_weather", {"city": "Paris"}), "Sunny."]))
    client = api.async_client()  # an openai.AsyncOpenAI
    ...
    assert api.requests[0]["model"] == "gpt-4o-mini"

The Responses API is answered from the same script: ``responses.create`` gets a whole
``Response`` (a ``message`` item with the text, a ``function_call`` item per tool call,
usage) or, with ``stream=True``, its events as the API sends them (``response.created``,
each item's ``output_item.added``, the text's ``output_text.delta`` per piece, the
arguments' ``function_call_arguments.delta``, ``output_item.done``, then
``response.completed``); a stream that breaks off with ``fail_after`` ends with
``response.failed`` carrying the error. ``responses.stream`` and ``responses.parse`` work off
the same answers. Only these two APIs are answered (any other path is a 404, as an unknown
route).
"""

# ruff: noqa: E402 - the client is imported once ``require`` has named its extra

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Protocol

from lightchat.integrations import require

require("openai", "openai")

import httpx2
from openai import AsyncOpenAI, OpenAI

__all__ = ["BASE_URL", "Script", "ScriptedOpenAI"]

BASE_URL = "https://scripted-openai.invalid/v1"
"""The address the scripted clients talk to (nothing is sent: ``.invalid`` never resolves)."""

Json = dict[str, Any]


class ScriptedCall(Protocol):
    """A tool call of a scripted reply (``lightchat.testing.ToolCall``)."""

    @property
    def name(self) -> str: ...

    @property
    def arguments_json(self) -> str: ...

    @property
    def id(self) -> str | None: ...


class ScriptedTurn(Protocol):
    """A scripted reply (``lightchat.testing.ModelReply``)."""

    @property
    def pieces(self) -> list[str]: ...

    @property
    def content(self) -> str: ...

    @property
    def tool_calls(self) -> Sequence[ScriptedCall]: ...

    @property
    def error(self) -> BaseException | str | None: ...

    @property
    def status(self) -> int: ...

    @property
    def fail_after(self) -> int | None: ...

    @property
    def usage(self) -> tuple[int, int] | None: ...


class Script(Protocol):
    """What answers the requests (``lightchat.testing.FakeModel``)."""

    @property
    def name(self) -> str: ...

    def next_reply(self, prompt: str) -> ScriptedTurn: ...

    def pause_of(self, reply: Any) -> float: ...


def prompt_of(body: Json) -> str:
    """The text of a request's last user message (what the script's functions get): of its
    ``messages`` (Chat Completions) or its ``input`` (Responses: text, or a list of items)."""
    given = body.get("input")
    if isinstance(given, str):
        return given
    listed = body.get("messages") if given is None else given
    users = [
        m
        for m in listed or []
        if isinstance(m, dict) and m.get("role") == "user" and m.get("type", "message") == "message"
    ]
    content = users[-1].get("content", "") if users else ""
    if isinstance(content, str):
        return content
    return "".join(p.get("text", "") for p in content or [] if isinstance(p, dict))


class ScriptedOpenAI:
    """OpenAI's API answering from ``script`` (see the module docstring).

    ``requests`` holds the body of every request received, in order.
    """

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[Json] = []
        self._numbers = itertools.count(1)

    def async_client(self, **options: Any) -> AsyncOpenAI:
        """An ``openai.AsyncOpenAI`` answered by the script (``options`` go to it)."""
        transport = httpx2.MockTransport(self._answer_async)
        return AsyncOpenAI(
            **{
                "api_key": "scripted",
                "base_url": BASE_URL,
                "max_retries": 0,
                "http_client": httpx2.AsyncClient(transport=transport),
                **options,
            }
        )

    def client(self, **options: Any) -> OpenAI:
        """An ``openai.OpenAI`` answered by the script (``options`` go to it)."""
        transport = httpx2.MockTransport(self._answer)
        return OpenAI(
            **{
                "api_key": "scripted",
                "base_url": BASE_URL,
                "max_retries": 0,
                "http_client": httpx2.Client(transport=transport),
                **options,
            }
        )

    # -- the transport's handlers ---------------------------------------------------------

    def _take(self, request: httpx2.Request) -> _Completion | _Response | httpx2.Response:
        """The answer a request gets, or the response that refuses it."""
        path = request.url.path
        answers: dict[str, type[_Completion | _Response]] = {
            "/chat/completions": _Completion,
            "/responses": _Response,
        }
        kind = next((k for route, k in answers.items() if path.endswith(route)), None)
        if request.method != "POST" or kind is None:
            return _error(
                404,
                f"No route {request.method} {path}: the scripted API answers "
                "chat completions and responses only.",
            )
        try:
            body = json.loads(request.content or b"{}")
        except ValueError:
            return _error(400, "The request's body is not JSON.")
        self.requests.append(body)
        reply = self.script.next_reply(prompt_of(body))
        if reply.error is not None and (reply.fail_after is None or not body.get("stream")):
            if isinstance(reply.error, BaseException):
                raise _network_error(reply.error, request)
            return _error(reply.status, reply.error)
        return kind(request, body, reply, next(self._numbers), self.script)

    def _answer(self, request: httpx2.Request) -> httpx2.Response:
        taken = self._take(request)
        if isinstance(taken, httpx2.Response):
            return taken
        if not taken.streamed:
            time.sleep(taken.pause * len(taken.reply.pieces))
            return _json(200, taken.whole())
        return _events(_paced(taken.chunks(), taken.pause))

    async def _answer_async(self, request: httpx2.Request) -> httpx2.Response:
        taken = self._take(request)
        if isinstance(taken, httpx2.Response):
            return taken
        if not taken.streamed:
            await asyncio.sleep(taken.pause * len(taken.reply.pieces))
            return _json(200, taken.whole())
        return _events(_paced_async(taken.chunks(), taken.pause))


def _network_error(error: BaseException, request: httpx2.Request) -> BaseException:
    """A scripted exception as the network would raise it: the client's own exceptions
    as they are, a ``TimeoutError`` as a timeout, anything else as a broken connection."""
    if isinstance(error, httpx2.TransportError):
        return error
    text = str(error) or type(error).__name__
    if isinstance(error, TimeoutError):
        return httpx2.ReadTimeout(text, request=request)
    return httpx2.ConnectError(text, request=request)


def _json(status: int, body: Json) -> httpx2.Response:
    return httpx2.Response(status, json=body)


def _error(status: int, message: str) -> httpx2.Response:
    kind = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found"}.get(
        status, "rate_limit_error" if status == 429 else "server_error"
    )
    return _json(status, {"error": {"message": message, "type": kind, "param": None, "code": None}})


def _events(chunks: Iterator[bytes] | AsyncIterator[bytes]) -> httpx2.Response:
    return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=chunks)


_PIECE = object()  # before a chunk that carries a piece of the text: the pause goes there


def _paced(chunks: Iterator[bytes | object], pause: float) -> Iterator[bytes]:
    for chunk in chunks:
        if chunk is _PIECE:
            if pause:
                time.sleep(pause)
        else:
            assert isinstance(chunk, bytes)
            yield chunk


async def _paced_async(chunks: Iterator[bytes | object], pause: float) -> AsyncIterator[bytes]:
    for chunk in chunks:
        if chunk is _PIECE:
            if pause:
                await asyncio.sleep(pause)
        else:
            assert isinstance(chunk, bytes)
            yield chunk


def _sse(data: Json | str, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()


class _Completion:
    """One scripted reply to one request, in the shapes of Chat Completions."""

    def __init__(
        self, request: httpx2.Request, body: Json, reply: ScriptedTurn, number: int, script: Script
    ) -> None:
        self.request = request
        self.body = body
        self.reply = reply
        self.number = number
        self.pause = script.pause_of(reply)
        self.model = str(body.get("model") or script.name)
        self.created = int(time.time())
        self.streamed = bool(body.get("stream"))
        self.calls = [
            (call, call.id or f"call_{number}_{index}")
            for index, call in enumerate(reply.tool_calls)
        ]

    def _usage(self) -> Json:
        if self.reply.usage is not None:
            given, made = self.reply.usage
        else:
            given = len(json.dumps(self.body.get("messages", [])).split())
            made = len(self.reply.pieces) + sum(
                len(call.arguments_json.split()) for call, _ in self.calls
            )
        return {"prompt_tokens": given, "completion_tokens": made, "total_tokens": given + made}

    def _head(self, kind: str) -> Json:
        return {
            "id": f"chatcmpl-scripted-{self.number}",
            "object": kind,
            "created": self.created,
            "model": self.model,
            "system_fingerprint": "fp_scripted",
        }

    def _finish(self) -> str:
        return "tool_calls" if self.calls else "stop"

    def whole(self) -> Json:
        """The completion, whole."""
        message: Json = {
            "role": "assistant",
            "content": self.reply.content or None,
            "refusal": None,
        }
        if self.calls:
            message["tool_calls"] = [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": call.name, "arguments": call.arguments_json},
                }
                for call, call_id in self.calls
            ]
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": self._finish()}
        return {**self._head("chat.completion"), "choices": [choice], "usage": self._usage()}

    def _chunk(self, delta: Json, finish: str | None = None) -> bytes:
        chunk: Json = {
            **self._head("chat.completion.chunk"),
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if self._with_usage():
            chunk["usage"] = None
        return _sse(chunk)

    def _with_usage(self) -> bool:
        options = self.body.get("stream_options") or {}
        return bool(options.get("include_usage"))

    def chunks(self) -> Iterator[bytes | object]:
        """The streamed completion's events; ``_PIECE`` marks where a pause goes."""
        reply = self.reply
        yield self._chunk({"role": "assistant", "content": "", "refusal": None})
        for sent, piece in enumerate(reply.pieces):
            if reply.fail_after is not None and sent >= reply.fail_after:
                break
            yield _PIECE
            yield self._chunk({"content": piece})
        if reply.error is not None:  # with fail_after: the stream breaks off here
            if isinstance(reply.error, BaseException):
                raise _network_error(reply.error, self.request)
            yield _sse({"error": {"message": reply.error, "type": "server_error", "code": None}})
            return
        for index, (call, call_id) in enumerate(self.calls):
            head = {"index": index, "id": call_id, "type": "function"}
            yield self._chunk(
                {"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]}
            )
            text = call.arguments_json
            for part in (text[: len(text) // 2], text[len(text) // 2 :]):
                if part:
                    yield self._chunk(
                        {"tool_calls": [{"index": index, "function": {"arguments": part}}]}
                    )
        yield self._chunk({}, self._finish())
        if self._with_usage():
            usage = {**self._head("chat.completion.chunk"), "choices": [], "usage": self._usage()}
            yield _sse(usage)
        yield _sse("[DONE]")


class _Response:
    """One scripted reply to one request, in the shapes of the Responses API."""

    def __init__(
        self, request: httpx2.Request, body: Json, reply: ScriptedTurn, number: int, script: Script
    ) -> None:
        self.request = request
        self.body = body
        self.reply = reply
        self.number = number
        self.pause = script.pause_of(reply)
        self.model = str(body.get("model") or script.name)
        self.created = int(time.time())
        self.streamed = bool(body.get("stream"))
        self.id = f"resp_scripted_{number}"
        self.message_id = f"msg_scripted_{number}"
        self.calls = [
            (call, call.id or f"call_{number}_{index}", f"fc_scripted_{number}_{index}")
            for index, call in enumerate(reply.tool_calls)
        ]
        self._sequence = itertools.count()

    def _usage(self) -> Json:
        if self.reply.usage is not None:
            given, made = self.reply.usage
        else:
            asked = [self.body.get("instructions"), self.body.get("input")]
            given = len(json.dumps(asked).split())
            made = len(self.reply.pieces) + sum(
                len(call.arguments_json.split()) for call, _, _ in self.calls
            )
        return {
            "input_tokens": given,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": made,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": given + made,
        }

    def _has_message(self) -> bool:
        return bool(self.reply.content) or not self.calls or self.reply.error is not None

    def _message(self, text: str | None, status: str = "completed") -> Json:
        content = [] if text is None else [_output_text(text)]
        return {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "status": status,
            "content": content,
        }

    def _call(self, index: int, arguments: str, status: str = "completed") -> Json:
        call, call_id, item_id = self.calls[index]
        return {
            "id": item_id,
            "type": "function_call",
            "call_id": call_id,
            "name": call.name,
            "arguments": arguments,
            "status": status,
        }

    def _output(self) -> list[Json]:
        output = [self._message(self.reply.content)] if self._has_message() else []
        return output + [
            self._call(index, call.arguments_json) for index, (call, _, _) in enumerate(self.calls)
        ]

    def _response(self, status: str, output: list[Json], error: Json | None = None) -> Json:
        body = self.body
        done = status == "completed"
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "completed_at": int(time.time()) if done else None,
            "status": status,
            "error": error,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "metadata": body.get("metadata") or {},
            "model": self.model,
            "output": output,
            "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": body.get("previous_response_id"),
            "temperature": body.get("temperature", 1.0),
            "text": body.get("text") or {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [],
            "top_p": body.get("top_p", 1.0),
            "truncation": body.get("truncation", "disabled"),
            "usage": self._usage() if done else None,
            "user": body.get("user"),
        }

    def whole(self) -> Json:
        """The response, whole."""
        return self._response("completed", self._output())

    def _event(self, kind: str, **fields: Any) -> bytes:
        event = {"type": kind, "sequence_number": next(self._sequence), **fields}
        return _sse(event, kind)

    def chunks(self) -> Iterator[bytes | object]:
        """The streamed response's events; ``_PIECE`` marks where a pause goes."""
        reply = self.reply
        yield self._event("response.created", response=self._response("in_progress", []))
        yield self._event("response.in_progress", response=self._response("in_progress", []))
        output: list[Json] = []
        if self._has_message():
            where = {"item_id": self.message_id, "output_index": 0}
            yield self._event(
                "response.output_item.added",
                output_index=0,
                item=self._message(None, "in_progress"),
            )
            yield self._event(
                "response.content_part.added", **where, content_index=0, part=_output_text("")
            )
            for sent, piece in enumerate(reply.pieces):
                if reply.fail_after is not None and sent >= reply.fail_after:
                    break
                yield _PIECE
                yield self._event(
                    "response.output_text.delta", **where, content_index=0, delta=piece, logprobs=[]
                )
            if reply.error is not None:  # with fail_after: the response fails here
                if isinstance(reply.error, BaseException):
                    raise _network_error(reply.error, self.request)
                error = {"code": "server_error", "message": reply.error}
                yield self._event("response.failed", response=self._response("failed", [], error))
                return
            text = reply.content
            yield self._event(
                "response.output_text.done", **where, content_index=0, text=text, logprobs=[]
            )
            yield self._event(
                "response.content_part.done", **where, content_index=0, part=_output_text(text)
            )
            output.append(self._message(text))
            yield self._event("response.output_item.done", output_index=0, item=output[-1])
        for index, (call, _, item_id) in enumerate(self.calls):
            where = {"item_id": item_id, "output_index": len(output)}
            added = self._call(index, "", "in_progress")
            yield self._event("response.output_item.added", output_index=len(output), item=added)
            text = call.arguments_json
            for part in (text[: len(text) // 2], text[len(text) // 2 :]):
                if part:
                    yield self._event("response.function_call_arguments.delta", **where, delta=part)
            yield self._event("response.function_call_arguments.done", **where, arguments=text)
            done = self._call(index, text)
            yield self._event("response.output_item.done", output_index=len(output), item=done)
            output.append(done)
        yield self._event("response.completed", response=self._response("completed", output))


def _output_text(text: str) -> Json:
    return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
