"""AG2 (the ``ag2`` package, AG2 1.x): an agent's turns, its model calls and its tool calls
show in the chat as steps, nested and live, and so does a hand-off to another agent through
a delegation tool (lightchat's own: Chainlit has none).

``instrument_ag2(agent, ...)`` adds a middleware to each agent given (and to the agents
their delegation tools run, ``agent.as_tool(...)``). From then on, each turn an agent
takes in a chat is a ``run`` step named after the agent, with the message it answers and
its answer; inside it, each model call is an ``llm`` step (the text the model streams
fills it as it comes; when the model answers it carries its ``cl.ChatGeneration``: the
prompt, the conversation, the answer, the model and the token counts), and each tool
call a ``tool`` step with its arguments and result. A delegation tool's step is named
after the hand-off (``planner → researcher``) and holds the other agent's turn. A tool
that fails fails its step, and the model hears of it as AG2 tells it; a model call that
raises fails its steps and reaches the app as AG2 raised it (the chat shows the error).
Turns outside a chat run as if the middleware were not there.

AG2 Classic (the ``autogen`` package: ``ConversableAgent``, ``GroupChat``) is another
library; this integration is for ``ag2.Agent``.

Example::

    agent = Agent("assistant", prompt="...", config=OpenAIConfig(model="gpt-4o-mini"))
    cl.instrument_ag2(agent)

    @cl.on_message
    async def main(message: cl.Message):
        reply = await agent.ask(message.content)
        await cl.Message(content=reply.body or "").send()
"""

# ruff: noqa: E402 - AG2 is imported once ``require`` has named its extra

from __future__ import annotations

import json
import time
import weakref
from collections.abc import Iterable, Sequence
from typing import Any

from lightchat.integrations import require

require("ag2", "ag2")

from ag2 import Agent, Context
from ag2.events import (
    BaseEvent,
    ModelMessageChunk,
    ModelRequest,
    ModelResponse,
    TextInput,
    ToolCallEvent,
    ToolErrorEvent,
    ToolResultEvent,
)
from ag2.middleware.base import (
    AgentTurn,
    BaseMiddleware,
    LLMCall,
    ToolExecution,
    ToolResultType,
)
from ag2.tools.subagents.subagent_tool import SubagentTool

from lightchat.api.context import context as chat_context
from lightchat.api.step import Step
from lightchat.domain.generation import ChatGeneration, GenerationMessage
from lightchat.errors import NoSessionError

_instrumented: weakref.WeakSet[Agent[Any]] = weakref.WeakSet()


def instrument_ag2(*agents: Agent[Any]) -> None:
    """Show the turns these agents take in a chat as steps, from now on; and those of the
    agents their delegation tools hand over to (an agent instrumented twice shows once)."""
    for agent in agents:
        if agent in _instrumented:
            continue
        _instrumented.add(agent)
        delegates = {
            tool.name: tool.agent for tool in agent.tools if isinstance(tool, SubagentTool)
        }
        names = {name: delegate.name for name, delegate in delegates.items()}
        agent.add_middleware(AG2Steps(agent.name, names, model=_model_of(agent)))
        instrument_ag2(*delegates.values())


def _model_of(agent: Agent[Any]) -> str | None:
    """The model an agent is configured with, if its configuration names one."""
    try:
        return agent.config.model if agent.config is not None else None
    except NotImplementedError:  # a configuration without a model name (a test double's)
        return None


class AG2Steps:
    """The middleware (a factory, as AG2 takes them) that shows one agent's turns as steps.

    ``instrument_ag2`` makes one per agent; to show a single ``ask`` only, pass one to it:
    ``agent.ask(text, middleware=[AG2Steps(agent.name)])``. ``delegates`` names the agent
    each delegation tool hands over to, by tool name; ``model`` names the model calls'
    steps until the model's answer names its model.
    """

    def __init__(
        self, agent: str, delegates: dict[str, str] | None = None, *, model: str | None = None
    ) -> None:
        self.agent = agent
        self.delegates = dict(delegates or {})
        self.model = model

    def __call__(self, event: BaseEvent, context: Context) -> BaseMiddleware:
        """The middleware of one turn (AG2 makes one per turn)."""
        return _TurnSteps(event, context, self)


