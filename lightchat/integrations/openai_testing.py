"""OpenAI's Chat Completions API, scripted and in process, for an app's tests: real
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

Only Chat Completions are answered (any other path is a 404, as an unknown route).
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
    """The text of a request's last user message (what the script's functions get)."""
    users = [
        m for m in body.get("messages") or [] if isinstance(m, dict) and m.get("role") == "user"
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

    def _take(self, request: httpx2.Request) -> _Completion | httpx2.Response:
        """The completion a request gets, or the response that refuses it."""
        if request.method != "POST" or not request.url.path.endswith("/chat/completions"):
            return _error(
                404,
                f"No route {request.method} {request.url.path}: the scripted "
                "API answers chat completions only.",
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
        return _Completion(request, body, reply, next(self._numbers), self.script)

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


def _sse(data: Json | str) -> bytes:
    return f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n".encode()


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
