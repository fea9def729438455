"""The event vocabulary: everything a chat shows is one of six events.

A chat session never touches a connection. What its callbacks do becomes an ordered list of
events (the session's log); pages and streams are views computed from that list. Keeping
the vocabulary small means a new UI feature is a new field or a new partial, not a new
method on some emitter.

``MessageEvent`` and ``StepEvent`` carry the full state of their item (a created or changed
message or step); ``TokenEvent`` appends text to one; ``RemoveEvent`` deletes one (and a
step's children); ``RunEvent`` says whether a callback is running, which drives "Stop";
``SettingsEvent`` gives the chat its settings form (``ChatSettings.send()``);
``WindowEvent`` carries data for the page that frames the chat (``send_window_message``).
``FunctionCallEvent`` asks the page hosting the copilot to run one of its functions
(``CopilotFunction``). ``AudioEvent``, ``AudioInterruptEvent`` and ``AudioConnectionEvent``
carry the app's voice to the page, stop it, and show whether voice is on.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

MessageType = Literal["user_message", "assistant_message", "system_message", "error"]
StepType = Literal["tool", "llm", "retrieval", "embedding", "rerank", "run", "undefined"]
StepStatus = Literal["running", "done", "failed"]
AskKind = Literal["text", "file", "action", "element"]
Display = Literal["inline", "side", "page"]
WidgetKind = Literal[
    "select", "slider", "switch", "textinput", "numberinput", "tags", "multiselect",
    "checkbox", "radio", "datepicker",
]  # fmt: skip

STEP_TYPES: frozenset[str] = frozenset(
    ["tool", "llm", "retrieval", "embedding", "rerank", "run", "undefined"]
)


def new_id() -> str:
    """A fresh random id for a message, step or session."""
    return uuid.uuid4().hex


@dataclass(slots=True)
class ActionData:
    """A button under a message; clicking it runs the app's ``@action_callback(name)``."""

    id: str
    name: str
    label: str
    payload: dict[str, Any] = field(default_factory=dict)
    tooltip: str = ""
    icon: str | None = None


@dataclass(slots=True)
class ElementData:
    """Something shown with a message besides its text: an image, a file, a table...

    ``kind`` is the element class (``image``, ``file``, ``text``, ``audio``, ``video``,
    ``pdf``, ``plotly``, ``dataframe``, ``tasklist``...). Bytes kept by lightchat are in
    file storage under ``key`` and served at the chat's element URL; ``url`` is an address
    the app gave, which the browser loads and the server never fetches. ``content`` holds
    text shown inline (a ``Text`` element's text, a table, a task list as JSON).
    """

    id: str
    kind: str
    name: str
    display: Display = "inline"
    for_id: str | None = None
    key: str | None = None
    url: str | None = None
    mime: str | None = None
    size: int | None = None
    content: str | None = None
    language: str | None = None
    page: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class AskData:
    """A question back to the user, open until answered (or timed out)."""

    kind: AskKind
    accept: list[str] = field(default_factory=list)
    max_size_mb: int = 2
    max_files: int = 1
    element_id: str | None = None
    """For ``kind="element"`` (``AskElementMessage``): the custom element whose
    submission answers."""


@dataclass(slots=True)
class CommandData:
    """A command the user can pick in the composer ("/" and its name, or its button)."""

    id: str
    description: str = ""
    icon: str | None = None
    button: bool = False
    persistent: bool = False
    selected: bool = False
    """Chosen in the composer when it is offered (Chainlit's ``selected``)."""


@dataclass(slots=True)
class ModeOption:
    """One choice of a ``Mode`` (e.g. one model of a "Model" picker)."""

    id: str
    name: str
    description: str | None = None
    icon: str | None = None
    default: bool = False


@dataclass(slots=True)
class Mode:
    """A picker in the composer; each message carries the option chosen in it."""

    id: str
    name: str
    options: list[ModeOption] = field(default_factory=list)

    def get_default_option(self) -> ModeOption | None:
        """The option marked ``default``, else the first one."""
        for option in self.options:
            if option.default:
                return option
        return self.options[0] if self.options else None

    def get_option_by_id(self, option_id: str) -> ModeOption | None:
        """The option with this id, if any."""
        return next((o for o in self.options if o.id == option_id), None)


