"""Pydantic AI: an agent's run, its model requests and its tool calls show in the chat as
steps, nested and live (lightchat's own: Chainlit has none).

``PydanticAISteps`` is a Pydantic AI capability: give it to an agent
(``Agent(model, capabilities=[cl.PydanticAISteps()])``) or to one run
(``agent.run(prompt, capabilities=[...])``). Each run made inside a chat is then a ``run``
step named after the agent, holding an ``llm`` step per model request (the model's text
streams into it as the model writes; when the request ends it carries its
``cl.ChatGeneration``: the messages sent, the answer, the model, its settings, the tools
offered and the token counts) and a ``tool`` step per tool call (the arguments and the
result). An agent a tool delegates to, with the capability too, shows its run inside that
tool's step. A model or a tool that raises fails its step and every step around it up to
the run's, and the error reaches the app as Pydantic AI raised it (the chat shows it);
a tool asking the model to retry (``ModelRetry``) fails only its own step. Runs outside a
chat run as if the capability were not there.

With the capability, ``agent.run()`` streams the model's answers (Pydantic AI turns
streaming on for capabilities that listen to its events), so an ``llm`` step fills as the
model writes even when the app waits for the whole result; ``PydanticAISteps(stream=False)``
leaves the requests as the app makes them, for a model that cannot stream.

Example::

    agent = Agent("openai:gpt-4o-mini", capabilities=[cl.PydanticAISteps()])

    @cl.on_message
    async def main(message: cl.Message):
        result = await agent.run(message.content)
        await cl.Message(content=result.output).send()
"""

# ruff: noqa: E402 - Pydantic AI is imported once ``require`` has named its extra

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lightchat.integrations import require

require("pydantic_ai", "pydantic-ai")

from pydantic_ai import RunContext
from pydantic_ai.capabilities import (
    AbstractCapability,
    ValidatedToolArgs,
    WrapModelRequestHandler,
    WrapRunHandler,
    WrapToolExecuteHandler,
)
from pydantic_ai.messages import (
    AgentStreamEvent,
    ModelMessage,
    ModelRequest,
    ModelResponse,
    PartDeltaEvent,
    PartStartEvent,
    RetryPromptPart,
    SystemPromptPart,
    TextPart,
    TextPartDelta,
    ToolCallPart,
    ToolReturnPart,
    UserPromptPart,
)
from pydantic_ai.models import ModelRequestContext
from pydantic_ai.run import AgentRunResult
from pydantic_ai.tools import ToolDefinition

from lightchat.api.context import context
from lightchat.api.step import Step
from lightchat.domain.generation import ChatGeneration, GenerationMessage
from lightchat.errors import NoSessionError


@dataclass
class PydanticAISteps(AbstractCapability[Any]):
    """The capability that shows a Pydantic AI agent's runs made inside a chat as steps.

    ``stream`` (on by default) streams the model's text into its step as it comes, which
    makes every request of the run a streamed one; turn it off for a model that cannot
    stream (its ``llm`` steps then fill when each request ends).

    One instance may serve any number of agents and runs: each run works on its own copy
    (``for_run``), which knows the run's model request under way.
    """

    stream: bool = field(default=True, kw_only=True)
    _llm: Step | None = field(default=None, init=False, repr=False)
    _first_token: float | None = field(default=None, init=False, repr=False)

    async def for_run(self, ctx: RunContext[Any]) -> PydanticAISteps:
        """A fresh copy for each run: the model request under way is the run's own."""
        return PydanticAISteps(id=self.id, description=self.description, stream=self.stream)

    @property
    def has_on_event(self) -> bool:
        """Whether the run's events reach ``on_event`` (which makes its requests stream)."""
        return self.stream

    def listens_to(self, event: AgentStreamEvent) -> bool:
        """Only the text of the model's answers is of interest."""
        return self.stream and isinstance(event, PartStartEvent | PartDeltaEvent)

    async def wrap_run(
        self, ctx: RunContext[Any], *, handler: WrapRunHandler
    ) -> AgentRunResult[Any]:
        """The run's step, named after the agent: its prompt, then its output."""
        if not _in_chat():
            return await handler()
        agent = ctx.agent.name if ctx.agent is not None else None
        # A nameless agent (Pydantic AI names one after its variable when it can) goes by
        # its model's name.
        async with Step(name=agent or ctx.model.model_name, type="run") as step:
            step.input = _prompt_text(ctx.prompt)
            result = await handler()
            step.output = _shown(result.output)
            return result

    async def wrap_model_request(
        self,
        ctx: RunContext[Any],
        *,
        request_context: ModelRequestContext,
        handler: WrapModelRequestHandler,
    ) -> ModelResponse:
        """A model request's ``llm`` step: the text streams in (``on_event``) as the model
        writes, and the generation is recorded when it answers."""
        if not _in_chat():
            return await handler(request_context)
        model = request_context.model
        async with Step(name=model.model_name, type="llm") as step:
            step.input = _last_text(request_context.messages)
            self._llm, self._first_token = step, None
            try:
                response = await handler(request_context)
            finally:
                self._llm = None
            step.output = _answer(response).get("content") or _tool_calls(response)
            step.generation = self._generation(step, request_context, response)
            return response

    async def on_event(self, ctx: RunContext[Any], *, event: AgentStreamEvent) -> None:
        """Stream the text of the model's answer into its step as it comes."""
        step = self._llm
        if step is None:
            return
        text = ""
        if isinstance(event, PartStartEvent) and isinstance(event.part, TextPart):
            text = event.part.content
        elif isinstance(event, PartDeltaEvent) and isinstance(event.delta, TextPartDelta):
            text = event.delta.content_delta
        if text:
            if self._first_token is None:
                self._first_token = time.time()
            await step.stream_token(text)

    async def wrap_tool_execute(
        self,
        ctx: RunContext[Any],
        *,
        call: ToolCallPart,
        tool_def: ToolDefinition,
        args: ValidatedToolArgs,
        handler: WrapToolExecuteHandler,
    ) -> Any:
        """A tool call's step: its arguments, then its result (or its error)."""
        if not _in_chat():
            return await handler(args)
        async with Step(name=call.tool_name, type="tool") as step:
            step.input = args
            result = await handler(args)
            step.output = _shown(result)
            return result

    def _generation(
        self, step: Step, request: ModelRequestContext, response: ModelResponse
    ) -> ChatGeneration:
        """What the model was sent and what it answered, with its model and token counts."""
        ended = time.time()
        started = step.start or ended
        tools = [
            {"type": "function", "function": _tool_schema(tool)}
            for tool in request.model_request_parameters.function_tools
        ]
        generation = ChatGeneration(
            provider=response.provider_name or request.model.system,
            model=response.model_name or request.model.model_name,
            settings=dict(request.model_settings or {}),
            messages=_messages(request.messages),
            message_completion=_answer(response),
            tools=tools or None,
            input_token_count=response.usage.input_tokens,
            output_token_count=response.usage.output_tokens,
            token_count=response.usage.input_tokens + response.usage.output_tokens,
            duration=ended - started,
        )
        if self._first_token is not None:
            generation.tt_first_token = (self._first_token - started) * 1000
            if ended > self._first_token and response.usage.output_tokens:
                generation.token_throughput = response.usage.output_tokens / (
                    ended - self._first_token
                )
        return generation


