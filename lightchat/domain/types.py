"""Chainlit's plain types, with its names, for apps that import them
(``from lightchat.types import ThreadDict``): the dicts a thread, a step and an element are
given to ``on_chat_resume`` as, the feedback ``on_feedback`` receives, and the chunks of
audio its voice callbacks use. The app-facing module is ``lightchat.types``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, Literal, TypedDict, TypeVar


class FeedbackDict(TypedDict):
    """The feedback on a step, as a thread's dict carries it."""

    forId: str
    id: str | None
    value: Literal[0, 1]
    comment: str | None


class StepDict(TypedDict, total=False):
    """A step (messages are steps) as ``on_chat_resume`` finds it in ``thread["steps"]``."""

    name: str
    type: str
    id: str
    threadId: str
    parentId: str | None
    command: str | None
    modes: dict[str, str] | None
    streaming: bool
    waitForAnswer: bool | None
    isError: bool | None
    metadata: dict[str, Any]
    tags: list[str] | None
    input: str
    output: str
    createdAt: str | None
    start: str | None
    end: str | None
    generation: dict[str, Any] | None
    showInput: bool | str | None
    defaultOpen: bool | None
    autoCollapse: bool | None
    language: str | None
    icon: str | None
    feedback: FeedbackDict | None


class ElementDict(TypedDict, total=False):
    """An element as ``on_chat_resume`` finds it in ``thread["elements"]``."""

    id: str
    threadId: str | None
    type: str
    chainlitKey: str | None
    path: str | None
    url: str | None
    objectKey: str | None
    name: str
    display: str
    size: str | None
    language: str | None
    page: int | None
    props: dict[str, Any] | None
    autoPlay: bool | None
    playerConfig: dict[str, Any] | None
    forId: str | None
    mime: str | None


class ThreadDict(TypedDict):
    """A past chat as ``on_chat_resume`` receives it."""

    id: str
    createdAt: str
    name: str | None
    userId: str | None
    userIdentifier: str | None
    tags: list[str] | None
    metadata: dict[str, Any] | None
    steps: list[StepDict]
    elements: list[ElementDict] | None


@dataclass
class Feedback:
    """A user's verdict on a message: 1 helpful, 0 not helpful, with an optional comment
    (what ``@on_feedback`` receives)."""

    forId: str
    value: Literal[0, 1]
    threadId: str | None = None
    id: str | None = None
    comment: str | None = None


@dataclass
class InputAudioChunk:
    """A piece of the user's voice, as ``@on_audio_chunk`` receives it."""

    isStart: bool
    mimeType: str
    elapsedTime: float
    data: bytes


class OutputAudioChunk(TypedDict):
    """A piece of the app's voice, as it is sent to the browser."""

    track: str
    mimeType: str
    data: bytes


# -- what Chainlit's data layers page through (``lightchat.data``) ----------------------------

T_co = TypeVar("T_co", covariant=True)


@dataclass
class Pagination:
    """Which page of threads: at most ``first``, after the thread ``cursor`` names."""

    first: int
    cursor: str | None = None


@dataclass
class ThreadFilter:
    """Which threads: with a feedback value, of a user, matching a search."""

    feedback: Literal[0, 1] | None = None
    userId: str | None = None
    search: str | None = None


@dataclass
class PageInfo:
    """Where a page of threads stands: whether more follow, and its first and last ids."""

    hasNextPage: bool
    startCursor: str | None
    endCursor: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "hasNextPage": self.hasNextPage,
            "startCursor": self.startCursor,
            "endCursor": self.endCursor,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PageInfo:
        return cls(
            hasNextPage=bool(data.get("hasNextPage", False)),
            startCursor=data.get("startCursor"),
            endCursor=data.get("endCursor"),
        )


@dataclass
class PaginatedResponse(Generic[T_co]):
    """A page of items (threads, for ``list_threads``) with its ``pageInfo``."""

    pageInfo: PageInfo
    data: list[T_co]

    def to_dict(self) -> dict[str, Any]:
        return {
            "pageInfo": self.pageInfo.to_dict(),
            "data": [item.to_dict() if hasattr(item, "to_dict") else item for item in self.data],
        }
