"""OpenTelemetry: with ``otel_endpoint``, a chat's runs and steps reach a real OTLP/HTTP
receiver on loopback as a span tree (the run at the root, steps nested as they ran, their
own start and end times, errors as statuses), an ``llm`` step with its generation as a
GenAI inference span; the last batch is sent when the server stops. Without the setting,
nothing of OpenTelemetry is imported."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from lightchat import ChatGeneration, LightChat, Message, Settings, Step
from lightchat.domain.events import StepData
from lightchat.errors import ConfigError
from lightchat.telemetry import traces_url
from tests.helpers import Serve, idle, steps_in, wait_for_log

pytestmark = pytest.mark.anyio


# -- a collector on loopback -------------------------------------------------------------


class _Receiver(ThreadingHTTPServer):
    """What the collector received: every span of every ``/v1/traces`` post, decoded."""

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.spans: list[Span] = []
        self.resources: list[dict[str, Any]] = []
        self.paths: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: _Receiver

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        with self.server.lock:
            self.server.paths.append(self.path)
            for resource_spans in request.resource_spans:
                self.server.resources.append(_attributes(resource_spans.resource.attributes))
                for scope_spans in resource_spans.scope_spans:
                    self.server.spans.extend(scope_spans.spans)
        answer = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the test reads what was received, not the log


@pytest.fixture
def receiver() -> Iterator[_Receiver]:
    server = _Receiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join()


def _value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    return getattr(value, str(kind)) if kind else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


@dataclass
class Tree:
    """The spans received, by name, with their parents."""

    spans: list[Span]

    def named(self, name: str) -> Span:
        found = [span for span in self.spans if span.name == name]
        assert len(found) == 1, (name, [span.name for span in self.spans])
        return found[0]

    def parent(self, span: Span) -> str | None:
        if not span.parent_span_id:
            return None
        return next(s.name for s in self.spans if s.span_id == span.parent_span_id)


# -- the app ------------------------------------------------------------------------------

GENERATION = ChatGeneration(
    provider="openai",
    model="gpt-4o-mini",
    settings={"temperature": 0.2, "max_tokens": 64, "stop": "###", "user": "not a convention"},
    messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Where is Lisbon?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "search", "arguments": '{"q": "Lisbon"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Portugal"},
    ],
    message_completion={"role": "assistant", "content": "In Portugal."},
    tools=[{"type": "function", "function": {"name": "search", "parameters": {}}}],
    input_token_count=31,
    output_token_count=4,
    tt_first_token=250.0,
)


def _app(tmp_path: Path, endpoint: str, *, content: bool) -> LightChat:
    settings = Settings(
        app_dir=str(tmp_path),
        history=False,  # telemetry is wired on its own
        otel_endpoint=endpoint,
        otel_capture_content=content,
        name="Travel bot",
    )
    app = LightChat(settings)

    @app.on_message
    async def answer(message: Message) -> None:
        if message.content == "fail":
            raise RuntimeError("the app broke")
        async with Step(name="plan", type="run"):
            async with Step(name="search", type="tool") as tool:
                tool.input = "Lisbon"
                tool.output = "Portugal"
            async with Step(name="model", type="llm") as llm:
                llm.input = "Where is Lisbon?"
                llm.output = "In Portugal."
                llm.generation = GENERATION
            try:
                async with Step(name="lookup", type="tool"):
                    raise LookupError("no such city")
            except LookupError:
                pass  # the step fails; the answer goes on
        await Message(content="In Portugal.").send()

    return app


async def _chat(
    tmp_path: Path, serve: Serve, endpoint: str, *questions: str, content: bool = True
) -> tuple[str, list[StepData]]:
    """Ask the questions, then stop the server; the chat's id and its published steps."""
    async with serve(_app(tmp_path, endpoint, content=content), lifespan=True) as site:
        client = site.browser()
        url = await site.chat(client, *questions)
        session = site.session(client, url)
        events = await wait_for_log(session.bus, session.id, idle)
    return session.thread_id, steps_in(events)


