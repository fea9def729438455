"""A scripted LLM server on loopback, speaking OpenAI's and Mistral's HTTP APIs, so the
official clients can be tested against it with no network and no key.

It is a real HTTP server in a thread, on a free port. It answers:

- OpenAI's Chat Completions, ``POST {openai_url}/chat/completions``: a whole answer, or
  with ``stream=true`` server-sent chunks (the text in pieces, tool calls in deltas, a last
  chunk of usage when ``stream_options.include_usage`` asks for it, then ``[DONE]``);
- OpenAI's Responses API, ``POST {openai_url}/responses``: a whole response, or its
  streamed events (``response.created`` ... ``response.output_text.delta`` ...
  ``response.completed``);
- Mistral's chat API, ``POST {mistral_url}/v1/chat/completions``: Mistral's shape, whole
  or streamed (tool calls whole in one chunk, usage in the last chunk, then ``[DONE]``).

A test scripts the replies, in order, and reads the requests the server received::

    with LLMServer() as llm:
        llm.script(
            Reply(["Hel", "lo"]),  # the text in the chunks given (a string: word by word)
            Reply(tool_calls=[ToolCall("weather", {"city": "Paris"})], usage=Usage(12, 3)),
            Reply(status=429, error="Rate limit reached"),
        )
        client = openai.OpenAI(base_url=llm.openai_url, api_key="test", max_retries=0)
        ...
        assert llm.requests[0].body["model"] == "gpt-4o-mini"

A reply can pause a streamed answer: with ``hold_after=n`` the server sends n pieces of
text, sets ``reply.holding`` and waits for ``reply.release()``; with ``cut_after=n`` it
drops the connection after n pieces, as a network failure would; ``pace_s`` spaces the
pieces out, for a demo to watch. A request with no scripted reply left gets the
``default`` reply function's answer, or a 500 saying so.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

from lightchat.testing import tokenize

Api = Literal["chat", "responses", "mistral"]
Json = dict[str, Any]

HOLD_LIMIT_S = 30.0
"""The longest a held reply waits for ``release()`` before it goes on anyway."""

_PATHS: dict[str, Api] = {
    "/v1/chat/completions": "chat",
    "/v1/responses": "responses",
    "/mistral/v1/chat/completions": "mistral",
}


@dataclass
class ToolCall:
    """A call of one of the request's tools; ``arguments`` as a dict or as JSON text."""

    name: str
    arguments: dict[str, Any] | str = field(default_factory=dict)
    id: str | None = None
    """The call's id (made up when None: ``call_<n>``, nine characters for Mistral)."""

    @property
    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


@dataclass
class Usage:
    """The token counts a reply reports."""

    input_tokens: int
    output_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass
class Reply:
    """One scripted answer.

    ``text``: a list is the streamed pieces as given; a string is cut word by word. ``usage``
    None counts the words of the prompt and the pieces of the answer. ``model`` None
    answers with the model the request named. A ``status`` other than 200 answers with the
    API's error body, its message ``error``.
    """

    text: str | Sequence[str] = ""
    tool_calls: Sequence[ToolCall] = ()
    usage: Usage | None = None
    model: str | None = None
    status: int = 200
    error: str = "Something went wrong."
    hold_after: int | None = None
    """Stream this many pieces of text, then wait for ``release()``."""
    cut_after: int | None = None
    """Stream this many pieces of text, then drop the connection."""
    pace_s: float = 0.0
    """Seconds between streamed pieces, for a demo to watch (tests hold instead)."""
    holding: threading.Event = field(default_factory=threading.Event, repr=False)
    """Set once a held reply has sent its first ``hold_after`` pieces."""
    _released: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def pieces(self) -> list[str]:
        return tokenize(self.text) if isinstance(self.text, str) else list(self.text)

    @property
    def content(self) -> str:
        return "".join(self.pieces)

    def release(self) -> None:
        """Let a held reply go on."""
        self._released.set()

    def wait_holding(self, timeout: float = 5.0) -> None:
        """Wait until the server holds this reply (its first pieces are out)."""
        if not self.holding.wait(timeout):
            raise AssertionError(f"the server did not reach the hold of {self!r}")

    def _pause(self, sent: int) -> None:
        if self.hold_after is not None and sent == self.hold_after:
            self.holding.set()
            self._released.wait(HOLD_LIMIT_S)