def _in_chat() -> bool:
    try:
        context.session  # noqa: B018 - raises outside a chat
    except NoSessionError:
        return False
    return True


def _prompt_text(prompt: Any) -> Any:
    """The run's prompt: its text, or its parts' texts for a prompt with files."""
    if prompt is None or isinstance(prompt, str):
        return prompt or ""
    if isinstance(prompt, Sequence):
        return "".join(part for part in prompt if isinstance(part, str))
    return str(prompt)


def _shown(value: Any) -> Any:
    """A result as a step shows it: a string as it is, a Pydantic model as its fields,
    anything else as JSON when it can be."""
    dump = getattr(value, "model_dump", None)
    return dump(mode="json") if callable(dump) else value


def _last_text(messages: list[ModelMessage]) -> str:
    """What the model is asked now: the last message's text."""
    shown = _messages(messages[-1:])
    return str(shown[-1].get("content") or "") if shown else ""


def _messages(messages: list[ModelMessage]) -> list[GenerationMessage]:
    """The conversation a model request sends, as chat messages."""
    out: list[GenerationMessage] = []
    for message in messages:
        if isinstance(message, ModelRequest):
            if message.instructions:
                out.append({"role": "system", "content": message.instructions})
            out.extend(_request_parts(message))
        else:
            out.append(_answer(message))
    return out


def _request_parts(request: ModelRequest) -> list[GenerationMessage]:
    parts: list[GenerationMessage] = []
    for part in request.parts:
        if isinstance(part, SystemPromptPart):
            parts.append({"role": "system", "content": part.content})
        elif isinstance(part, UserPromptPart):
            parts.append({"role": "user", "content": _prompt_text(part.content)})
        elif isinstance(part, ToolReturnPart):
            content = part.model_response_str()
            parts.append({"role": "tool", "tool_call_id": part.tool_call_id, "content": content})
        elif isinstance(part, RetryPromptPart):
            message: GenerationMessage = {"role": "user", "content": part.model_response()}
            if part.tool_name is not None:
                message = {
                    "role": "tool",
                    "tool_call_id": part.tool_call_id,
                    "content": part.model_response(),
                }
            parts.append(message)
    return parts


def _answer(response: ModelResponse) -> GenerationMessage:
    """A model's answer as one assistant message: its text and its tool calls."""
    text = "".join(part.content for part in response.parts if isinstance(part, TextPart))
    answer: GenerationMessage = {"role": "assistant", "content": text}
    calls = _tool_calls(response)
    if calls:
        answer["tool_calls"] = calls
    return answer


def _tool_calls(response: ModelResponse) -> list[dict[str, Any]]:
    return [
        {
            "id": part.tool_call_id,
            "type": "function",
            "function": {"name": part.tool_name, "arguments": part.args_as_json_str()},
        }
        for part in response.parts
        if isinstance(part, ToolCallPart)
    ]


def _tool_schema(tool: ToolDefinition) -> dict[str, Any]:
    return {
        "name": tool.name,
        "description": tool.description,
        "parameters": tool.parameters_json_schema,
    }
