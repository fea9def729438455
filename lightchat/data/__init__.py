"""Chainlit's ``chainlit.data`` under its lightchat path: ``BaseDataLayer``, the base class
of a data layer written for Chainlit, with its methods and types, and ``get_data_layer``.

lightchat's own history goes through ``lightchat.store.DataLayer`` (owner-scoped records;
see the README, "Your own data layer"). A Chainlit data layer subclasses ``BaseDataLayer``
here so that its code imports and type-checks unchanged; returned by ``@data_layer``, it
keeps the history (``lightchat.store.chainlit_layer`` adapts its methods), and a method it
leaves as a placeholder (raising ``NotImplementedError``) turns its feature off, which is
logged once at start.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from lightchat.domain.types import (
    Feedback,
    PageInfo,
    PaginatedResponse,
    Pagination,
    ThreadDict,
    ThreadFilter,
)

if TYPE_CHECKING:
    from lightchat.api.elements import Element
    from lightchat.domain.types import ElementDict, StepDict
    from lightchat.domain.user import PersistedUser, User

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def queue_until_user_message() -> Callable[[F], F]:
    """Chainlit's decorator for the writes of a data layer that must wait for a chat's
    first user message (so a chat nobody wrote in leaves no thread).

    lightchat keeps a chat's thread only once the chat shows something, whoever writes
    it, so the decorated method runs when it is called.
    """

    def decorator(method: F) -> F:
        @functools.wraps(method)
        async def run(*args: Any, **kwargs: Any) -> Any:
            return await method(*args, **kwargs)

        return run  # type: ignore[return-value]

    return decorator


class BaseDataLayer(ABC):
    """A data layer with Chainlit's methods: users, feedback, elements, steps, threads.

    Subclass it and implement every abstract method, as for Chainlit.
    """

    @abstractmethod
    async def get_user(self, identifier: str) -> PersistedUser | None:
        """The stored user with this identifier, if any."""

    @abstractmethod
    async def create_user(self, user: User) -> PersistedUser | None:
        """Store a user (or find it, if stored already)."""

    @abstractmethod
    async def delete_feedback(self, feedback_id: str) -> bool:
        """Remove a feedback; whether it was there."""

    @abstractmethod
    async def upsert_feedback(self, feedback: Feedback) -> str:
        """Store a feedback, new or changed; its id."""

    @abstractmethod
    async def create_element(self, element: Element) -> None:
        """Store an element and its file."""

    @abstractmethod
    async def get_element(self, thread_id: str, element_id: str) -> ElementDict | None:
        """An element of a thread."""

    @abstractmethod
    async def delete_element(self, element_id: str, thread_id: str | None = None) -> None:
        """Remove an element."""

    @abstractmethod
    async def create_step(self, step_dict: StepDict) -> None:
        """Store a step (messages are steps too)."""

    @abstractmethod
    async def update_step(self, step_dict: StepDict) -> None:
        """Store a step's new state."""

    @abstractmethod
    async def delete_step(self, step_id: str) -> None:
        """Remove a step."""

    @abstractmethod
    async def get_thread_author(self, thread_id: str) -> str:
        """The identifier of the user a thread belongs to."""

    @abstractmethod
    async def delete_thread(self, thread_id: str) -> None:
        """Remove a thread with its steps, elements and feedback."""

    @abstractmethod
    async def list_threads(
        self, pagination: Pagination, filters: ThreadFilter
    ) -> PaginatedResponse[ThreadDict]:
        """A page of threads, newest first, as the filters say."""

    @abstractmethod
    async def get_thread(self, thread_id: str) -> ThreadDict | None:
        """A thread with its steps and elements."""

    @abstractmethod
    async def update_thread(
        self,
        thread_id: str,
        name: str | None = None,
        user_id: str | None = None,
        metadata: dict[str, Any] | None = None,
        tags: list[str] | None = None,
    ) -> None:
        """Create or change a thread (None leaves a field as it is)."""

    @abstractmethod
    async def build_debug_url(self) -> str:
        """A link to look at the run elsewhere ("" if none)."""

    @abstractmethod
    async def close(self) -> None:
        """Release the layer's connections."""

    @abstractmethod
    async def get_favorite_steps(self, user_id: str) -> list[StepDict]:
        """The steps a user marked as favourites."""

    async def set_step_favorite(self, step_dict: StepDict, favorite: bool) -> StepDict:
        """Mark a step as a favourite or not (in its metadata), and store it."""
        metadata = dict(step_dict.get("metadata") or {})
        metadata["favorite"] = favorite
        step_dict["metadata"] = metadata
        await self.update_step(step_dict)
        return step_dict


def get_data_layer() -> Any:
    """The data layer the served app's history uses (its ``@data_layer``'s, or lightchat's
    own store), once the history has opened it; None without history."""
    from lightchat import default_app  # the served app; imported late (it imports this)

    history = default_app.history
    return history.store if history is not None else None


__all__ = [
    "BaseDataLayer",
    "PageInfo",
    "PaginatedResponse",
    "Pagination",
    "ThreadFilter",
    "get_data_layer",
    "queue_until_user_message",
]