class _TurnSteps(BaseMiddleware):
    """One turn of one agent: its step, and those of its model and tool calls."""

    def __init__(self, event: BaseEvent, context: Context, steps: AG2Steps) -> None:
        super().__init__(event, context)
        self.steps = steps

    async def on_turn(
        self, call_next: AgentTurn, event: BaseEvent, context: Context
    ) -> ModelResponse:
        if not _in_chat():
            return await call_next(event, context)
        async with Step(name=self.steps.agent, type="run") as step:
            step.input = _event_text(event)
            response = await call_next(event, context)
            step.output = response.content or _tool_calls(response) or ""
            return response

    async def on_llm_call(
        self, call_next: LLMCall, events: Sequence[BaseEvent], context: Context
    ) -> ModelResponse:
        if not _in_chat():
            return await call_next(events, context)
        async with Step(name=self.steps.model or self.steps.agent, type="llm") as step:
            step.input = _event_text(events[-1]) if events else ""
            first: list[float] = []

            async def stream(chunk: ModelMessageChunk) -> None:
                if not first:
                    first.append(time.time())
                await step.stream_token(chunk.content)

            with context.stream.where(ModelMessageChunk).sub_scope(stream):
                response = await call_next(events, context)
            if response.model:
                step.name = response.model
            step.output = response.content or _tool_calls(response) or ""
            generation = _generation(step, context, events, response, first)
            generation.model = generation.model or self.steps.model
            step.generation = generation
            return response

    async def on_tool_execution(
        self, call_next: ToolExecution, event: ToolCallEvent, context: Context
    ) -> ToolResultType:
        if not _in_chat():
            return await call_next(event, context)
        delegate = self.steps.delegates.get(event.name)
        name = f"{self.steps.agent} → {delegate}" if delegate else event.name
        async with Step(name=name, type="tool") as step:
            step.input = _arguments(event.arguments)
            result = await call_next(event, context)
            if isinstance(result, ToolErrorEvent):
                step.is_error = True
                step.output = str(result.error) or type(result.error).__name__
            elif isinstance(result, ToolResultEvent):
                step.output = _result_text(result)
            return result


def _in_chat() -> bool:
    try:
        chat_context.session  # noqa: B018 - raises outside a chat
    except NoSessionError:
        return False
    return True


def _arguments(arguments: str) -> Any:
    """A tool call's arguments (JSON text) as data, shown as JSON; as they are if not JSON."""
    try:
        return json.loads(arguments)
    except ValueError:
        return arguments


def _texts(parts: Iterable[Any]) -> str:
    return "".join(part.content for part in parts if isinstance(part, TextInput))


def _event_text(event: BaseEvent) -> str:
    """The text of what an agent is given: a request's text, a tool result's."""
    if isinstance(event, ModelRequest):
        return _texts(event.parts)
    if isinstance(event, ToolResultEvent):
        return _result_text(event)
    content = getattr(event, "content", None)
    return content if isinstance(content, str) else ""


def _result_text(result: ToolResultEvent) -> str:
    return _texts(result.result.parts)


def _tool_calls(response: ModelResponse) -> list[dict[str, Any]]:
    return [
        {
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": call.arguments},
        }
        for call in response.tool_calls.calls
    ]


def _answer(response: ModelResponse) -> GenerationMessage:
    answer: GenerationMessage = {"role": "assistant", "content": response.content}
    calls = _tool_calls(response)
    if calls:
        answer["tool_calls"] = calls
    return answer


def _messages(prompt: Iterable[str], events: Sequence[BaseEvent]) -> list[GenerationMessage]:
    """The conversation a model call is given: the agent's prompt, then its history."""
    messages: list[GenerationMessage] = [{"role": "system", "content": text} for text in prompt]
    for event in events:
        if isinstance(event, ModelRequest):
            messages.append({"role": "user", "content": _texts(event.parts)})
        elif isinstance(event, ModelResponse):
            messages.append(_answer(event))
        elif isinstance(event, ToolResultEvent):
            messages.append(
                {"role": "tool", "tool_call_id": event.parent_id, "content": _result_text(event)}
            )
    return messages


def _count(value: float | None) -> int | None:
    return int(value) if value is not None else None


def _generation(
    step: Step,
    context: Context,
    events: Sequence[BaseEvent],
    response: ModelResponse,
    first_token: list[float],
) -> ChatGeneration:
    ended = time.time()
    started = step.start or ended
    usage = response.usage
    generation = ChatGeneration(
        provider=response.provider,
        model=response.model,
        messages=_messages(context.prompt, events),
        message_completion=_answer(response),
        input_token_count=_count(usage.prompt_tokens),
        output_token_count=_count(usage.completion_tokens),
        token_count=_count(usage.total_tokens),
        duration=ended - started,
    )
    if first_token:
        generation.tt_first_token = (first_token[0] - started) * 1000
    return generation