@dataclass
class Request:
    """A request the server received."""

    api: Api
    path: str
    headers: dict[str, str]
    """Header names in lower case."""
    body: Json

    @property
    def streamed(self) -> bool:
        return bool(self.body.get("stream"))

    @property
    def prompt(self) -> str:
        """The text of the last user message (Responses API: of the input)."""
        if self.api == "responses":
            given = self.body.get("input", "")
            if isinstance(given, str):
                return given
            return _text_of(_last_user(given))
        return _text_of(_last_user(self.body.get("messages", [])))


def _last_user(messages: list[Json]) -> Json:
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    return users[-1] if users else {}


def _text_of(message: Json) -> str:
    content = message.get("content", "")
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content or [] if isinstance(part, dict))


class _Dropped(Exception):
    """A reply's ``cut_after`` was reached: the connection is dropped."""


class LLMServer:
    """The scripted server (see the module's docstring); a context manager that stops it."""

    def __init__(self, *replies: Reply, default: Callable[[Request], Reply] | None = None) -> None:
        self.default = default
        self._replies: list[Reply] = list(replies)
        self._requests: list[Request] = []
        self._given: list[Reply] = []
        self._lock = threading.Condition()
        self._ids = itertools.count(1)
        self._http = _HTTPServer(self)
        self.port = int(self._http.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.openai_url = f"{self.url}/v1"
        """The ``base_url`` of an OpenAI client."""
        self.mistral_url = f"{self.url}/mistral"
        """The ``server_url`` of a Mistral client."""
        self._thread = threading.Thread(
            target=self._http.serve_forever, args=(0.02,), name="scripted LLM", daemon=True
        )
        self._thread.start()

    def __enter__(self) -> LLMServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def script(self, *replies: Reply) -> None:
        """Add replies, answered in order after those already scripted."""
        with self._lock:
            self._replies.extend(replies)

    @property
    def requests(self) -> list[Request]:
        """The requests received so far, in order."""
        with self._lock:
            return list(self._requests)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[Request]:
        """Wait until ``count`` requests have arrived; the requests."""
        with self._lock:
            if not self._lock.wait_for(lambda: len(self._requests) >= count, timeout):
                raise AssertionError(f"{len(self._requests)} requests came, not {count}")
            return list(self._requests)

    def close(self) -> None:
        """Stop serving: let held replies go, close the listening socket and the open
        connections."""
        with self._lock:
            for reply in [*self._replies, *self._given]:
                reply.release()
        self._http.shutdown()
        self._http.server_close()
        self._http.close_connections()
        self._thread.join(5)

    def new_id(self) -> int:
        return next(self._ids)

    def take(self, request: Request) -> Reply:
        """Record ``request``; the reply it gets."""
        with self._lock:
            self._requests.append(request)
            self._lock.notify_all()
            if self._replies:
                reply = self._replies.pop(0)
            elif self.default is not None:
                reply = self.default(request)
            else:
                reply = Reply(status=500, error="The scripted server has no reply left.")
            self._given.append(reply)
            return reply


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, llm: LLMServer) -> None:
        self.llm = llm
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def close_connections(self) -> None:
        """End the connections clients keep open, so their threads finish."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):  # already closed by the client
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: tests read the requests from LLMServer.requests

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        api = _PATHS.get(self.path.partition("?")[0])
        if api is None:
            self._send_json(404, {"error": {"message": f"No route {self.path}", "type": "404"}})
            return
        llm = self.server.llm
        request = Request(
            api=api,
            path=self.path,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=json.loads(raw or b"{}"),
        )
        reply = llm.take(request)
        if reply.status != 200:
            self._send_json(reply.status, _error_body(api, reply))
            return
        answer = _Answer(llm, request, reply)
        if not request.streamed:
            self._send_json(200, answer.whole())
            return
        try:
            self._send_events(answer.events())
        except _Dropped:
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client went away mid-answer

    def _send_json(self, status: int, body: Json) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_events(self, events: Iterator[bytes]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for event in events:
            self.wfile.write(f"{len(event):x}\r\n".encode() + event + b"\r\n")
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def _error_body(api: Api, reply: Reply) -> Json:
    kind = {400: "invalid_request_error", 401: "authentication_error"}.get(
        reply.status, "rate_limit_error" if reply.status == 429 else "server_error"
    )
    if api == "mistral":
        return {
            "object": "error",
            "message": reply.error,
            "type": kind,
            "param": None,
            "code": None,
        }
    return {"error": {"message": reply.error, "type": kind, "param": None, "code": None}}


def _sse(data: Json | str, event: str | None = None) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data)
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {text}\n\n".encode()


def _halves(text: str) -> list[str]:
    """A tool call's arguments in two pieces, as a streamed answer sends them."""
    middle = len(text) // 2
    return [piece for piece in (text[:middle], text[middle:]) if piece]


