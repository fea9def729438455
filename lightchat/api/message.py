"""Messages: ``Message``, ``ErrorMessage``, and the questions back to the user
(``AskUserMessage``, ``AskActionMessage``, ``AskFileMessage``, ``AskElementMessage``).

They follow Chainlit's names and behaviour. Each is plain data plus a few coroutines that
hand the data to the current chat session as events; none of them does I/O itself.
"""

from __future__ import annotations

import time
from typing import Any, TypedDict

from lightchat.api.elements import (
    Action,
    Audio,
    CustomElement,
    Element,
    File,
    Image,
    Pdf,
    Video,
)
from lightchat.api.step import CURRENT_STEP, shown_text
from lightchat.chat.session import ChatSession, current_session, dispatch, in_loop_thread
from lightchat.config.registry import invoke
from lightchat.domain.events import (
    ActionData,
    AskData,
    ElementData,
    MessageData,
    MessageType,
    RemoveEvent,
    new_id,
)
from lightchat.errors import ConfigError


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
        command: str | None = None,
        modes: dict[str, str] | None = None,
    ) -> None:
        text, detected = shown_text(content)
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
        self.command: str | None = command
        self.modes: dict[str, str] = dict(modes or {})
        self._session: ChatSession | None = None
        self._streaming = False
        self._sent = False
        self._renamed = False

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
                parent = CURRENT_STEP.get()
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
            command=self.command,
            modes=dict(self.modes),
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

    async def _rename_author(self, session: ChatSession) -> None:
        """Once per message, the author as ``@author_rename`` shows it (if the app has one)."""
        rename = session.registry.callbacks.get("author_rename")
        if rename is None or self._renamed:
            return
        self._renamed = True
        original = self.author or session.settings.name  # the app's name by default
        renamed = await invoke(rename, original)
        if not isinstance(renamed, str):
            raise ConfigError(
                f"@author_rename returned {renamed!r} for {original!r}: return a string "
                "(the name to show)."
            )
        self.author = renamed

    async def send(self) -> Message:
        """Show the message (or finish one that was streaming). Returns the message."""
        await self._prepare()
        await self._rename_author(self._bind())
        self._streaming = False
        self._sent = True
        self._emit(streaming=False)
        return self

    async def update(self) -> bool:
        """Show the message's current content (and author) in place of the old; a message
        that was streaming is finished, as in Chainlit."""
        await self._prepare()
        self._streaming = False
        self._emit(streaming=False)
        return True

    async def remove_actions(self) -> None:
        """Take the message's actions (its buttons) away."""
        for action in self.actions:
            await action.remove()
        self.actions = []

    async def remove(self) -> bool:
        """Take the message out of the chat."""
        session = self._bind()
        dispatch(session, session.emit, RemoveEvent(self.id))
        return True

    async def stream_token(self, token: str, is_sequence: bool = False) -> None:
        """Append ``token`` to the message as it is shown (``is_sequence``: replace it).
        An empty token is ignored, as in Chainlit."""
        if not token:
            return
        session = self._bind()
        if is_sequence:
            self.content = token
            self._streaming = True
            self._emit(streaming=True)
            return
        if not self._streaming:
            # The first token shows the message (or re-opens a sent one) as streaming.
            await self._rename_author(session)
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


class AskElementResponse(TypedDict, total=False):
    """The shape of what ``AskElementMessage.send()`` returns (Chainlit's type):
    ``submitted`` (True when the user submitted the element, False when they cancelled
    it), and, once submitted, the values the element sent with it, under their own keys
    (so ``send()`` is typed as a plain ``dict``)."""

    submitted: bool


class AskElementMessage(_Ask):
    """Ask the user to fill in a ``CustomElement`` and submit it; ``send()`` returns the
    response, or None on timeout (or raises ``TimeoutError`` with ``raise_on_timeout``).

    The element shows with the question until the user answers: a JSX element answers with
    ``submitElement(values)`` or ``cancelElement()``, a template's form posts to its
    ``submit_url`` or ``cancel_url`` (see ``CustomElement``). The response is
    ``{"submitted": True, **values}`` or ``{"submitted": False}``. Then the element goes
    away and the message says how the question ended, as in Chainlit.

    What the user submits comes from the browser: check the values before acting on them.

    Example::

        form = cl.CustomElement(name="Ticket", props={"fields": ["summary"]})
        res = await cl.AskElementMessage(content="New ticket:", element=form).send()
        if res and res.get("submitted"):
            await cl.Message(content=f"Filed: {res['summary']}").send()
    """

    def __init__(
        self,
        content: str,
        element: CustomElement,
        author: str | None = None,
        timeout: float = 90,
        raise_on_timeout: bool = False,
        **kwargs: Any,
    ) -> None:
        if not isinstance(element, CustomElement):
            raise ConfigError(
                f"AskElementMessage shows a CustomElement, not {type(element).__name__}: "
                "pass element=cl.CustomElement(name=..., props=...)."
            )
        super().__init__(
            content=content,
            author=author,
            timeout=timeout,
            raise_on_timeout=raise_on_timeout,
            elements=[element],
            **kwargs,
        )
        self.element = element

    def _question(self) -> AskData:
        return AskData(kind="element", element_id=self.element.id)

    async def send(self) -> dict[str, Any] | None:  # type: ignore[override]
        """Show the question with its element and wait for the user to submit or cancel it."""
        answer = await self._ask()
        await self.element.remove()
        self.elements = []  # gone from the message: an update must not bring it back
        session = self._bind()
        if answer is None:
            self.content = session.say("ask.element_timed_out")
        elif answer.get("submitted"):
            self.content = session.say("ask.element_submitted")
        else:
            self.content = session.say("ask.element_cancelled")
        await self.update()
        return None if answer is None else dict(answer)


class ErrorMessage(Message):
    """A message shown as an error (``role="alert"``)."""

    def __init__(
        self,
        content: str,
        author: str = "Error",
        fail_on_persist_error: bool = False,
        **kwargs: Any,
    ) -> None:
        # fail_on_persist_error: Chainlit's; the history here never fails a send.
        super().__init__(content=content, author=author, type="error", **kwargs)
