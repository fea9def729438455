"""Actions and elements: the buttons and the media a message carries.

They follow Chainlit's names. An element is made from ``path=`` (a file the app reads),
``content=`` (bytes or text) or ``url=`` (an address the browser loads; the server never
fetches it), and shown ``display="inline"`` in its message, ``"side"`` in the side panel or
``"page"`` on a page of its own. Bytes go to the app's file storage when the element is
sent, and are served only to the chat that shows them.

A ``path=`` is read only inside the folders elements may read (``Settings.element_dirs``:
by default the app's ``public/`` folder and the system's temporary folder; the chat's own
uploads too), never a hidden file or lightchat's own state, after following symbolic
links; anything else raises ``ElementPathError`` in the app's code, so no text a user or
a model writes can make the server show another file (``lightchat.api.element_paths``).

Example::

    image = cl.Image(name="chart", path="chart.png")
    await cl.Message(content="Here it is", elements=[image]).send()
"""

from __future__ import annotations

import asyncio
import enum
import json
import mimetypes
import re
from io import BytesIO
from os import PathLike
from pathlib import Path
from typing import Any, ClassVar

from lightchat.api.element_paths import ElementFiles
from lightchat.chat.session import ChatSession, current_session, dispatch
from lightchat.domain.events import ActionData, Display, ElementData, new_id
from lightchat.errors import ConfigError

DISPLAYS = ("inline", "side", "page")


