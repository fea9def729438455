"""Sharing a chat: who may read a shared chat at its link, and what it shows them.

The owner of a thread shares it (``History.share``): the thread then holds when it was
shared (``shared_at``), and reads at a stable link, ``/share/<thread id>``, as a read-only
page. Who may read it there (``open_shared``):

- its owner, always, shared or not: the page shows them the whole chat;
- anyone else only while it is shared, and only when the app's ``@on_shared_thread_view``
  returns True for them. The callback gets the thread as Chainlit gives it (a
  ``ThreadDict`` whose ``metadata`` holds ``is_shared`` and ``shared_at``) and the user
  looking (a ``User``). An error in it counts as no, and is logged. It may take steps,
  elements or text out of the thread, in place: what it takes out is not shown.

Anything else (no such thread, one never shared, one no longer shared, a refusal) is the
same None, which the page answers with one 404: nobody can tell those apart.

Chainlit since 2.8.1 shows a thread marked shared to every signed-in user even when the
callback says no, and any thread the callback allows even when it was never shared. Here
both must hold, as in Chainlit 2.8.0: stopping sharing closes the link to everybody else,
and the callback's no is final.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lightchat.chat.threads import thread_dict
from lightchat.config.registry import invoke
from lightchat.domain.events import ElementData, MessageData, StepData
from lightchat.domain.user import User

if TYPE_CHECKING:
    from lightchat.chat.history import History
    from lightchat.store import StoredThread

logger = logging.getLogger("lightchat")

Item = MessageData | StepData


@dataclass(frozen=True, slots=True)
class SharedChat:
    """A shared chat as its page shows it."""

    id: str
    name: str
    items: list[Item]
    """Its messages and steps, read-only (no actions, no open question), in order."""
    shared_at: datetime | None
    """When it was shared (None: it is not, and only its owner is looking)."""
    by_owner: bool
    """True when its owner is the one looking."""

    def element(self, element_id: str) -> ElementData | None:
        """The element of this id that the page shows, or None."""
        for item in self.items:
            for element in item.elements:
                if element.id == element_id:
                    return element
        return None


def shared_at_text(when: datetime) -> str:
    """A time as Chainlit writes ``shared_at`` (ISO 8601 in UTC, with a ``Z``).

    >>> shared_at_text(datetime(2026, 5, 1, 9, 30, tzinfo=UTC))
    '2026-05-01T09:30:00Z'
    """
    return when.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"


def shared_thread_dict(stored: StoredThread, author: str | None) -> dict[str, Any]:
    """The thread as ``@on_shared_thread_view`` receives it: Chainlit's ``ThreadDict``,
    with the owner's identifier (``author``, None for a browser's chat) and the sharing
    in its metadata (``is_shared``, ``shared_at``)."""
    thread = thread_dict(stored)
    thread["userIdentifier"] = author
    shared_at = stored.thread.shared_at
    metadata = thread["metadata"]
    metadata["is_shared"] = shared_at is not None
    if shared_at is not None:
        metadata["shared_at"] = shared_at_text(shared_at)
    return thread


async def may_view(
    callback: Callable[..., Any], thread: dict[str, Any], viewer: User | None
) -> bool:
    """What ``@on_shared_thread_view`` says of ``viewer`` reading ``thread`` (True to
    show it); an error in the callback is logged and counts as no."""
    try:
        allowed = await invoke(callback, thread, viewer)
    except Exception:  # the app's callback failed: nobody sees the chat through it
        logger.exception("Error in @on_shared_thread_view; the shared chat is not shown")
        return False
    return bool(allowed)


def kept_items(items: list[Item], thread: dict[str, Any]) -> list[Item]:
    """The messages and steps that ``thread`` still holds once the callback has had it
    (a step taken out takes the steps and messages inside it along), with the text it
    left them (``output``), the generation it left a step and the elements it kept;
    read-only, with nothing open."""
    steps = {
        step["id"]: step
        for step in thread.get("steps") or []
        if isinstance(step, dict) and isinstance(step.get("id"), str)
    }
    elements = {
        element.get("id") for element in thread.get("elements") or [] if isinstance(element, dict)
    }
    dropped: set[str] = set()
    kept: list[Item] = []
    for item in items:
        step = steps.get(item.id)
        if step is None or (item.parent_id is not None and item.parent_id in dropped):
            dropped.add(item.id)
            continue
        output = step.get("output")
        if isinstance(item, MessageData):
            kept.append(
                replace(
                    item,
                    content=output if isinstance(output, str) else item.content,
                    elements=[e for e in item.elements if e.id in elements],
                    actions=[],
                    ask=None,
                    streaming=False,
                )
            )
        else:
            generation = step.get("generation")  # the callback may take a prompt out
            kept.append(
                replace(
                    item,
                    output=output if isinstance(output, str) else item.output,
                    generation=generation if isinstance(generation, dict) else None,
                )
            )
    return kept


async def open_shared(
    history: History,
    callback: Callable[..., Any] | None,
    thread_id: str,
    viewer_key: str,
    viewer: User | None,
    author_of: Callable[[str], str | None],
) -> SharedChat | None:
    """The shared chat ``thread_id`` as ``viewer`` (whose owner key is ``viewer_key``) may
    read it, or None: see the module docstring. ``author_of`` gives the identifier of the
    user an owner key names (None for a browser's key)."""
    stored = await history.load_shared(thread_id)
    if stored is None:
        return None
    record = stored.thread
    name = record.name or "Untitled chat"
    items = history.items(stored, reopen=False)
    if record.owner == viewer_key:
        everything = shared_thread_dict(stored, author_of(record.owner))
        return SharedChat(record.id, name, kept_items(items, everything), record.shared_at, True)
    if record.shared_at is None or callback is None:
        return None
    thread = shared_thread_dict(stored, author_of(record.owner))
    if not await may_view(callback, thread, viewer):
        return None
    shown = thread.get("name")
    return SharedChat(
        record.id,
        shown if isinstance(shown, str) and shown else name,
        kept_items(items, thread),
        record.shared_at,
        False,
    )