def _ns(seconds: float) -> int:
    return int(seconds * 1_000_000_000)


async def test_a_runs_steps_reach_the_collector_as_a_span_tree(
    tmp_path: Path, serve: Serve, receiver: _Receiver
) -> None:
    chat_id, steps = await _chat(tmp_path, serve, receiver.url, "Where is Lisbon?")
    # Sent in a batch at shutdown: nothing was flushed by hand, nothing waited for.
    assert set(receiver.paths) == {"/v1/traces"}
    tree = Tree(receiver.spans)
    assert sorted(span.name for span in tree.spans) == [
        "chat gpt-4o-mini",
        "chat run",
        "execute_tool lookup",
        "execute_tool search",
        "plan",
    ]
    run = tree.named("chat run")
    assert tree.parent(run) is None
    assert {span.trace_id for span in tree.spans} == {run.trace_id}
    assert {span.name: tree.parent(span) for span in tree.spans if span is not run} == {
        "plan": "chat run",
        "execute_tool search": "plan",
        "chat gpt-4o-mini": "plan",
        "execute_tool lookup": "plan",
    }
    assert _attributes(run.attributes)["gen_ai.conversation.id"] == chat_id
    assert receiver.resources[0]["service.name"] == "Travel bot"

    # Each step's span starts and ends when the step did.
    last = {step.name: step for step in steps}
    for name, span_name in [("plan", "plan"), ("model", "chat gpt-4o-mini")]:
        span, step = tree.named(span_name), last[name]
        assert step.ended_at is not None
        assert (span.start_time_unix_nano, span.end_time_unix_nano) == (
            _ns(step.started_at),
            _ns(step.ended_at),
        )
        assert run.start_time_unix_nano <= span.start_time_unix_nano
        assert span.end_time_unix_nano <= run.end_time_unix_nano

    lookup = tree.named("execute_tool lookup")
    assert lookup.status.code == Status.STATUS_CODE_ERROR
    assert lookup.status.message == "no such city"
    assert _attributes(lookup.attributes)["error.type"] == "_OTHER"
    assert tree.named("plan").status.code == Status.STATUS_CODE_UNSET
    assert run.status.code == Status.STATUS_CODE_UNSET

    search = _attributes(tree.named("execute_tool search").attributes)
    assert search["gen_ai.operation.name"] == "execute_tool"
    assert search["gen_ai.tool.name"] == "search"
    assert (search["gen_ai.tool.call.arguments"], search["gen_ai.tool.call.result"]) == (
        "Lisbon",
        "Portugal",
    )


async def test_an_llm_step_is_a_genai_inference_span(
    tmp_path: Path, serve: Serve, receiver: _Receiver
) -> None:
    chat_id, _ = await _chat(tmp_path, serve, receiver.url, "Where is Lisbon?")
    span = Tree(receiver.spans).named("chat gpt-4o-mini")
    assert span.kind == Span.SPAN_KIND_CLIENT
    attributes = _attributes(span.attributes)
    assert {key: value for key, value in attributes.items() if not key.endswith("messages")} == {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.system": "openai",
        "gen_ai.request.model": "gpt-4o-mini",
        "gen_ai.request.temperature": 0.2,
        "gen_ai.request.max_tokens": 64,
        "gen_ai.request.stop_sequences": ["###"],
        "gen_ai.usage.input_tokens": 31,
        "gen_ai.usage.output_tokens": 4,
        "gen_ai.response.time_to_first_chunk": 0.25,
        "gen_ai.conversation.id": chat_id,
        "gen_ai.tool.definitions": json.dumps(
            [{"type": "function", "function": {"name": "search", "parameters": {}}}]
        ),
        "lightchat.step.id": attributes["lightchat.step.id"],
        "lightchat.step.type": "llm",
        "lightchat.step.name": "model",
        "lightchat.step.status": "done",
        "lightchat.step.input": "Where is Lisbon?",
        "lightchat.step.output": "In Portugal.",
    }
    # The messages as the conventions' JSON schemas have them.
    assert json.loads(attributes["gen_ai.input.messages"]) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Where is Lisbon?"}]},
        {
            "role": "assistant",
            "parts": [
                {
                    "type": "tool_call",
                    "id": "call_1",
                    "name": "search",
                    "arguments": {"q": "Lisbon"},
                }
            ],
        },
        {
            "role": "tool",
            "parts": [{"type": "tool_call_response", "id": "call_1", "response": "Portugal"}],
        },
    ]
    assert json.loads(attributes["gen_ai.output.messages"]) == [
        {
            "role": "assistant",
            "parts": [{"type": "text", "content": "In Portugal."}],
            "finish_reason": "stop",
        }
    ]