class Action:
    """A button under a message; a click runs ``@action_callback(name)`` with it.

    The click names the button and nothing more: the callback gets this action as the app
    sent it (its ``name`` and ``payload``, whatever the browser posts), and only while the
    chat shows it (not after ``remove()``).

    Example::

        await cl.Message("Done.", actions=[cl.Action(name="retry", payload={"n": 1},
                                                    label="Try again")]).send()
    """

    def __init__(
        self,
        name: str,
        payload: dict[str, Any] | None = None,
        label: str = "",
        tooltip: str = "",
        icon: str | None = None,
        id: str | None = None,
        for_id: str | None = None,
        value: str | None = None,
        description: str = "",
        forId: str | None = None,  # Chainlit's name for for_id
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ConfigError("An Action needs a name, the one its @action_callback uses.")
        self.name = name
        self.payload: dict[str, Any] = dict(payload or {})
        if value is not None:  # older apps passed value= instead of payload=
            self.payload.setdefault("value", value)
        self.label = label or name
        self.tooltip = tooltip or description
        self.icon = icon
        self.id = id or new_id()
        self.for_id = for_id or forId
        self._session: ChatSession | None = None

    @classmethod
    def from_data(cls, data: ActionData, for_id: str) -> Action:
        """The action as its callback receives it."""
        return cls(
            name=data.name,
            payload=data.payload,
            label=data.label,
            tooltip=data.tooltip,
            icon=data.icon,
            id=data.id,
            for_id=for_id,
        )

    @property
    def value(self) -> Any:
        """``payload["value"]``, for apps written for older releases."""
        return self.payload.get("value")

    def data(self) -> ActionData:
        """The action as the chat shows it."""
        return ActionData(
            id=self.id,
            name=self.name,
            label=self.label,
            payload=self.payload,
            tooltip=self.tooltip,
            icon=self.icon,
        )

    def _bind(self) -> ChatSession:
        if self._session is None:
            self._session = current_session()
        return self._session

    async def send(self, for_id: str) -> None:
        """Show the action under the message ``for_id``."""
        self.for_id = for_id
        session = self._bind()
        dispatch(session, session.attach, for_id, None, self.data())

    async def remove(self) -> None:
        """Take the button away."""
        session = self._bind()
        dispatch(session, session.detach, self.id)

    def to_dict(self) -> dict[str, Any]:
        """The action as a plain dict (Chainlit's shape)."""
        return {
            "id": self.id,
            "name": self.name,
            "payload": self.payload,
            "value": self.value,
            "label": self.label,
            "tooltip": self.tooltip,
            "icon": self.icon,
            "forId": self.for_id,
        }

    def __repr__(self) -> str:
        return f"Action(name={self.name!r}, label={self.label!r})"


class Element:
    """Base class of everything a message can show besides text."""

    kind: ClassVar[str] = "file"

    def __init__(
        self,
        name: str = "",
        *,
        path: str | Path | None = None,
        content: bytes | str | None = None,
        url: str | None = None,
        display: Display = "inline",
        mime: str | None = None,
        size: str | int | None = None,
        language: str | None = None,
        id: str | None = None,
        for_id: str | None = None,
        **extra: Any,
    ) -> None:
        if display not in DISPLAYS:
            raise ConfigError(f"display={display!r}: use one of {', '.join(DISPLAYS)}.")
        if url is not None and not url.startswith(("https://", "http://", "/")):
            raise ConfigError(f"url={url!r}: an element's url must be http(s) or a path.")
        self.name = name or (Path(path).name if path else self.kind)
        self.path = str(path) if path is not None else None
        self.content = content
        self.url = url
        self.display: Display = display
        self.mime = mime
        self.size = size
        self.language = language
        self.id = id or new_id()
        self.for_id = for_id
        self.extra = extra
        self.key: str | None = None
        self.bytes_size: int | None = None
        self._session: ChatSession | None = None

    # -- what the chat shows --------------------------------------------------------------

    def _text(self) -> str | None:
        """Text shown inline (None: the element is a file)."""
        return None

    def _payload(self) -> bytes | None:
        """The bytes to keep, when they are not ``content`` or the file at ``path``."""
        return None

    def _extra(self) -> dict[str, Any]:
        return {"size": self.size} if isinstance(self.size, str) else {}

    def data(self, for_id: str | None = None) -> ElementData:
        """The element as the chat shows it."""
        return ElementData(
            id=self.id,
            kind=self.kind,
            name=self.name,
            display=self.display,
            for_id=for_id or self.for_id,
            key=self.key,
            url=self.url,
            mime=self.mime,
            size=self.bytes_size,
            content=self._text(),
            language=self.language,
            extra=self._extra(),
        )

    async def _keep(self, session: ChatSession) -> None:
        """Put the element's bytes in file storage (once)."""
        if self.key is not None or self.url is not None:
            return
        text = self._text()
        payload = self._payload()
        if payload is None and text is None:
            if isinstance(self.content, bytes):
                payload = self.content
            elif isinstance(self.content, str):
                payload = self.content.encode()
            elif self.path is not None:
                payload = await read_element_file(self.path, session)
        if payload is None:
            return
        if self.mime is None:
            guessed, _ = mimetypes.guess_type(self.path or self.name)
            self.mime = guessed or "application/octet-stream"
        stored = await session.keep_file(payload, name=self.path or self.name, mime=self.mime)
        self.key = stored.key
        self.bytes_size = stored.size

    async def prepare(self, session: ChatSession) -> None:
        """Make the element ready to show in ``session`` (its bytes kept)."""
        self._session = session
        await self._keep(session)

    # -- Chainlit's element API -----------------------------------------------------------

    async def send(self, for_id: str | None = None) -> None:
        """Show the element with the message ``for_id`` (or in a message of its own)."""
        session = self._session or current_session()
        await self.prepare(session)
        if for_id is not None:
            self.for_id = for_id
        self.for_id = session.attach(self.for_id, self.data())

    async def update(self) -> None:
        """Show the element's current state in place of the old."""
        await self.send(self.for_id)

    async def remove(self) -> None:
        """Take the element away."""
        session = self._session or current_session()
        dispatch(session, session.detach, self.id)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, display={self.display!r})"


class Text(Element):
    """Text shown as it is (``language=`` for code)."""

    kind = "text"

    async def prepare(self, session: ChatSession) -> None:
        if self.path is not None and self.content is None and self.url is None:
            self.content = await read_element_file(self.path, session)
        await super().prepare(session)

    def _text(self) -> str | None:
        if isinstance(self.content, bytes):
            return self.content.decode("utf-8", "replace")
        if isinstance(self.content, str):
            return self.content
        return None if self.url else ""


