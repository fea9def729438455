"""The current chat, as an app's code reaches it: ``user_session``, ``context`` (with its
``emitter``), ``chat_context`` and ``ElementSidebar``, as Chainlit names them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from lightchat.api.elements import (
    Element,
)
from lightchat.api.message import Message
from lightchat.api.step import CURRENT_STEP, Step
from lightchat.chat.session import ChatSession, current_session, dispatch
from lightchat.domain.events import (
    CommandData,
    MessageData,
    Mode,
)
from lightchat.errors import ConfigError


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
        return CURRENT_STEP.get()

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