@dataclass(slots=True)
class MessageData:
    """A message as shown in the chat, with its elements, actions and open question."""

    id: str
    author: str
    type: MessageType
    content: str = ""
    language: str | None = None
    parent_id: str | None = None
    created_at: float = field(default_factory=time.time)
    streaming: bool = False
    elements: list[ElementData] = field(default_factory=list)
    actions: list[ActionData] = field(default_factory=list)
    ask: AskData | None = None
    command: str | None = None
    modes: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False
    """True when the worker writing it stopped mid-answer (its chat was taken over)."""
    favorite: bool = False
    """A user message its author marked as a favourite (``features.favorites``)."""
    traceback: str | None = None
    """An error message's traceback, in debug mode only (``Settings.debug``): shown to the
    developer, never stored with the thread."""


@dataclass(slots=True)
class StepData:
    """An intermediate step (a tool call, a retrieval, an LLM call) as shown in the chat."""

    id: str
    name: str
    type: StepType = "undefined"
    parent_id: str | None = None
    input: str = ""
    output: str = ""
    status: StepStatus = "running"
    show_input: bool | str = False
    language: str | None = None
    started_at: float = field(default_factory=time.time)
    ended_at: float | None = None
    icon: str | None = None
    default_open: bool = False
    auto_collapse: bool = False
    """Shown open while it runs, then closed (Chainlit's ``auto_collapse``)."""
    interrupted: bool = False
    """True when the worker running it stopped before it ended (its chat was taken over)."""
    generation: dict[str, Any] | None = None
    """The LLM call the step made (``step.generation``), in Literal AI's shape, JSON-safe
    and bounded (``lightchat.domain.generation.generation_dict``); None for none."""
    elements: list[ElementData] = field(default_factory=list)
    """What the step shows besides its text (``cl.Step(elements=...)``, ``step.elements``):
    the sources a retrieval found, a chart a tool drew."""

    @property
    def duration(self) -> float | None:
        """Seconds between start and end, or None while running."""
        if self.ended_at is None:
            return None
        return max(0.0, self.ended_at - self.started_at)


@dataclass(slots=True)
class WidgetData:
    """One input of a chat's settings form, as the form shows it.

    ``options`` are the (label, value) pairs of a select, a multi-select or a radio group;
    ``min``, ``max`` and ``step`` bound a slider or a number; ``initial`` is the value the
    input starts with.
    """

    id: str
    kind: WidgetKind
    label: str
    initial: Any = None
    description: str = ""
    tooltip: str = ""
    disabled: bool = False
    options: list[tuple[str, Any]] = field(default_factory=list)
    min: float | None = None
    max: float | None = None
    step: float | None = None
    placeholder: str = ""
    multiline: bool = False
    min_date: str = ""
    """A date picker's first and last dates (ISO ``YYYY-MM-DD``), if bounded."""
    max_date: str = ""
    date_range: bool = False
    """A date picker of two dates, a start and an end (Chainlit's ``mode="range"``)."""
    group: str = ""
    """The tab of the settings form the input sits in (``cl.Tab``), if any."""


@dataclass(frozen=True, slots=True)
class MessageEvent:
    """A message was created, or its state changed."""

    message: MessageData


@dataclass(frozen=True, slots=True)
class StepEvent:
    """A step started, or its state changed (output, status, end)."""

    step: StepData


@dataclass(frozen=True, slots=True)
class TokenEvent:
    """Text appended to a message's content or a step's output."""

    id: str
    delta: str


@dataclass(frozen=True, slots=True)
class RemoveEvent:
    """A message or step was removed."""

    id: str


@dataclass(frozen=True, slots=True)
class RunEvent:
    """A callback started (running=True) or finished (running=False)."""

    running: bool


@dataclass(frozen=True, slots=True)
class SettingsEvent:
    """The chat's settings form was set (``ChatSettings.send()``): its inputs, in order."""

    widgets: list[WidgetData]


@dataclass(frozen=True, slots=True)
class ComposerEvent:
    """The composer's commands and mode pickers were set."""

    commands: list[CommandData]
    modes: list[Mode]


@dataclass(frozen=True, slots=True)
class SidebarEvent:
    """The side panel shows these elements under this title (no elements: it closes)."""

    title: str
    elements: list[ElementData]


MAX_FAVORITES = 100
"""The most favourite messages a list shows (a user's, or what the app sets)."""


@dataclass(frozen=True, slots=True)
class FavoriteData:
    """A message in the composer's "Favorites" list: its id and its text."""

    id: str
    content: str


@dataclass(frozen=True, slots=True)
class FavoriteEvent:
    """The user marked a message of theirs as a favourite (``favorite``), or unmarked it,
    from this chat's page: the message's star shows it, and the chat's "Favorites" lists
    the user's stored favourites again (see ``FavoritesEvent``)."""

    id: str
    favorite: bool