async def read_element_file(path: str | PathLike[str], session: ChatSession) -> bytes:
    """The bytes of an element's ``path=``, if elements may read it (the rules are in
    ``lightchat.api.element_paths``); raises ``ElementPathError`` otherwise, and
    ``FileNotFoundError`` for a missing file in a folder elements may read."""
    root = getattr(session.files, "root", None)  # where uploads are kept (LocalFileStorage)
    rules = ElementFiles.for_settings(
        session.settings, store=root if isinstance(root, Path) else None
    )
    return await asyncio.to_thread(rules.read, path, session.transcript.keeps_file)


class Image(Element):
    """An image (``size=`` "small", "medium" or "large")."""

    kind = "image"

    def __init__(self, name: str = "", *, size: str = "medium", **kwargs: Any) -> None:
        super().__init__(name, size=size, **kwargs)


class File(Element):
    """A file the user can download."""

    kind = "file"


class Audio(Element):
    """Sound with player controls."""

    kind = "audio"

    def __init__(self, name: str = "", *, auto_play: bool = False, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.auto_play = auto_play


class Video(Element):
    """A video with player controls.

    ``player_config`` is Chainlit's settings for its React player; the browser's own
    player shows the video here, so they are kept on the element but change nothing.
    """

    kind = "video"

    def __init__(
        self, name: str = "", *, player_config: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(name, **kwargs)
        self.player_config = dict(player_config or {})


class Pdf(Element):
    """A PDF document, opened at ``page=``."""

    kind = "pdf"

    def __init__(self, name: str = "", *, page: int | None = None, **kwargs: Any) -> None:
        super().__init__(name, mime="application/pdf", **kwargs)
        self.page = page

    def data(self, for_id: str | None = None) -> ElementData:
        data = super().data(for_id)
        data.page = self.page
        return data


class Plotly(Element):
    """A Plotly figure, drawn by plotly.js in a frame of its own.

    The figure is kept as its JSON (``figure.to_json()``, as Chainlit keeps it, also when
    given as ``content``): the frame's page holds it, and plotly.js comes from one
    versioned URL that the browser caches (``lightchat.http.endpoints.elements``), not
    with each figure. ``content`` that is an HTML page of its own (not JSON) is shown as
    it is, in a sandboxed frame."""

    kind = "plotly"

    def __init__(self, name: str = "", *, figure: Any = None, **kwargs: Any) -> None:
        content = kwargs.get("content")
        text = content.decode(errors="replace") if isinstance(content, bytes) else content
        as_json = figure is not None or (isinstance(text, str) and text.lstrip()[:1] == "{")
        kwargs.setdefault("mime", "application/json" if as_json else "text/html")
        super().__init__(name, **kwargs)
        self.figure = figure

    def _payload(self) -> bytes | None:
        if self.figure is None:
            return None
        return str(self.figure.to_json()).encode()


class Pyplot(Element):
    """A Matplotlib figure, as a PNG image."""

    kind = "pyplot"

    def __init__(self, name: str = "", *, figure: Any = None, **kwargs: Any) -> None:
        super().__init__(name, mime="image/png", **kwargs)
        self.figure = figure

    def _payload(self) -> bytes | None:
        if self.figure is None:
            return None
        buffer = BytesIO()
        self.figure.savefig(buffer, format="png", bbox_inches="tight")
        return buffer.getvalue()


class Dataframe(Element):
    """A table from a pandas or a polars ``DataFrame``."""

    kind = "dataframe"

    #: Rows shown at most; the rest are counted, not sent.
    MAX_ROWS: ClassVar[int] = 500

    def __init__(self, name: str = "", *, data: Any = None, **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.frame = data

    def _text(self) -> str | None:
        frame = self.frame
        if frame is None:
            return json.dumps({"columns": [], "rows": [], "total": 0})
        columns = [str(column) for column in frame.columns]
        head = frame.head(self.MAX_ROWS)
        # polars' frames give rows with iter_rows(), pandas' with itertuples().
        shown = (
            head.iter_rows()
            if hasattr(head, "iter_rows")
            else head.itertuples(index=False, name=None)
        )
        rows = [[_cell(value) for value in row] for row in shown]
        return json.dumps({"columns": columns, "rows": rows, "total": len(frame)})


def _cell(value: Any) -> str:
    """A table cell's text: a missing value (None, NaN, pandas' NA) is empty."""
    if value is None:
        return ""
    try:
        missing = bool(value != value)  # NaN is the one value unequal to itself
    except TypeError:  # pandas' NA cannot say whether it equals itself
        missing = True
    return "" if missing else str(value)


class CustomElement(Element):
    """An element the app draws with its own Jinja template, ``elements/<name>.html`` in the
    app's folder, or with Chainlit's React file ``public/elements/<name>.jsx`` (the
    template wins when both exist).

    The template gets ``props`` (untrusted data: it is escaped like everything else),
    ``action_url`` (a form posting ``name`` and optional ``payload``, a JSON object, there
    runs that ``@action_callback``) and ``message_url`` (a form posting ``content`` there
    sends it as the user's message). Each such form must carry ``{{ csrf_input }}`` (the
    hidden input with the browser's form token; ``csrf_token`` is the bare value), or its
    post is refused. Change ``props`` and ``await element.update()`` to redraw it.

    More forms do what a JSX element's functions do: ``props_url`` (posting ``props``, a
    JSON object, replaces the props: ``updateElement``), ``delete_url`` (removes the
    element: ``deleteElement``), and, while an ``AskElementMessage`` waits for the
    element, ``submit_url`` (its fields, each one a value, a field given several times a
    list, answer ``{"submitted": True, **fields}``: ``submitElement``) and ``cancel_url``
    (answers ``{"submitted": False}``: ``cancelElement``).

    A JSX file runs unchanged, as in Chainlit, in a sandboxed frame of its own (see
    ``lightchat.ui.jsx``): its default export is drawn with the globals ``props``,
    ``updateElement``, ``deleteElement``, ``callAction``, ``sendUserMessage``,
    ``submitElement`` and ``cancelElement``, and it may import React's hooks
    (``react``), Chainlit's ``@/components/ui/*`` components and ``lucide-react`` icons.

    What reaches the callback through ``action_url`` comes from the browser, as the user
    typed it, not as the template wrote it: ``name`` may be any ``@action_callback`` of the
    app, and ``action.payload`` any JSON object (at most 64 KB, nested at most 64 deep).
    Check both before acting on them, as for a message the user typed. (An ``Action``
    sent with a message is another matter: its button runs only that action, with the
    payload the app gave it.) Only a custom element has an ``action_url``: the same post
    naming any other element is refused.
    """

    kind = "custom"

    def __init__(
        self, name: str = "", *, props: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        if not _TEMPLATE_NAME.fullmatch(name):
            raise ConfigError(
                f"CustomElement name {name!r} names its template elements/<name>.html: use "
                "letters, digits, '_' and '-'."
            )
        super().__init__(name, **kwargs)
        self.props: dict[str, Any] = dict(props or {})

    def _text(self) -> str | None:
        return json.dumps(self.props, default=str)


_TEMPLATE_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")


class TaskStatus(enum.Enum):
    """Where a task of a ``TaskList`` stands."""

    READY = "ready"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class Task:
    """One task of a ``TaskList``; ``for_id`` links it to the message that reports it."""

    def __init__(
        self,
        title: str,
        status: TaskStatus = TaskStatus.READY,
        for_id: str | None = None,
        forId: str | None = None,  # Chainlit's name for for_id
    ) -> None:
        self.title = title
        self.status = status
        self.for_id = for_id or forId


class TaskList(Element):
    """A list of tasks with their status, updated live with ``send()``."""

    kind = "tasklist"

    def __init__(self, name: str = "Tasks", *, status: str = "Ready", **kwargs: Any) -> None:
        super().__init__(name, **kwargs)
        self.status = status
        self.tasks: list[Task] = []

    async def add_task(self, task: Task) -> None:
        """Add a task (shown at the next ``send()``)."""
        self.tasks.append(task)

    def _text(self) -> str | None:
        return json.dumps(
            {
                "status": self.status,
                "tasks": [
                    {"title": t.title, "status": TaskStatus(t.status).value, "for_id": t.for_id}
                    for t in self.tasks
                ],
            }
        )
