"""The current chat, as an app's code reaches it: ``user_session``, ``context`` (with its
``emitter``), ``chat_context`` and ``ElementSidebar``, as Chainlit names them.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from lightchat.api.copilot import COPILOT_FUNCTION_TIMEOUT_S, CopilotFunction, for_the_page
from lightchat.api.elements import (
    Element,
)
from lightchat.api.message import Message
from lightchat.api.step import CURRENT_STEP, Step
from lightchat.auth.sessions import owner_key
from lightchat.chat.chats import served
from lightchat.chat.session import (
    ChatSession,
    current_run,
    current_session,
    dispatch,
    enter,
)
from lightchat.domain.events import (
    AUDIO_CHUNK_MAX_BYTES,
    MAX_FAVORITES,
    TOAST_TYPES,
    AudioConnectionEvent,
    AudioEvent,
    AudioInterruptEvent,
    CommandData,
    FavoriteData,
    FavoritesEvent,
    MessageData,
    Mode,
    ToastEvent,
)
from lightchat.domain.user import User
from lightchat.errors import ConfigError, NoSessionError

T = TypeVar("T")

_EVENT_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class UserSession:
    """Per-chat storage for the app (``cl.user_session``): any Python object, by key.

    The chat's own values are there too, as in Chainlit: ``id``, ``env`` (the keys the
    user gave), ``chat_settings``, ``user``, ``chat_profile``, ``client_type`` and
    ``languages`` (the browser's ``Accept-Language``).
    """

    def get(self, key: str, default: Any = None) -> Any:
        """The value stored under ``key`` in this chat, or ``default``."""
        session = current_session()
        session.data.update(session.framework_values())
        return session.data.get(key, default)

    def set(self, key: str, value: Any) -> None:
        """Store ``value`` under ``key`` for the rest of this chat."""
        current_session().data[key] = value

    def __contains__(self, key: str) -> bool:
        session = current_session()
        return key in session.data or key in session.framework_values()

    def create_accessor(
        self, key: str, default: T, *, apply_fn: Callable[[T], T] | None = None
    ) -> SessionAccessor[T]:
        """A typed accessor of one key, with its default (and ``apply_fn``, which
        ``apply()`` uses to change the value), as in Chainlit::

            count = cl.user_session.create_accessor("count", 0, apply_fn=lambda n: n + 1)
            count.apply()  # 1, then 2...
        """
        return SessionAccessor(self, key, default, apply_fn)


class SessionAccessor(Generic[T]):
    """One key of ``user_session``, typed (see ``UserSession.create_accessor``)."""

    def __init__(
        self,
        store: UserSession,
        key: str,
        default: T,
        apply_fn: Callable[[T], T] | None = None,
    ) -> None:
        self._store = store
        self._key = key
        self._default = default
        self._apply_fn = apply_fn

    def get(self) -> T:
        """The value in this chat, or the default."""
        value: T = self._store.get(self._key, self._default)
        return value

    def set(self, value: T) -> None:
        """Store a new value in this chat."""
        self._store.set(self._key, value)

    def reset(self) -> None:
        """Back to the default."""
        self.set(self._default)

    def apply(self) -> T:
        """Change the value with ``apply_fn`` (if any), store it and return it."""
        value = self.get()
        if self._apply_fn is not None:
            value = self._apply_fn(value)
        self.set(value)
        return value


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
    def current_run(self) -> Step | None:
        """The run of the callback going on here, as Chainlit shows it: a step of type
        ``run`` named after the hook (``on_message``, ``on_chat_start``...), the same
        object for the whole run, with the user's message as parent for ``on_message``.
        It is not shown in the chat (the steps the run opens are); None outside a run."""
        run = current_run()
        if run is None:
            return None
        if run.view is None:
            parent = getattr(run.args[0], "id", None) if run.args else None
            run.view = Step(
                name=run.hook,
                type="run",
                id=run.id,
                parent_id=parent if run.hook == "on_message" else None,
            )
        view: Step = run.view
        return view

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the chat runs on (for ``run_coroutine_threadsafe`` from threads)."""
        return current_session().loop

    @property
    def emitter(self) -> Emitter:
        """What changes the chat's UI beyond messages: the composer's commands and modes."""
        return Emitter(current_session())


class Emitter:
    """What changes the chat's page beyond messages (``cl.context.emitter``), as Chainlit's
    emitter names it: the composer's commands and modes, toasts, the busy state, the
    thread's name, the chat's settings values and events for the page's scripts.

    Example::

        await cl.context.emitter.set_commands(
            [{"id": "Picture", "icon": "image", "description": "Draw a picture"}]
        )
    """

    def __init__(self, session: ChatSession) -> None:
        self.session = session

    async def set_commands(self, commands: list[dict[str, Any] | CommandData]) -> None:
        """Offer commands in the composer ("/" and a menu, or buttons with ``button``);
        the chosen one arrives as ``message.command``. ``icon`` is a Lucide icon name
        (``"image"``), as in Chainlit; ``selected`` chooses a command from the start."""
        data = [c if isinstance(c, CommandData) else _command(c) for c in commands]
        dispatch(self.session, self.session.set_composer, data, None)

    async def send_toast(self, message: str, type: str = "info") -> None:
        """Show a short notice over the chat for a few seconds (``type``: ``info``,
        ``success``, ``warning`` or ``error``), as Chainlit's emitter does."""
        if type not in TOAST_TYPES:
            raise ConfigError(f"A toast's type is one of {', '.join(TOAST_TYPES)}, not {type!r}.")
        kind = next(t for t in TOAST_TYPES if t == type)
        dispatch(self.session, self.session.emit, ToastEvent(str(message), kind))

    async def set_chat_settings(self, settings: dict[str, Any]) -> None:
        """Set the chat's settings values (``user_session.get("chat_settings")``), as
        Chainlit's emitter does; the settings form shows them the next time it opens."""
        self.session.data["chat_settings"] = dict(settings)

    async def task_start(self) -> None:
        """Show the chat as busy (the "Stop" button, the composer waiting), as while a
        callback runs, until ``task_end``: for work the app does besides its callbacks,
        e.g. in a background task a callback started (the end of that callback's run
        leaves the chat busy)."""
        dispatch(self.session, self.session.show_running, True)

    async def task_end(self) -> None:
        """Let the chat go idle: at once, or when the callback running now ends."""
        dispatch(self.session, self.session.show_running, False)

    async def update_token_count(self, count: int) -> None:
        """Add ``count`` to the tokens counted for this chat (``session.token_count``)."""
        if isinstance(count, bool) or not isinstance(count, int):
            raise ConfigError(f"A token count is a whole number, not {count!r}.")
        self.session.token_count += count

    async def init_thread(self, interaction: str) -> None:
        """Name the chat's thread (its title in the history): written when the run ends.

        Chainlit calls it with the user's first message; an app may call it to give the
        thread a better name, e.g. a summary of the question."""
        self.session.name_thread(str(interaction))

    async def emit(self, event: str, data: Any) -> None:
        """Send an event of the app's own to the page: its scripts hear it as a DOM
        ``CustomEvent`` named ``lightchat:<event>`` with ``data`` (any JSON value, at most
        64 KB) as its ``detail``. Only pages open at the moment hear it, once each."""
        if not isinstance(event, str) or not _EVENT_NAME.fullmatch(event):
            raise ConfigError(
                f"An event's name is 1 to 64 letters, digits, '_', '-', '.' or ':', not {event!r}."
            )
        payload = for_the_page(data, "An emitted event's data")
        dispatch(self.session, self.session.send_app_event, event, payload)

    async def send_window_message(self, data: Any) -> None:
        """Post ``data`` to the page framing the chat (see ``cl.send_window_message``)."""
        payload = for_the_page(data, "A window message")
        dispatch(self.session, self.session.send_window_message, payload)

    async def send_call_fn(
        self, name: str, args: dict[str, Any], timeout: float = COPILOT_FUNCTION_TIMEOUT_S
    ) -> Any:
        """Run the host page's function ``name`` with ``args`` and return its result, as
        ``cl.CopilotFunction(name=..., args=...).acall()`` does; None when the page did
        not answer within ``timeout`` seconds (Chainlit's behaviour)."""
        try:
            return await CopilotFunction(name=name, args=args).acall(timeout)
        except TimeoutError:
            return None

    async def send_audio_chunk(self, chunk: Mapping[str, Any]) -> None:
        """Play a piece of audio in the chat's pages as it comes (``cl.OutputAudioChunk``:
        ``data`` is 16-bit PCM, mono, at ``audio_sample_rate`` for ``mimeType``
        ``pcm16``; ``track`` names the answer it belongs to). Chunks of a track play one
        after another without gaps; pages open at the moment play them, once each.

        ``data`` may be bytes, an array with ``tobytes()`` (NumPy's int16) or base64 text.
        """
        data = _audio_bytes(chunk.get("data"))
        mime = str(chunk.get("mimeType") or "pcm16")
        track = str(chunk.get("track") or "")
        if mime == "pcm16" and len(data) % 2:
            raise ConfigError("pcm16 audio is 16-bit samples: its length in bytes must be even.")
        if len(data) > AUDIO_CHUNK_MAX_BYTES:
            raise ConfigError(
                f"An audio chunk is at most {AUDIO_CHUNK_MAX_BYTES // 1024} KB; "
                "send longer audio in several chunks."
            )
        encoded = base64.b64encode(data).decode("ascii")
        dispatch(self.session, self.session.emit, AudioEvent(track[:200], mime[:100], encoded))

    async def send_audio_interrupt(self) -> None:
        """Stop the audio playing in the chat's pages now (the user spoke over it);
        chunks sent afterwards play again."""
        dispatch(self.session, self.session.emit, AudioInterruptEvent())

    async def update_audio_connection(self, state: str) -> None:
        """Show whether the chat's voice connection is ``"on"`` or ``"off"``; ``"off"``
        also stops a recording the page is making."""
        if state not in ("on", "off"):
            raise ConfigError(f"An audio connection is 'on' or 'off', not {state!r}.")
        dispatch(
            self.session,
            self.session.emit,
            AudioConnectionEvent("on" if state == "on" else "off"),
        )

    async def set_modes(self, modes: list[Mode]) -> None:
        """Offer pickers in the composer; the choices arrive as ``message.modes``."""
        for mode in modes:
            if not mode.options:
                raise ConfigError(f"Mode {mode.id!r} has no options; give it at least one.")
        dispatch(self.session, self.session.set_composer, None, list(modes))

    async def set_favorites(self, steps: Sequence[Mapping[str, Any]]) -> None:
        """Set what this chat's "Favorites" lists (``features.favorites``), as Chainlit's
        emitter does: step dicts with an ``id`` and their text in ``output`` (or
        ``content``), shown in this order (the first ``MAX_FAVORITES``). Choosing one puts
        its text in the message box.

        The list stands, on every page of the chat and live in an open "Favorites",
        until the app sets another one or the user marks or unmarks a message from the
        chat: the user's own favourites (their starred messages, newest first) then show
        again, as in Chainlit.

        Example::

            await cl.context.emitter.set_favorites(
                [{"id": "greet", "output": "Hello! What can you do?"}]
            )
        """
        listed = [_favorite(step) for step in steps][:MAX_FAVORITES]
        dispatch(self.session, self.session.emit, FavoritesEvent(listed))


def _audio_bytes(data: Any) -> bytes:
    """A chunk's audio as bytes, from bytes, an array (``tobytes()``) or base64 text."""
    if isinstance(data, bytes | bytearray | memoryview):
        return bytes(data)
    if isinstance(data, str):
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError("An audio chunk's text data must be base64.") from None
    to_bytes = getattr(data, "tobytes", None)
    if callable(to_bytes):
        found = to_bytes()
        if isinstance(found, bytes):
            return found
    raise ConfigError(f"An audio chunk's data is bytes (16-bit PCM), not {type(data).__name__}.")


def _favorite(step: Mapping[str, Any]) -> FavoriteData:
    """A step dict (Chainlit's ``StepDict``) as an entry of the "Favorites" list."""
    if not isinstance(step, Mapping) or not isinstance(step.get("id"), str) or not step["id"]:
        raise ConfigError(f"A favourite is a step dict with an 'id' (a string), not {step!r}.")
    text = step.get("output", step.get("content"))
    if not isinstance(text, str):
        raise ConfigError(
            f"Favourite {step['id']!r} has no text: give it in 'output' (or 'content')."
        )
    return FavoriteData(step["id"], text)


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
        selected=bool(spec.get("selected", False)),
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
        """The conversation: the user's and the assistant's messages shown in this chat,
        in order, less those taken out (``remove``, ``clear``), then those added."""
        session = current_session()
        shown = [
            Message.from_data(data)
            for data in self._messages()
            if data.id not in session.context_removed
        ]
        return shown + [m for m in session.context_added if isinstance(m, Message)]

    def add(self, message: Message) -> Message:
        """Put a message (back) in the conversation, e.g. one built for the model only."""
        session = current_session()
        session.context_removed.discard(message.id)
        shown = {data.id for data in self._messages()}
        known = {m.id for m in session.context_added if isinstance(m, Message)}
        if message.id not in shown and message.id not in known:
            session.context_added.append(message)
        return message

    def remove(self, message: Message) -> bool:
        """Take a message out of the conversation (the chat still shows it); False if it
        was not in it."""
        session = current_session()
        for added in session.context_added:
            if isinstance(added, Message) and added.id == message.id:
                session.context_added.remove(added)
                return True
        shown = {data.id for data in self._messages()}
        if message.id in shown and message.id not in session.context_removed:
            session.context_removed.add(message.id)
            return True
        return False

    def clear(self) -> None:
        """Start the conversation afresh: what was said so far is no longer in it (the
        chat still shows it); messages from now on are."""
        session = current_session()
        session.context_removed.update(data.id for data in self._messages())
        session.context_added.clear()

    def to_openai(self) -> list[dict[str, str]]:
        """The messages as OpenAI-style chat messages (``role`` and ``content``)."""
        roles = {"user_message": "user", "assistant_message": "assistant"}
        return [
            {"role": roles.get(message.type, "system"), "content": message.content}
            for message in self.get()
        ]


user_session = UserSession()


context = Context()


def init_http_context(
    thread_id: str | None = None,
    user: User | None = None,
    auth_token: str | None = None,
    user_env: dict[str, str] | None = None,
    client_type: str = "webapp",
) -> Context:
    """Write to a chat from the app's own code outside a callback (a route added to
    ``lightchat.server.app``, a webhook, a background job), as Chainlit's
    ``init_http_context``: from here on in this task, ``cl.Message(...).send()``,
    steps and elements go to that chat.

    With ``thread_id``, the chat with that id running in this process (the worker the
    chat runs on, with several): its open pages show what is sent at once, and its
    history keeps it. ``user``, if given, must be the chat's. Without ``thread_id``, a
    new chat for ``user`` (required then), whose ``on_chat_start`` does not run: the user
    finds it in their history once the app names it (``cl.context.emitter.init_thread``).
    Raises ``NoSessionError`` when no such chat runs here.
    Example::

        @app.post("/hooks/build/{thread_id}")
        async def build_done(thread_id: str):
            cl.init_http_context(thread_id=thread_id)
            await cl.Message(content="The build passed.").send()
    """
    chats = served()
    if chats is None:
        raise NoSessionError("No app is served in this process yet: start it first.")
    if thread_id is None:
        if user is None:
            raise NoSessionError(
                "A new chat needs its user: init_http_context(user=cl.User(identifier=...))."
            )
        session = chats.open(owner_key(user), user=user)
        session.client_type = client_type
    else:
        found = chats.running(thread_id)
        if found is None or (user is not None and found.owner != owner_key(user)):
            raise NoSessionError(
                f"No chat {thread_id[:64]!r} of this user runs in this process (a chat runs "
                "on one worker, while it is open or until it is idle)."
            )
        session = found
    if auth_token is not None:
        session.token = auth_token
    if user_env:
        session.data["env"] = dict(user_env)
    enter(session)
    return context


chat_context = ChatContext()