@dataclass(frozen=True, slots=True)
class FavoritesEvent:
    """The app set what the chat's "Favorites" lists (``emitter.set_favorites``), until it
    sets another list or the user marks or unmarks a message from the chat."""

    favorites: list[FavoriteData]


WINDOW_MESSAGE_MAX_BYTES = 64 * 1024
"""The largest window message (as JSON) either way between a chat and the page framing it,
and the largest JSON a chat takes from a browser (see ``checked_json``)."""

JSON_MAX_DEPTH = 64
"""How deep lists and objects may nest in JSON a chat exchanges with a browser."""


class JSONRefused(ValueError):
    """Text that is not JSON a chat exchanges with a browser (``checked_json``): not JSON,
    nested too deep, or too large (``too_large``); the message says which."""

    def __init__(self, reason: str, *, too_large: bool = False) -> None:
        super().__init__(reason)
        self.too_large = too_large


def checked_json(text: str) -> Any:
    """``text`` parsed, if it is JSON as a browser writes it (no ``NaN``, no infinite or
    overlong number), at most ``WINDOW_MESSAGE_MAX_BYTES`` as UTF-8 and nested at most
    ``JSON_MAX_DEPTH`` deep; else ``JSONRefused`` saying why.

    The one check of JSON that crosses between a chat and a browser, either way: what a
    page posts (a window message, a function's result, a custom element's payload) and
    what the app sends to the page (``send_window_message``, ``CopilotFunction``).

    >>> checked_json('{"n": [1, 2]}')
    {'n': [1, 2]}
    >>> checked_json("[" * 65 + "]" * 65)
    Traceback (most recent call last):
    ...
    lightchat.domain.events.JSONRefused: The JSON is nested more than 64 deep.
    """
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > WINDOW_MESSAGE_MAX_BYTES:
        raise JSONRefused(
            f"The JSON is {size:,} bytes; the limit is {WINDOW_MESSAGE_MAX_BYTES:,}.",
            too_large=True,
        )
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except RecursionError:  # nested too deep for the parser itself
        raise JSONRefused(f"The JSON is nested more than {JSON_MAX_DEPTH} deep.") from None
    except ValueError as exc:  # not JSON, NaN, a number too long to convert
        raise JSONRefused(f"This is not JSON ({exc}).") from None
    if _deeper_than(value, JSON_MAX_DEPTH):
        raise JSONRefused(f"The JSON is nested more than {JSON_MAX_DEPTH} deep.")
    return value


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"{text[:20]} is too large a number")
    return value


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and dicts nest in ``value`` more than ``limit`` deep (no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in item)
    return False


@dataclass(frozen=True, slots=True)
class WindowEvent:
    """Data for the page that frames the chat (``send_window_message``): any JSON value.

    Only a page open at the moment sees it: a page loaded later starts its stream after
    it, so a window message is delivered once per page, never replayed from the log.
    """

    data: Any


ToastType = Literal["info", "success", "warning", "error"]
TOAST_TYPES: tuple[ToastType, ...] = ("info", "success", "warning", "error")


@dataclass(frozen=True, slots=True)
class ToastEvent:
    """A short notice that shows over the chat for a few seconds (``send_toast``); like a
    window message, only a page open at the moment shows it."""

    message: str
    type: ToastType = "info"


@dataclass(frozen=True, slots=True)
class AppEvent:
    """An event of the app's own for the page's scripts (``emitter.emit(name, data)``):
    the page dispatches it as a DOM ``CustomEvent`` named ``lightchat:<name>`` with
    ``data`` as its ``detail``. Like a window message, only a page open at the moment
    hears it."""

    name: str
    data: Any


@dataclass(frozen=True, slots=True)
class FunctionCallEvent:
    """A call of a function of the page hosting the copilot (``CopilotFunction.acall``).

    ``call_id`` is random: the page answers by posting the result under it, and nobody
    else can guess where to post. Delivered like a window message, once to each page open
    at the moment and never replayed: a call nobody hears times out.
    """

    call_id: str
    name: str
    args: dict[str, Any]


AUDIO_CHUNK_MAX_BYTES = 512 * 1024
"""The largest piece of audio the app may send at once (``send_audio_chunk``): a few
seconds of voice; longer audio goes in several chunks."""


@dataclass(frozen=True, slots=True)
class AudioEvent:
    """A piece of the app's voice (``emitter.send_audio_chunk``): ``data`` is its bytes in
    base64 (16-bit PCM, mono, at ``audio_sample_rate``, for ``pcm16``), ``track`` names the
    answer it belongs to. Pages open at the moment play it as it comes; a page loaded later
    does not (its stream starts after it), and the log keeps only the last few chunks
    (``lightchat.bus``)."""

    track: str
    mime: str
    data: str