async def test_without_content_capture_no_prompt_leaves_the_app(
    tmp_path: Path, serve: Serve, receiver: _Receiver
) -> None:
    await _chat(tmp_path, serve, receiver.url, "Where is Lisbon?", content=False)
    tree = Tree(receiver.spans)
    model = _attributes(tree.named("chat gpt-4o-mini").attributes)
    assert model["gen_ai.request.model"] == "gpt-4o-mini"
    assert model["gen_ai.usage.input_tokens"] == 31
    for span in tree.spans:
        keys = set(_attributes(span.attributes))
        assert not keys & {
            "gen_ai.input.messages",
            "gen_ai.output.messages",
            "gen_ai.tool.definitions",
            "gen_ai.tool.call.arguments",
            "gen_ai.tool.call.result",
            "lightchat.step.input",
            "lightchat.step.output",
        }, span.name
    sent = b"".join(span.SerializeToString() for span in tree.spans)
    assert b"Lisbon" not in sent


async def test_a_run_that_shows_an_error_has_an_error_status(
    tmp_path: Path, serve: Serve, receiver: _Receiver
) -> None:
    await _chat(tmp_path, serve, f"{receiver.url}/v1/traces", "fail", "Where is Lisbon?")
    runs = [span for span in receiver.spans if span.name == "chat run"]
    assert len(runs) == 2
    assert len({span.trace_id for span in runs}) == 2  # a trace per run
    failed, fine = sorted(runs, key=lambda span: span.start_time_unix_nano)
    assert failed.status.code == Status.STATUS_CODE_ERROR
    assert "the app broke" in failed.status.message
    assert fine.status.code == Status.STATUS_CODE_UNSET


def test_the_endpoint_is_the_collectors_address_or_its_traces_url() -> None:
    assert traces_url("http://collector:4318") == "http://collector:4318/v1/traces"
    assert traces_url("http://collector:4318/v1/traces") == "http://collector:4318/v1/traces"
    assert Settings.from_env({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}).otel_endpoint == (
        "http://c:4318"
    )
    with pytest.raises(ConfigError, match="LIGHTCHAT_OTEL_ENDPOINT"):
        Settings.from_env({"LIGHTCHAT_OTEL_ENDPOINT": "collector:4318"})


def _python(code: str, folder: Path) -> str:
    """What ``code`` prints, run by a fresh Python in ``folder`` (the app's folder)."""
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=folder,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


BUILD_AND_REPORT = """
import sys
from lightchat import LightChat, Settings
LightChat(Settings(history=False)).build()
print(sorted({name.split(".")[0] for name in sys.modules if name.startswith("opentelemetry")}))
"""


def test_without_the_setting_nothing_of_opentelemetry_is_imported(tmp_path: Path) -> None:
    assert _python(BUILD_AND_REPORT, tmp_path) == "[]"


MISSING_EXTRA = """
import sys
sys.modules["opentelemetry"] = None  # as if the otel extra were not installed
from lightchat import LightChat, Settings
from lightchat.errors import ConfigError
try:
    LightChat(Settings(history=False, otel_endpoint="http://127.0.0.1:4318")).build()
except ConfigError as exc:
    print(exc)
"""


def test_the_setting_without_the_extra_says_what_to_install(tmp_path: Path) -> None:
    assert 'pip install "lightchat[otel]"' in _python(MISSING_EXTRA, tmp_path)
