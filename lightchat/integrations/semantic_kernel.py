"""Semantic Kernel: each kernel function the kernel invokes shows in the chat as a step
(Chainlit's ``cl.SemanticKernelFilter``).

The filter is a function invocation filter on the kernel, so it sees every invocation:
a plugin function the model asks for (auto function calling), one the app invokes
(``kernel.invoke``), and a prompt function, whose step is an ``llm`` step carrying the
rendered prompt and the answer as its generation. A step shows the function's arguments
and its result; a function that raises fails its step and the kernel goes on as it would
without the filter: with auto function calling the model is told the call failed and
answers anyway, while a direct ``kernel.invoke`` raises to the app, whose chat shows the
error. A streamed invocation (``kernel.invoke_stream``) streams into its step as the
model writes, and its step ends with the stream.

Example::

    kernel = Kernel()
    kernel.add_service(OpenAIChatCompletion(ai_model_id="gpt-4o-mini"))
    kernel.add_plugin(WeatherPlugin(), plugin_name="weather")
    cl.SemanticKernelFilter(kernel=kernel)
"""

# ruff: noqa: E402 - Semantic Kernel is imported once ``require`` has named its extra

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from lightchat.integrations import require

require("semantic_kernel", "semantic-kernel")

from pydantic import BaseModel
from semantic_kernel import Kernel
from semantic_kernel.contents import ChatHistory
from semantic_kernel.contents.kernel_content import KernelContent
from semantic_kernel.exceptions import KernelServiceNotFoundError
from semantic_kernel.filters import FilterTypes, FunctionInvocationContext
from semantic_kernel.functions import (
    FunctionResult,
    KernelArguments,
    KernelFunction,
    KernelFunctionFromPrompt,
)

from lightchat.api.context import context as chat_context
from lightchat.api.step import CURRENT_STEP, Step
from lightchat.domain.generation import ChatGeneration, GenerationMessage
from lightchat.errors import NoSessionError

NextFilter = Callable[[FunctionInvocationContext], Awaitable[None]]


class SemanticKernelFilter:
    """Shows each function a Semantic Kernel kernel invokes as a step of the chat.

    Give it the kernel (``SemanticKernelFilter(kernel=kernel)``) or add it later with
    ``add_to_kernel``. ``excluded_plugins`` and ``excluded_functions`` name plugins and
    functions (by plugin name, and by function name) that run without a step. Subclass
    and override ``parse_arguments`` to show a function's arguments another way.
    """

    def __init__(
        self,
        excluded_plugins: list[str] | None = None,
        excluded_functions: list[str] | None = None,
        *,
        kernel: Kernel | None = None,
    ) -> None:
        self.excluded_plugins = excluded_plugins
        self.excluded_functions = excluded_functions
        if kernel is not None:
            self.add_to_kernel(kernel)

    def add_to_kernel(self, kernel: Kernel) -> None:
        """Add the filter to ``kernel``: its function invocations show as steps from now on."""
        kernel.add_filter(FilterTypes.FUNCTION_INVOCATION, self._function_invocation_filter)

    def parse_arguments(self, arguments: KernelArguments) -> dict[str, Any] | str:
        """A function's arguments as its step shows them (as JSON): a dict of their values,
        a Pydantic model as its fields; nothing for a function called without any."""
        if len(arguments) == 0:
            return ""
        return {
            name: value.model_dump(exclude_none=True, by_alias=True)
            if isinstance(value, BaseModel)
            else value
            for name, value in arguments.items()
        }

    def _excluded(self, function: KernelFunction) -> bool:
        return bool(
            (self.excluded_plugins and function.plugin_name in self.excluded_plugins)
            or (self.excluded_functions and function.name in self.excluded_functions)
        )

    async def _function_invocation_filter(
        self, context: FunctionInvocationContext, next: NextFilter
    ) -> None:
        if self._excluded(context.function) or not _in_chat():
            await next(context)
            return
        step = _step_for(context)
        step.input = self.parse_arguments(context.arguments)
        if context.is_streaming:
            await _streamed(step, context, next)
            return
        async with step:
            await next(context)
            if context.result is not None:
                step.output = _shown(context.result)
                if step.type == "llm":
                    step.generation = _generation(context, context.result, str(context.result))


def _in_chat() -> bool:
    try:
        chat_context.session  # noqa: B018 - raises outside a chat
    except NoSessionError:
        return False
    return True


def _step_for(context: FunctionInvocationContext) -> Step:
    """The step of one invocation: a prompt function's is an ``llm`` step, named after its
    model when the prompt has no plugin (an inline prompt's function name is random)."""
    function = context.function
    if not isinstance(function, KernelFunctionFromPrompt):
        return Step(name=function.fully_qualified_name, type="tool")
    name = function.fully_qualified_name
    if not function.plugin_name:
        name = _model_of(context) or name
    return Step(name=name, type="llm")