@dataclass(frozen=True, slots=True)
class AudioInterruptEvent:
    """Stop the app's voice playing in the page now (``emitter.send_audio_interrupt``: the
    user spoke over it)."""


AudioState = Literal["on", "off"]


@dataclass(frozen=True, slots=True)
class AudioConnectionEvent:
    """Whether the chat's voice connection is on (``emitter.update_audio_connection``, and
    the answer of ``on_audio_start``): the microphone button shows it."""

    state: AudioState


Event = (
    MessageEvent
    | StepEvent
    | TokenEvent
    | RemoveEvent
    | RunEvent
    | SettingsEvent
    | ComposerEvent
    | SidebarEvent
    | WindowEvent
    | FunctionCallEvent
    | ToastEvent
    | AppEvent
    | FavoriteEvent
    | FavoritesEvent
    | AudioEvent
    | AudioInterruptEvent
    | AudioConnectionEvent
)


@dataclass(frozen=True, slots=True)
class Entry:
    """An event with its position in the session's log (1, 2, 3, ...)."""

    seq: int
    event: Event


def message_from_dict(data: dict[str, Any]) -> MessageData:
    """A message from the dict ``dataclasses.asdict`` made of it."""
    fields_ = dict(data)
    fields_["elements"] = [ElementData(**e) for e in fields_.get("elements", ())]
    fields_["actions"] = [ActionData(**a) for a in fields_.get("actions", ())]
    ask = fields_.get("ask")
    fields_["ask"] = AskData(**ask) if ask else None
    return MessageData(**fields_)


def step_from_dict(data: dict[str, Any]) -> StepData:
    """A step from the dict ``dataclasses.asdict`` made of it."""
    fields_ = dict(data)
    fields_["elements"] = [ElementData(**e) for e in fields_.get("elements", ())]
    return StepData(**fields_)


def widget_from_dict(data: dict[str, Any]) -> WidgetData:
    """A settings input from the dict ``dataclasses.asdict`` made of it."""
    fields_ = dict(data)
    fields_["options"] = [(str(label), value) for label, value in fields_.get("options", ())]
    return WidgetData(**fields_)


def event_to_json(event: Event) -> str:
    """Serialize an event, e.g. for a bus that crosses processes."""
    kind = type(event).__name__
    return json.dumps({"kind": kind, **asdict(event)}, separators=(",", ":"))


def event_from_json(text: str) -> Event:
    """The inverse of :func:`event_to_json`."""
    data: dict[str, Any] = json.loads(text)
    kind = data.pop("kind")
    if kind == "MessageEvent":
        return MessageEvent(message_from_dict(data["message"]))
    if kind == "StepEvent":
        return StepEvent(step_from_dict(data["step"]))
    if kind == "TokenEvent":
        return TokenEvent(**data)
    if kind == "RemoveEvent":
        return RemoveEvent(**data)
    if kind == "RunEvent":
        return RunEvent(**data)
    if kind == "ComposerEvent":
        modes = [
            Mode(m["id"], m["name"], [ModeOption(**o) for o in m["options"]]) for m in data["modes"]
        ]
        return ComposerEvent([CommandData(**c) for c in data["commands"]], modes)
    if kind == "SidebarEvent":
        return SidebarEvent(data["title"], [ElementData(**e) for e in data["elements"]])
    if kind == "SettingsEvent":
        return SettingsEvent([widget_from_dict(w) for w in data["widgets"]])
    if kind == "WindowEvent":
        return WindowEvent(data["data"])
    if kind == "FunctionCallEvent":
        return FunctionCallEvent(data["call_id"], data["name"], data["args"])
    if kind == "ToastEvent":
        return ToastEvent(data["message"], data["type"])
    if kind == "AppEvent":
        return AppEvent(data["name"], data["data"])
    if kind == "FavoriteEvent":
        return FavoriteEvent(data["id"], data["favorite"])
    if kind == "FavoritesEvent":
        return FavoritesEvent([FavoriteData(**f) for f in data["favorites"]])
    if kind == "AudioEvent":
        return AudioEvent(data["track"], data["mime"], data["data"])
    if kind == "AudioInterruptEvent":
        return AudioInterruptEvent()
    if kind == "AudioConnectionEvent":
        return AudioConnectionEvent("on" if data["state"] == "on" else "off")
    raise ValueError(f"unknown event kind {kind!r}")
