"""The objects a chat app works with: ``Message``, ``ErrorMessage``, ``Step`` and friends.

They follow Chainlit's names and behaviour. Each is plain data plus a few coroutines that
hand the data to the current chat session as events; none of them does I/O itself.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast, overload

from lightchat.api.elements import (
    Action,
    Audio,
    Element,
    File,
    Image,
    Pdf,
    Video,
)
from lightchat.chat.session import ChatSession, _current, current_session, dispatch, in_loop_thread
from lightchat.domain.events import (
    STEP_TYPES,
    WINDOW_MESSAGE_MAX_BYTES,
    ActionData,
    AskData,
    CommandData,
    ElementData,
    JSONRefused,
    MessageData,
    MessageType,
    Mode,
    RemoveEvent,
    StepData,
    StepEvent,
    StepType,
    checked_json,
    new_id,
)
from lightchat.errors import ConfigError, NoSessionError

P = ParamSpec("P")
R = TypeVar("R")

_current_step: ContextVar[Step | None] = ContextVar("lightchat_step", default=None)


def _text(value: Any) -> tuple[str, str | None]:
    """A value as shown in a step: strings as they are, anything else as JSON if it can."""
    if value is None:
        return "", None
    if isinstance(value, str):
        return value, None
    try:
        return json.dumps(value, indent=2, ensure_ascii=False, default=str), "json"
    except (TypeError, ValueError):
        return str(value), None


class Message:
    """A chat message.

    Example::

        msg = cl.Message(content="")
        for token in ["Hel", "lo"]:
            await msg.stream_token(token)
        await msg.send()
    """

    def __init__(
        self,
        content: str | Any = "",
        author: str | None = None,
        language: str | None = None,
        parent_id: str | None = None,
        id: str | None = None,
        type: MessageType = "assistant_message",
        created_at: float | None = None,
        elements: list[Element] | None = None,
        actions: list[Action] | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> None:
        text, detected = _text(content)
        self.content: str = text
        self.language = language or detected
        self.author = author
        self.parent_id = parent_id
        self.id = id or new_id()
        self.type: MessageType = type
        self.created_at = created_at or time.time()
        self.elements = list(elements or [])
        self.actions = list(actions or [])
        self.metadata = dict(metadata or {})
        self.tags = list(tags or [])
        self.command: str | None = None
        self.modes: dict[str, str] = {}
        self._session: ChatSession | None = None
        self._streaming = False
        self._sent = False

    @classmethod
    def from_data(cls, data: MessageData) -> Message:
        """The message a user sent, as ``on_message`` receives it."""
        message = cls(
            content=data.content,
            author=data.author,
            id=data.id,
            type=data.type,
            created_at=data.created_at,
            elements=[element_from_data(e) for e in data.elements],
        )
        message.command = data.command
        message.modes = dict(data.modes)
        message._sent = True
        return message

    def _bind(self) -> ChatSession:
        if self._session is None:
            self._session = current_session()
            if self.parent_id is None:
                parent = _current_step.get()
                self.parent_id = parent.id if parent is not None else None
        return self._session

    def _data(self, streaming: bool, ask: AskData | None = None) -> MessageData:
        session = self._bind()
        return MessageData(
            id=self.id,
            author=self.author or session.settings.name,
            type=self.type,
            content=self.content,
            language=self.language,
            parent_id=self.parent_id,
            created_at=self.created_at,
            streaming=streaming,
            elements=[element.data(self.id) for element in self.elements],
            actions=[action.data() for action in self.actions],
            ask=ask,
        )

    def _emit(self, streaming: bool) -> None:
        session = self._bind()
        dispatch(session, session.emit_message, self._data(streaming))

    async def _prepare(self) -> None:
        """Keep the bytes of the message's elements, and bind its actions."""
        session = self._bind()
        for element in self.elements:
            await element.prepare(session)
            element.for_id = self.id
        for action in self.actions:
            action.for_id = self.id
            action._session = session

    async def send(self) -> Message:
        """Show the message (or finish one that was streaming). Returns the message."""
        await self._prepare()
        self._streaming = False
        self._sent = True
        self._emit(streaming=False)
        return self

    async def update(self) -> bool:
        """Show the message's current content (and author) in place of the old."""
        await self._prepare()
        self._emit(streaming=self._streaming)
        return True

    async def remove(self) -> bool:
        """Take the message out of the chat."""
        session = self._bind()
        dispatch(session, session.emit, RemoveEvent(self.id))
        return True

    async def stream_token(self, token: str, is_sequence: bool = False) -> None:
        """Append ``token`` to the message as it is shown (``is_sequence``: replace it)."""
        session = self._bind()
        if is_sequence:
            self.content = token
            self._streaming = True
            self._emit(streaming=True)
            return
        if not self._streaming:
            # The first token shows the message (or re-opens a sent one) as streaming.
            self._streaming = True
            self.content += token
            self._emit(streaming=True)
            return
        self.content += token
        dispatch(session, session.stream, self.id, token)

    def to_dict(self) -> dict[str, Any]:
        """The message as a plain dict (Chainlit's shape, for history and prompts)."""
        return {
            "id": self.id,
            "output": self.content,
            "author": self.author,
            "type": self.type,
            "language": self.language,
            "parentId": self.parent_id,
            "createdAt": self.created_at,
        }

    def __repr__(self) -> str:
        return f"Message(id={self.id!r}, author={self.author!r}, content={self.content[:40]!r})"