def _model_of(context: FunctionInvocationContext) -> str | None:
    """The model that answers a prompt function, as the kernel will pick it."""
    try:
        service, _ = context.kernel.select_ai_service(context.function, context.arguments)
    except KernelServiceNotFoundError:  # the invocation itself will say so
        return None
    return service.ai_model_id or None


def _shown(result: FunctionResult) -> Any:
    """A function's result as its step shows it: the text of what a model wrote, any other
    value as it is (shown as JSON when it is not a string)."""
    value = result.value
    if isinstance(value, KernelContent) or (
        isinstance(value, list) and value and isinstance(value[0], KernelContent)
    ):
        return str(result)
    return value


def _generation(
    context: FunctionInvocationContext, result: FunctionResult | None, answer: str
) -> ChatGeneration:
    """A prompt function's call of its model: the rendered prompt as messages, the answer,
    the model and its settings, and the token counts when the service reported them."""
    generation = ChatGeneration(
        provider="semantic-kernel",
        model=_model_of(context),
        message_completion={"role": "assistant", "content": answer},
    )
    rendered = result.rendered_prompt if result is not None else None
    if rendered:
        generation.messages = _messages(rendered)
    settings = context.arguments.execution_settings or {}
    for setting in settings.values():
        generation.settings = setting.prepare_settings_dict()
        break
    usage = _usage(result.value if result is not None else None)
    if usage is not None:
        generation.input_token_count, generation.output_token_count = usage
        generation.token_count = sum(usage)
    return generation


def _messages(rendered: str) -> list[GenerationMessage]:
    """The messages of a rendered prompt, as the chat completion service receives them."""
    history = ChatHistory.from_rendered_prompt(rendered)
    return [
        GenerationMessage(role=message.role.value, content=message.content)  # type: ignore[typeddict-item]
        for message in history.messages
    ]


def _usage(value: Any) -> tuple[int, int] | None:
    """The prompt and completion token counts of a model's answer, if its service gave them."""
    first = value[0] if isinstance(value, list) and value else value
    usage = getattr(first, "metadata", {}).get("usage") if first is not None else None
    prompt, completion = (
        getattr(usage, "prompt_tokens", None),
        getattr(usage, "completion_tokens", None),
    )
    if isinstance(prompt, int) and isinstance(completion, int):
        return prompt, completion
    return None


async def _streamed(step: Step, context: FunctionInvocationContext, next: NextFilter) -> None:
    """A streamed invocation: the step shows now, the stream the kernel hands back fills
    it, and it ends when the stream does.

    The step is published with ``send``, not entered: entering it would make it the
    current step of the code that reads the stream, whose messages would then nest in it.
    """
    parent = CURRENT_STEP.get()
    step.parent_id = parent.id if parent is not None else None
    await step.send()
    token = CURRENT_STEP.set(step)
    try:
        await next(context)
    except BaseException as exc:
        await _finish(step, exc)
        raise
    finally:
        CURRENT_STEP.reset(token)
    result = context.result
    if result is None or not hasattr(result.value, "__anext__"):
        if result is not None:
            step.output = _shown(result)
        await _finish(step, None)
        return
    result.value = _relay(step, context, result, result.value)


async def _relay(
    step: Step,
    context: FunctionInvocationContext,
    result: FunctionResult,
    stream: AsyncIterator[Any],
) -> AsyncIterator[Any]:
    """Hand the stream on as it comes, streaming its text into the step; the functions
    the model calls meanwhile (auto function calling) nest in the step."""
    written: list[str] = []
    try:
        while True:
            token = CURRENT_STEP.set(step)
            try:
                chunk = await anext(stream)
            except StopAsyncIteration:
                break
            finally:
                CURRENT_STEP.reset(token)
            text = _chunk_text(chunk)
            if text:
                written.append(text)
                await step.stream_token(text)
            yield chunk
    except GeneratorExit:  # the reader stopped early: what came so far is the output
        await _finish(step, None)
        raise
    except BaseException as exc:
        await _finish(step, exc)
        raise
    if step.type == "llm":
        step.generation = _generation(context, result, "".join(written))
    await _finish(step, None)


def _chunk_text(chunk: Any) -> str:
    """The text a streamed chunk adds (a chunk is a list of contents, one per choice: the
    first choice's is shown)."""
    first = chunk[0] if isinstance(chunk, list) and chunk else chunk
    if isinstance(first, KernelContent):
        return str(first)
    return ""


async def _finish(step: Step, error: BaseException | None) -> None:
    """End a step published with ``send``: done, or failed with the error's text."""
    if error is not None:
        step.is_error = True
        if not step.output:
            step.output = str(error) or type(error).__name__
    step.end = time.time()
    await step.update()
