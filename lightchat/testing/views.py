"""What a test sees of a chat: its messages, steps, elements and buttons as plain values, a
``Reply`` (what one input made the app do), and the chat as readable text.

The values are snapshots, made from the chat's ``Transcript`` (the fold of its event log
that pages are rendered from), so a test reads what a user would see, with no ids or
times that change from run to run in ``transcript_text``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from lightchat.domain.events import ActionData, ElementData, MessageData, StepData
from lightchat.domain.transcript import Transcript

__all__ = [
    "ActionView",
    "CallbackError",
    "ElementView",
    "MessageView",
    "Reply",
    "StepView",
    "transcript_text",
]


@dataclass(frozen=True, slots=True)
class ActionView:
    """A button under a message: its ``label``, the ``name`` of the ``@action_callback``
    it runs, and its ``payload``."""

    id: str
    name: str
    label: str
    payload: dict[str, Any]
    tooltip: str = ""

    @classmethod
    def of(cls, data: ActionData) -> ActionView:
        return cls(data.id, data.name, data.label, dict(data.payload), data.tooltip)


@dataclass(frozen=True, slots=True)
class ElementView:
    """An element shown with a message or a step, or in the side panel.

    ``kind`` is its class in lower case (``image``, ``text``, ``file``, ``pdf``,
    ``tasklist``, ``custom``...); ``content`` the text it shows inline (a ``Text``'s text,
    a custom element's props as JSON); ``url`` an address the app gave. A file the chat
    keeps is read with ``ChatClient.read_file``.
    """

    id: str
    kind: str
    name: str
    display: str = "inline"
    content: str | None = None
    url: str | None = None
    mime: str | None = None
    size: int | None = None
    language: str | None = None
    key: str | None = None

    @classmethod
    def of(cls, data: ElementData) -> ElementView:
        return cls(
            data.id,
            data.kind,
            data.name,
            data.display,
            data.content,
            data.url,
            data.mime,
            data.size,
            data.language,
            data.key,
        )


@dataclass(frozen=True, slots=True)
class MessageView:
    """A message as the chat shows it.

    ``type`` is ``assistant_message``, ``user_message``, ``system_message`` or ``error``;
    ``asks`` is what an open question waits for (``text``, ``file``, ``action`` or
    ``element``; None once answered); ``tokens`` the pieces its text streamed in, in the
    input that streamed them.
    """

    id: str
    author: str
    type: str
    content: str
    elements: list[ElementView] = field(default_factory=list)
    actions: list[ActionView] = field(default_factory=list)
    asks: str | None = None
    command: str | None = None
    modes: dict[str, str] = field(default_factory=dict)
    tokens: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, data: MessageData, tokens: list[str] | None = None) -> MessageView:
        return cls(
            data.id,
            data.author,
            data.type,
            data.content,
            [ElementView.of(e) for e in data.elements],
            [ActionView.of(a) for a in data.actions],
            data.ask.kind if data.ask is not None else None,
            data.command,
            dict(data.modes),
            list(tokens or []),
        )


@dataclass(frozen=True, slots=True)
class StepView:
    """A step (a tool call, a retrieval, an LLM call...) with the steps nested in it.

    ``status`` is ``running``, ``done`` or ``failed``; ``generation`` the LLM call it
    recorded (``step.generation``), if any; ``tokens`` the pieces its output streamed in.
    """

    id: str
    name: str
    type: str
    input: str
    output: str
    status: str
    children: list[StepView] = field(default_factory=list)
    elements: list[ElementView] = field(default_factory=list)
    generation: dict[str, Any] | None = None
    tokens: list[str] = field(default_factory=list)

    def walk(self) -> Iterator[StepView]:
        """This step, then every step nested in it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()

    @classmethod
    def of(cls, data: StepData, transcript: Transcript, tokens: dict[str, list[str]]) -> StepView:
        return cls(
            data.id,
            data.name,
            data.type,
            data.input,
            data.output,
            data.status,
            [cls.of(child, transcript, tokens) for child in transcript.children(data.id)],
            [ElementView.of(e) for e in data.elements],
            data.generation,
            list(tokens.get(data.id, [])),
        )


@dataclass(frozen=True, slots=True)
class CallbackError:
    """An exception a callback of the app raised: the chat showed it as an error message
    (``message``), and the test gets the exception itself, traceback included."""

    hook: str
    """The callback that raised (``on_message``, ``action:shout``...)."""
    exception: BaseException
    message: str
    """The error message the chat shows."""

    def __str__(self) -> str:
        return f"{self.hook}: {self.message}"


@dataclass(frozen=True, slots=True)
class Reply:
    """What one input (a message, a click, an answer, a start...) made the app do, once
    the run it started ended or a question waits for the user.

    ``messages``: the messages the app showed (the user's own left out), in order;
    ``updated``: those shown before that it changed (a question answered, a button
    removed, a message edited); ``steps``: the steps it showed or changed that stand in
    the conversation (those nested in them are their ``children``); ``elements``: every
    element of those messages and steps, and of the side panel if it changed; ``tokens``:
    the pieces of text that streamed, in order; ``errors``: what its callbacks raised
    (each also an error message in ``messages``); ``asking``: the question that waits for
    an answer, if any; ``stopped``: True when "Stop" ended the run.
    """

    messages: list[MessageView]
    updated: list[MessageView]
    steps: list[StepView]
    elements: list[ElementView]
    tokens: list[str]
    errors: list[CallbackError]
    asking: MessageView | None = None
    stopped: bool = False

    @property
    def content(self) -> str:
        """The text of the last message the app showed ("" if none)."""
        answers = [m for m in self.messages if m.type != "error"]
        return answers[-1].content if answers else ""

    @property
    def contents(self) -> list[str]:
        """The text of each message the app showed, in order."""
        return [m.content for m in self.messages]

    @property
    def actions(self) -> list[ActionView]:
        """The buttons under the messages the app showed."""
        return [a for m in self.messages for a in m.actions]

    def step(self, name: str) -> StepView:
        """The first step named ``name``, nested or not; ``LookupError`` naming the steps
        there are when none is."""
        every = [s for root in self.steps for s in root.walk()]
        for found in every:
            if found.name == name:
                return found
        names = ", ".join(repr(s.name) for s in every) or "none"
        raise LookupError(f"No step named {name!r} in this reply; its steps: {names}.")


# -- the chat as text ------------------------------------------------------------------------

_ASKS = {
    "text": "waits for an answer",
    "file": "waits for files",
    "action": "waits for a click",
    "element": "waits for the element's answer",
}


def _indented(text: str, prefix: str) -> list[str]:
    return [prefix + line if line else prefix.rstrip() for line in text.split("\n")]


def _element_lines(elements: list[ElementData], prefix: str) -> list[str]:
    lines = []
    for element in elements:
        where = "" if element.display == "inline" else f" ({element.display})"
        lines.append(f"{prefix}[{element.kind}] {element.name}{where}")
        if element.kind == "text" and element.content:
            lines += _indented(element.content, prefix + "  ")
    return lines


def _step_lines(step: StepData, transcript: Transcript, depth: int) -> list[str]:
    prefix = "  " * depth
    lines = [f"{prefix}> {step.name} ({step.type}, {step.status})"]
    if step.input:
        lines += [f"{prefix}  input:", *_indented(step.input, prefix + "    ")]
    if step.output:
        lines += [f"{prefix}  output:", *_indented(step.output, prefix + "    ")]
    lines += _element_lines(step.elements, prefix + "  ")
    for child in transcript.children(step.id):
        lines += _step_lines(child, transcript, depth + 1)
    return lines


def _message_lines(message: MessageData) -> list[str]:
    head, *rest = message.content.split("\n")
    extra = []
    if message.command:
        extra.append(f"/{message.command}")
    extra += [f"{mode}={choice}" for mode, choice in sorted(message.modes.items())]
    marks = f" [{' '.join(extra)}]" if extra else ""
    lines = [f"{message.author}{marks}: {head}".rstrip()]
    if rest:
        lines += _indented("\n".join(rest), "  ")
    lines += _element_lines(message.elements, "  ")
    lines += [f"  [button] {action.label}" for action in message.actions]
    if message.ask is not None:
        lines.append(f"  ({_ASKS.get(message.ask.kind, 'waits')})")
    return lines


def transcript_text(transcript: Transcript) -> str:
    """The chat as readable text: each message (``author: text``) and each step (``> name
    (type, status)`` with its input and output, nested steps indented under it), in order,
    with their elements, buttons and open questions, then the side panel. The same chat
    gives the same text on every run (no ids, no times), for snapshot tests."""
    lines: list[str] = []
    for item in transcript.roots():
        if isinstance(item, MessageData):
            lines += _message_lines(item)
        else:
            lines += _step_lines(item, transcript, 0)
    panel = transcript.sidebar
    if panel is not None and panel.elements:
        lines.append(f"Side panel: {panel.title}".rstrip())
        lines += _element_lines(panel.elements, "  ")
    return "\n".join(lines) + ("\n" if lines else "")