def element_from_data(data: ElementData) -> Element:
    """An uploaded file as ``on_message`` receives it in ``message.elements``."""
    kinds: dict[str, type[Element]] = {
        "image": Image,
        "audio": Audio,
        "video": Video,
        "pdf": Pdf,
    }
    element = kinds.get(data.kind, File)(
        data.name,
        path=data.extra.get("path"),
        url=data.url,
        display=data.display,
        id=data.id,
        for_id=data.for_id,
    )
    element.mime = data.mime
    element.key = data.key
    element.bytes_size = data.size
    return element


class _Ask(Message):
    """A message that asks the user something and waits for the answer."""

    kind: str = "text"

    def __init__(
        self,
        content: str = "",
        author: str | None = None,
        timeout: float = 60,
        raise_on_timeout: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(content=content, author=author, **kwargs)
        self.timeout = timeout
        self.raise_on_timeout = raise_on_timeout

    def _question(self) -> AskData:
        return AskData(kind="text")

    async def _ask(self) -> Any:
        session = self._bind()
        if not in_loop_thread(session):
            raise RuntimeError("Ask the user from async code, or through cl.run_sync(...).")
        await self._prepare()
        self._sent = True
        try:
            return await session.ask(self._data(False, self._question()), self.timeout)
        except TimeoutError:
            if self.raise_on_timeout:
                raise
            return None


class AskUserMessage(_Ask):
    """Ask the user to type an answer; ``send()`` returns it, or None on timeout.

    Example::

        answer = await cl.AskUserMessage(content="What is your name?", timeout=30).send()
        if answer:
            await cl.Message(content=f"Hello {answer['output']}").send()
    """

    async def send(self) -> dict[str, Any] | None:  # type: ignore[override]
        """Show the question and wait for the answer (a dict: ``output``, ``content``...)."""
        answer = await self._ask()
        if answer is None:
            return None
        assert isinstance(answer, MessageData)
        return {
            "id": answer.id,
            "output": answer.content,
            "content": answer.content,
            "author": answer.author,
            "type": answer.type,
            "createdAt": answer.created_at,
        }


class AskActionMessage(_Ask):
    """Ask the user to click one of ``actions``; ``send()`` returns the chosen one as a
    dict (``name``, ``payload``, ``label``...), or None on timeout."""

    def __init__(self, content: str, actions: list[Action], **kwargs: Any) -> None:
        super().__init__(content=content, actions=actions, **kwargs)

    def _question(self) -> AskData:
        return AskData(kind="action")

    async def send(self) -> dict[str, Any] | None:  # type: ignore[override]
        """Show the question with its buttons and wait for a click."""
        answer = await self._ask()
        if answer is None:
            return None
        assert isinstance(answer, ActionData)
        return Action.from_data(answer, self.id).to_dict()


class AskFileResponse:
    """A file the user uploaded in answer to an ``AskFileMessage``."""

    def __init__(self, id: str, name: str, path: str, size: int, type: str) -> None:
        self.id = id
        self.name = name
        self.path = path
        self.size = size
        self.type = type

    def __repr__(self) -> str:
        return f"AskFileResponse(name={self.name!r}, size={self.size}, type={self.type!r})"


class AskFileMessage(_Ask):
    """Ask the user to upload files; ``send()`` returns them (``AskFileResponse``: name,
    path, size, type), or None on timeout.

    ``accept`` lists MIME types (``"text/plain"``, ``"image/*"``) or extensions
    (``".pdf"``); a dict of MIME type to extensions is accepted too.
    """

    def __init__(
        self,
        content: str,
        accept: list[str] | dict[str, list[str]] | None = None,
        max_size_mb: int = 2,
        max_files: int = 1,
        **kwargs: Any,
    ) -> None:
        super().__init__(content=content, **kwargs)
        if isinstance(accept, dict):
            accept = [*accept.keys(), *(e for exts in accept.values() for e in exts)]
        self.accept = list(accept or [])
        self.max_size_mb = max_size_mb
        self.max_files = max_files

    def _question(self) -> AskData:
        return AskData(
            kind="file",
            accept=self.accept,
            max_size_mb=self.max_size_mb,
            max_files=self.max_files,
        )

    async def send(self) -> list[AskFileResponse] | None:  # type: ignore[override]
        """Show the question with its upload form and wait for the files."""
        answer = await self._ask()
        if answer is None:
            return None
        return [
            AskFileResponse(
                id=e.id,
                name=e.name,
                path=str(e.extra.get("path", "")),
                size=e.size or 0,
                type=e.mime or "application/octet-stream",
            )
            for e in answer
        ]


class ErrorMessage(Message):
    """A message shown as an error (``role="alert"``)."""

    def __init__(self, content: str, author: str = "Error", **kwargs: Any) -> None:
        super().__init__(content=content, author=author, type="error", **kwargs)


class Step:
    """An intermediate step: a tool call, a retrieval, an LLM call.

    Use it as an async (or plain) context manager; steps opened inside it nest under it::

        async with cl.Step(name="search", type="tool") as step:
            step.input = query
            step.output = await search(query)
    """

    def __init__(
        self,
        name: str | None = None,
        type: StepType = "undefined",
        id: str | None = None,
        parent_id: str | None = None,
        show_input: bool | str = "json",
        language: str | None = None,
        default_open: bool = False,
        elements: list[Any] | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
        icon: str | None = None,
    ) -> None:
        if type not in STEP_TYPES:
            raise ConfigError(
                f"Step type {type!r} is not one of {', '.join(sorted(STEP_TYPES))}; pick one."
            )
        self.name = name or "Step"
        self.type: StepType = type
        self.id = id or new_id()
        self.parent_id = parent_id
        self.show_input = show_input
        self.language = language
        self.default_open = default_open
        self.elements = list(elements or [])
        self.metadata = dict(metadata or {})
        self.tags = list(tags or [])
        self.icon = icon
        self.is_error = False
        self.start: float | None = None
        self.end: float | None = None
        self._input = ""
        self._output = ""
        self._output_language: str | None = None
        self._session: ChatSession | None = None
        self._token: Any = None

    @property
    def input(self) -> str:
        """What the step was given (a non-string value is shown as JSON)."""
        return self._input

    @input.setter
    def input(self, value: Any) -> None:
        self._input, _ = _text(value)

    @property
    def output(self) -> str:
        """What the step produced (a non-string value is shown as JSON)."""
        return self._output

    @output.setter
    def output(self, value: Any) -> None:
        self._output, self._output_language = _text(value)

    def _data(self) -> StepData:
        started = self.start or time.time()
        return StepData(
            id=self.id,
            name=self.name,
            type=self.type,
            parent_id=self.parent_id,
            input=self._input,
            output=self._output,
            status="failed" if self.is_error else ("done" if self.end else "running"),
            show_input=self.show_input,
            language=self.language or self._output_language,
            started_at=started,
            ended_at=self.end,
            icon=self.icon,
            default_open=self.default_open,
        )

    def _emit(self) -> None:
        session = self._session
        if session is not None:
            dispatch(session, session.emit, StepEvent(self._data()))

    def _enter(self) -> None:
        try:
            self._session = current_session()
        except NoSessionError:
            self._session = None  # outside a chat (a unit test): run without showing
        if self.parent_id is None:
            parent = _current_step.get()
            self.parent_id = parent.id if parent is not None else None
        self._token = _current_step.set(self)
        self.start = time.time()
        self._emit()

    def _exit(self, exc: BaseException | None) -> None:
        if self._token is not None:
            try:
                _current_step.reset(self._token)
            except ValueError:  # exited in another context (e.g. a generator); harmless
                _current_step.set(None)
            self._token = None
        if exc is not None:
            self.is_error = True
            if not self._output:
                self._output = str(exc) or type(exc).__name__
        self.end = time.time()
        self._emit()

    async def __aenter__(self) -> Step:
        self._enter()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit(exc)

    def __enter__(self) -> Step:
        self._enter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._exit(exc)

    async def send(self) -> Step:
        """Show the step (as it stands) without the context manager."""
        if self._session is None:
            self._session = current_session()
        if self.start is None:
            self.start = time.time()
        self._emit()
        return self

    async def update(self) -> bool:
        """Show the step's current input, output and state."""
        self._emit()
        return True

    async def remove(self) -> bool:
        """Take the step (and its nested steps) out of the chat."""
        session = self._session or current_session()
        dispatch(session, session.emit, RemoveEvent(self.id))
        return True

    async def stream_token(self, token: str, is_sequence: bool = False) -> None:
        """Append ``token`` to the step's output as it is shown (``is_sequence``: replace)."""
        if is_sequence:
            self._output = token
            self._emit()
            return
        self._output += token
        session = self._session
        if session is not None:
            dispatch(session, session.stream, self.id, token)


def _describe_call(func: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    try:
        bound = inspect.signature(func).bind(*args, **kwargs)
    except TypeError:
        return {"args": list(args), **kwargs}
    arguments = dict(bound.arguments)
    arguments.pop("self", None)
    arguments.pop("cls", None)
    return arguments


@overload
def step(original_function: Callable[P, R]) -> Callable[P, R]: ...
@overload
def step(
    original_function: None = None,
    *,
    name: str | None = None,
    type: StepType = "undefined",
    show_input: bool | str = "json",
    language: str | None = None,
    default_open: bool = False,
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def step(
    original_function: Callable[P, R] | None = None,
    *,
    name: str | None = None,
    type: StepType = "undefined",
    show_input: bool | str = "json",
    language: str | None = None,
    default_open: bool = False,
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Show each call of a function as a step, with its arguments and its return value.

    Works on sync and async functions, with or without arguments::

        @cl.step(type="tool")
        async def search(query: str) -> str: ...
    """

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        def make() -> Step:
            return Step(
                name=name or func.__name__,
                type=type,
                show_input=show_input,
                language=language,
                default_open=default_open,
            )

        if inspect.iscoroutinefunction(func):
            async_func = cast(Callable[P, Awaitable[Any]], func)

            @functools.wraps(func)
            async def async_wrapper(*args: P.args, **kwargs: P.kwargs) -> Any:
                current = make()
                current.input = _describe_call(func, args, kwargs)
                async with current:
                    result = await async_func(*args, **kwargs)
                    if result is not None and not current.output:
                        current.output = result
                    return result

            return cast(Callable[P, R], async_wrapper)

        @functools.wraps(func)
        def sync_wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            current = make()
            current.input = _describe_call(func, args, kwargs)
            with current:
                result = func(*args, **kwargs)
                if result is not None and not current.output:
                    current.output = result
                return result

        return sync_wrapper

    if original_function is not None:
        return decorate(original_function)
    return decorate


async def send_window_message(data: Any) -> None:
    """Post ``data`` to the page that frames the chat, e.g. the copilot widget's host page.

    ``data`` is a string or any JSON value (at most 64 KB as JSON). The framed chat page
    posts it with ``window.parent.postMessage(data, origin)`` only when the parent's origin
    is one the app lets frame it (``Settings.frame_ancestors``); the host page hears it as
    a ``message`` event. Example::

        @cl.on_window_message
        async def window_message(message):
            await cl.send_window_message({"heard": message})
    """
    session = current_session()
    dispatch(session, session.send_window_message, _for_the_page(data, "A window message"))


def _for_the_page(value: Any, what: str) -> Any:
    """``value`` as the page framing the chat gets it: a copy through JSON, as
    ``checked_json`` takes it (at most ``WINDOW_MESSAGE_MAX_BYTES``); else ``ConfigError``
    saying why, naming ``what``."""
    try:
        text = json.dumps(value, separators=(",", ":"), allow_nan=False)
    # RecursionError: nested deeper than the encoder goes (a cycle is a ValueError).
    except (TypeError, ValueError, RecursionError) as exc:
        raise ConfigError(
            f"{what} must be a string or JSON values (dicts, lists, numbers); {exc}. "
            f"Convert it first, e.g. str(value)."
        ) from None
    try:
        return checked_json(text)
    except JSONRefused as exc:
        if exc.too_large:
            raise ConfigError(
                f"{what} is {len(text.encode()):,} bytes as JSON; the limit is "
                f"{WINDOW_MESSAGE_MAX_BYTES:,}. Send less, or a link to the rest."
            ) from None
        raise ConfigError(f"{what}: {exc} Send something simpler.") from None


COPILOT_FUNCTION_TIMEOUT_S = 60.0
"""How long ``CopilotFunction.acall`` waits for the host page's answer by default."""


@dataclass
class CopilotFunction:
    """A function of the page hosting the copilot widget, for the chat to call.

    ``await fn.acall()`` sends ``name`` and ``args`` to the host page, where the widget
    fires a ``chainlit-call-fn`` event whose listener answers with ``callback(result)``;
    ``acall`` returns that result. Only a chat opened by the widget has such a page.
    Example::

        if cl.context.session.client_type == "copilot":
            title = await cl.CopilotFunction(name="page_title", args={}).acall()
    """

    name: str
    args: dict[str, Any] = field(default_factory=dict)

    async def acall(self, timeout: float = COPILOT_FUNCTION_TIMEOUT_S) -> Any:
        """Call the function and return what the page answered: JSON data as parsed
        (a string, number, list, dict, bool or None), never anything that runs.

        Raises ``TimeoutError`` when the page did not answer within ``timeout`` seconds
        (the chat goes on), and ``ConfigError`` in a chat that is not a copilot's, or for
        arguments that are not JSON.
        """
        session = current_session()
        if not in_loop_thread(session):
            raise RuntimeError("Call a CopilotFunction from async code, or through cl.run_sync.")
        self._check(session)
        args = _for_the_page(self.args, f"The args of CopilotFunction {self.name!r}")
        try:
            return await session.call_page(self.name, args, timeout)
        except TimeoutError:
            raise TimeoutError(
                f"The page hosting the copilot did not answer the function {self.name!r} "
                f"within {timeout:g} s. Does it listen for 'chainlit-call-fn' and call "
                f"callback(result)?"
            ) from None

    def _check(self, session: ChatSession) -> None:
        """Refuse a call no page can answer, rather than wait for nothing."""
        if session.client_type != "copilot":
            # Chainlit sends the call anyway, and acall() returns None after its
            # five-minute timeout: a silent wait is worse than an error.
            raise ConfigError(
                f"CopilotFunction {self.name!r} needs a chat opened by the copilot widget; "
                f"this chat's client_type is {session.client_type!r}, so no page can "
                f"answer. Check cl.context.session.client_type == 'copilot' first."
            )
        if not isinstance(self.name, str) or not self.name:
            raise ConfigError("A CopilotFunction needs a name (a non-empty string).")
        if not isinstance(self.args, dict):
            raise ConfigError(f"A CopilotFunction's args are a dict, not {type(self.args)}.")


class UserSession:
    """Per-chat storage for the app (``cl.user_session``): any Python object, by key."""

    def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key`` in this chat, or ``default``."""
        return current_session().data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` for the rest of this chat."""
        current_session().data[key] = value

    def __contains__(self, key: str) -> bool:
        return key in current_session().data


class Context:
    """Where the running callback stands (``cl.context``): its session and current step."""

    @property
    def session(self) -> ChatSession:
        """The current chat session (``id``, ``user``, ``thread_id``)."""
        return current_session()

    @property
    def current_step(self) -> Step | None:
        """The innermost step open here, if any."""
        return _current_step.get()

    @property
    def emitter(self) -> Emitter:
        """What changes the chat's UI beyond messages: the composer's commands and modes."""
        return Emitter(current_session())


class Emitter:
    """Sets the composer's commands and mode pickers (``cl.context.emitter``).

    Example::

        await cl.context.emitter.set_commands(
            [{"id": "Picture", "icon": "image", "description": "Draw a picture"}]
        )
    """

    def __init__(self, session: ChatSession) -> None:
        self.session = session

    async def set_commands(self, commands: list[dict[str, Any] | CommandData]) -> None:
        """Offer commands in the composer ("/" and a menu, or buttons with ``button``);
        the chosen one arrives as ``message.command``."""
        data = [c if isinstance(c, CommandData) else _command(c) for c in commands]
        dispatch(self.session, self.session.set_composer, data, None)

    async def set_modes(self, modes: list[Mode]) -> None:
        """Offer pickers in the composer; the choices arrive as ``message.modes``."""
        for mode in modes:
            if not mode.options:
                raise ConfigError(f"Mode {mode.id!r} has no options; give it at least one.")
        dispatch(self.session, self.session.set_composer, None, list(modes))


def _command(spec: dict[str, Any]) -> CommandData:
    if not isinstance(spec.get("id"), str) or not spec["id"].strip():
        raise ConfigError(f"A command needs an 'id' (its name), got {spec!r}.")
    if any(ch.isspace() for ch in spec["id"]):
        raise ConfigError(f"Command id {spec['id']!r} has a space; use one word.")
    return CommandData(
        id=spec["id"],
        description=str(spec.get("description", "")),
        icon=spec.get("icon"),
        button=bool(spec.get("button", False)),
        persistent=bool(spec.get("persistent", False)),
    )


class ElementSidebar:
    """Opens and fills the side panel (``cl.ElementSidebar``).

    Example::

        await cl.ElementSidebar.set_title("Sources")
        await cl.ElementSidebar.set_elements([cl.Text(name="a.md", content="...")])
    """

    @staticmethod
    async def set_elements(elements: Sequence[Element], key: str | None = None) -> None:
        """Show these elements in the side panel (an empty list closes it)."""
        session = current_session()
        for element in elements:
            await element.prepare(session)
        dispatch(session, session.set_sidebar, None, [e.data() for e in elements])

    @staticmethod
    async def set_title(title: str) -> None:
        """The side panel's title."""
        session = current_session()
        dispatch(session, session.set_sidebar, title, None)


class ChatContext:
    """The conversation so far (``cl.chat_context``), e.g. to build a model's prompt.

    Example::

        history = cl.chat_context.to_openai()
        # [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]
    """

    _ROLES: dict[str, str] = {
        "user_message": "user",
        "assistant_message": "assistant",
        "system_message": "system",
    }

    def _messages(self) -> list[MessageData]:
        transcript = current_session().transcript
        return [
            item
            for item in transcript.items.values()
            if isinstance(item, MessageData) and item.type in self._ROLES and item.ask is None
        ]

    def get(self) -> list[Message]:
        """The user's and the assistant's messages shown in this chat, in order."""
        return [Message.from_data(data) for data in self._messages()]

    def to_openai(self) -> list[dict[str, str]]:
        """The messages as OpenAI-style chat messages (``role`` and ``content``)."""
        return [
            {"role": self._ROLES[data.type], "content": data.content} for data in self._messages()
        ]


user_session = UserSession()
context = Context()
chat_context = ChatContext()


def make_async(func: Callable[P, R]) -> Callable[P, Coroutine[Any, Any, R]]:
    """Turn a blocking function into a coroutine function that runs it in a thread.

    The thread sees the chat's context, so ``cl.user_session`` and ``run_sync`` work there.
    """

    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        return await asyncio.to_thread(func, *args, **kwargs)

    return wrapper


def run_sync(coro: Coroutine[Any, Any, R]) -> R:
    """Run a coroutine from sync code and return its result.

    In a sync callback (a worker thread) it runs on the chat's event loop and waits, e.g.
    ``cl.run_sync(cl.Message("hi").send())``. With no chat and no loop, it just runs it.
    """
    session = _current.get(None)
    if session is not None and not in_loop_thread(session):
        return asyncio.run_coroutine_threadsafe(coro, session.loop).result()
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    coro.close()
    raise RuntimeError("run_sync() cannot wait on the event loop's own thread; use await.")