class _Answer:
    """One reply to one request, in the shape of the request's API."""

    def __init__(self, llm: LLMServer, request: Request, reply: Reply) -> None:
        self.request = request
        self.reply = reply
        self.number = llm.new_id()
        self.created = int(time.time())
        self.model = reply.model or str(request.body.get("model", "scripted-model"))
        self.calls = [
            (call, call.id or self._call_id(i)) for i, call in enumerate(reply.tool_calls)
        ]

    def _call_id(self, index: int) -> str:
        if self.request.api == "mistral":
            return f"{self.number:04d}{index:05d}"  # Mistral's ids: nine letters or digits
        return f"call_{self.number}_{index}"

    @property
    def usage(self) -> Usage:
        if self.reply.usage is not None:
            return self.reply.usage
        prompt = json.dumps(self.request.body.get("messages") or self.request.body.get("input"))
        arguments = sum(len(tokenize(call.arguments_json)) for call in self.reply.tool_calls)
        return Usage(len(prompt.split()), len(self.reply.pieces) + arguments)

    def whole(self) -> Json:
        if self.request.api == "responses":
            return self._response("completed", self._response_output())
        if self.request.api == "mistral":
            return self._mistral_whole()
        return self._chat_whole()

    def events(self) -> Iterator[bytes]:
        if self.request.api == "responses":
            return self._response_events()
        if self.request.api == "mistral":
            return self._mistral_events()
        return self._chat_events()

    def _pieces(self) -> Iterator[str]:
        """The text's pieces, pausing or failing where the reply says."""
        pieces = self.reply.pieces
        for sent, piece in enumerate(pieces):
            self._stop_at(sent)
            yield piece
        self._stop_at(len(pieces))

    def _stop_at(self, sent: int) -> None:
        if sent and self.reply.pace_s:
            time.sleep(self.reply.pace_s)  # a demo's pace, as a model writes
        self.reply._pause(sent)
        if self.reply.cut_after is not None and sent == self.reply.cut_after:
            raise _Dropped

    # -- OpenAI Chat Completions --------------------------------------------------------

    def _chat_usage(self) -> Json:
        usage = self.usage
        return {
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
            "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def _chat_head(self) -> Json:
        return {
            "id": f"chatcmpl-{self.number}",
            "created": self.created,
            "model": self.model,
            "service_tier": "default",
            "system_fingerprint": "fp_scripted",
        }

    def _finish_reason(self) -> str:
        return "tool_calls" if self.calls else "stop"

    def _chat_whole(self) -> Json:
        message: Json = {
            "role": "assistant",
            "content": self.reply.content or None,
            "refusal": None,
            "annotations": [],
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
        return {
            **self._chat_head(),
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": self._finish_reason(),
                }
            ],
            "usage": self._chat_usage(),
        }

    def _chat_chunk(self, delta: Json, finish: str | None = None) -> bytes:
        chunk: Json = {
            **self._chat_head(),
            "object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
        }
        if self._include_usage():
            chunk["usage"] = None
        return _sse(chunk)

    def _include_usage(self) -> bool:
        options = self.request.body.get("stream_options") or {}
        return bool(options.get("include_usage"))

    def _chat_events(self) -> Iterator[bytes]:
        yield self._chat_chunk({"role": "assistant", "content": "", "refusal": None})
        for piece in self._pieces():
            yield self._chat_chunk({"content": piece})
        for index, (call, call_id) in enumerate(self.calls):
            yield self._chat_chunk(
                {
                    "tool_calls": [
                        {
                            "index": index,
                            "id": call_id,
                            "type": "function",
                            "function": {"name": call.name, "arguments": ""},
                        }
                    ]
                }
            )
            for piece in _halves(call.arguments_json):
                yield self._chat_chunk(
                    {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
                )
        yield self._chat_chunk({}, self._finish_reason())
        if self._include_usage():
            yield _sse(
                {
                    **self._chat_head(),
                    "object": "chat.completion.chunk",
                    "choices": [],
                    "usage": self._chat_usage(),
                }
            )
        yield _sse("[DONE]")

    # -- OpenAI Responses ---------------------------------------------------------------

    def _message_item(self, status: str, text: str | None) -> Json:
        content = [] if text is None else [self._text_part(text)]
        return {
            "id": f"msg_{self.number}",
            "type": "message",
            "status": status,
            "role": "assistant",
            "content": content,
        }

    @staticmethod
    def _text_part(text: str) -> Json:
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}

    def _call_item(self, index: int, status: str, arguments: str) -> Json:
        call, call_id = self.calls[index]
        return {
            "id": f"fc_{self.number}_{index}",
            "type": "function_call",
            "status": status,
            "call_id": call_id,
            "name": call.name,
            "arguments": arguments,
        }

    def _response_output(self) -> list[Json]:
        items = [self._message_item("completed", self.reply.content)] if self.reply.pieces else []
        for index, (call, _) in enumerate(self.calls):
            items.append(self._call_item(index, "completed", call.arguments_json))
        return items

    def _response(self, status: str, output: list[Json]) -> Json:
        body = self.request.body
        usage = self.usage
        return {
            "id": f"resp_{self.number}",
            "object": "response",
            "created_at": self.created,
            "status": status,
            "background": False,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": self.model,
            "output": output,
            "parallel_tool_calls": True,
            "previous_response_id": body.get("previous_response_id"),
            "reasoning": {"effort": None, "summary": None},
            "store": True,
            "temperature": body.get("temperature", 1.0),
            "text": {"format": {"type": "text"}},
            "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools", []),
            "top_p": body.get("top_p", 1.0),
            "truncation": "disabled",
            "usage": None
            if status != "completed"
            else {
                "input_tokens": usage.input_tokens,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": usage.output_tokens,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": usage.total_tokens,
            },
            "user": None,
            "metadata": {},
        }

    def _response_events(self) -> Iterator[bytes]:
        numbers = itertools.count()

        def event(kind: str, **data: Any) -> bytes:
            return _sse({"type": kind, "sequence_number": next(numbers), **data}, kind)

        yield event("response.created", response=self._response("in_progress", []))
        yield event("response.in_progress", response=self._response("in_progress", []))
        index = 0
        if self.reply.pieces:
            item = f"msg_{self.number}"
            place = {"item_id": item, "output_index": 0, "content_index": 0}
            yield event(
                "response.output_item.added",
                output_index=0,
                item=self._message_item("in_progress", None),
            )
            yield event("response.content_part.added", **place, part=self._text_part(""))
            for piece in self._pieces():
                yield event("response.output_text.delta", **place, delta=piece, logprobs=[])
            text = self.reply.content
            yield event("response.output_text.done", **place, text=text, logprobs=[])
            yield event("response.content_part.done", **place, part=self._text_part(text))
            yield event(
                "response.output_item.done",
                output_index=0,
                item=self._message_item("completed", text),
            )
            index = 1
        for number, (call, _) in enumerate(self.calls):
            position = index + number
            item = f"fc_{self.number}_{number}"
            yield event(
                "response.output_item.added",
                output_index=position,
                item=self._call_item(number, "in_progress", ""),
            )
            for piece in _halves(call.arguments_json):
                yield event(
                    "response.function_call_arguments.delta",
                    item_id=item,
                    output_index=position,
                    delta=piece,
                )
            yield event(
                "response.function_call_arguments.done",
                item_id=item,
                output_index=position,
                name=call.name,
                arguments=call.arguments_json,
            )
            yield event(
                "response.output_item.done",
                output_index=position,
                item=self._call_item(number, "completed", call.arguments_json),
            )
        yield event(
            "response.completed", response=self._response("completed", self._response_output())
        )

    # -- Mistral ------------------------------------------------------------------------

    def _mistral_usage(self) -> Json:
        usage = self.usage
        return {
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.total_tokens,
        }

    def _mistral_calls(self) -> list[Json]:
        return [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json},
                "index": index,
            }
            for index, (call, call_id) in enumerate(self.calls)
        ]

    def _mistral_head(self) -> Json:
        return {"id": f"{self.number:032x}", "created": self.created, "model": self.model}

    def _mistral_whole(self) -> Json:
        return {
            **self._mistral_head(),
            "object": "chat.completion",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": self.reply.content,
                        "tool_calls": self._mistral_calls() or None,
                        "prefix": False,
                    },
                    "finish_reason": self._finish_reason(),
                }
            ],
            "usage": self._mistral_usage(),
        }

    def _mistral_chunk(self, delta: Json, finish: str | None = None, **more: Any) -> bytes:
        return _sse(
            {
                **self._mistral_head(),
                "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **more,
            }
        )

    def _mistral_events(self) -> Iterator[bytes]:
        yield self._mistral_chunk({"role": "assistant", "content": ""})
        for piece in self._pieces():
            yield self._mistral_chunk({"content": piece})
        if self.calls:
            yield self._mistral_chunk({"tool_calls": self._mistral_calls()})
        yield self._mistral_chunk(
            {"content": ""}, self._finish_reason(), usage=self._mistral_usage()
        )
        yield _sse("[DONE]")
