"""Threads as the history's UI sees them: a thread's link in the sidebar, its feedback, its
name, the tags and metadata a chat's ``user_session`` gives it, its dict for
``on_chat_resume``, and the sidebar's groups by recency. Plain values and rules; the
writing and the queries are ``lightchat.chat.history``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lightchat.store import (
        ElementRecord,
        FeedbackRecord,
        StoredThread,
        ThreadRecord,
    )


logger = logging.getLogger("lightchat")

MAX_NAME_CHARS = 200
"""The longest name a user may give a chat."""


MAX_COMMENT_CHARS = 2000
"""The longest feedback comment."""


MAX_SEARCH_CHARS = 200
"""The longest text the history search takes."""


MAX_METADATA_BYTES = 64 * 1024
"""How much of ``user_session`` (as JSON) is kept as a thread's metadata."""


# user_session keys that are not the app's own state: the session id, the browser's
# environment (may hold keys the user typed in), the signed-in user (stored on its own),
# and the tags (stored on their own).
_NOT_METADATA = frozenset({"id", "env", "user", "tags", "client_type", "languages"})


@dataclass(frozen=True, slots=True)
class ThreadLink:
    """A thread as the history sidebar lists it."""

    id: str
    name: str
    updated_at: datetime
    shared_at: datetime | None = None
    """When its owner shared it (None: not shared)."""


@dataclass(frozen=True, slots=True)
class Feedback:
    """A verdict on an assistant message: 1 helpful, 0 not helpful, and a comment."""

    value: int
    comment: str | None = None


def feedback_after(
    current: Feedback | None, *, value: int | None, comment: str | None = None
) -> Feedback | None:
    """The feedback after the user pressed a verdict (``value``) or saved a comment.

    Pressing the verdict that is already given takes it back (None); pressing the other
    one replaces it, keeping the comment. A comment alone (``value`` None) changes the
    comment of the verdict given; with none given it raises ``ValueError``.

    >>> feedback_after(None, value=1)
    Feedback(value=1, comment=None)
    >>> feedback_after(Feedback(1, "ok"), value=0)
    Feedback(value=0, comment='ok')
    >>> feedback_after(Feedback(1), value=1) is None
    True
    """
    if value is None:
        if current is None:
            raise ValueError("Choose Helpful or Not helpful before adding a comment.")
        return Feedback(current.value, comment or None)
    if current is not None and current.value == value:
        return None
    return Feedback(value, comment or (current.comment if current else None))


def clean_name(text: str) -> str:
    """A chat name as typed, with its whitespace collapsed.

    Raises ``ValueError`` (with a message for the user) for a blank or over-long name.

    >>> clean_name("  Trip   to\\nLisbon ")
    'Trip to Lisbon'
    """
    name = " ".join(text.split())
    if not name:
        raise ValueError("Give the chat a name.")
    if len(name) > MAX_NAME_CHARS:
        raise ValueError(
            f"The name is {len(name):,} characters long; the limit is {MAX_NAME_CHARS}. "
            "Shorten it and save again."
        )
    return name


def thread_fields(
    data: Mapping[str, Any], *, keep_env: bool = False
) -> tuple[list[str] | None, dict[str, Any]]:
    """The tags and the metadata a chat's ``user_session`` gives its thread.

    Tags come from ``user_session["tags"]`` (a list; anything else is ignored). The
    metadata is the rest of the app's state that JSON can hold, as Chainlit keeps it
    (an ``on_chat_resume`` finds it in ``thread["metadata"]``): values JSON cannot hold
    are left out, as are the session's own keys (id, env, user, tags) and values past
    ``MAX_METADATA_BYTES`` in all. ``keep_env`` keeps the keys the user gave
    (``user_session["env"]``, ``Settings.persist_user_env``).

    >>> thread_fields({"id": "s1", "tags": ["a", "b"], "topic": "maps", "db": object()})
    (['a', 'b'], {'topic': 'maps'})
    """
    raw_tags = data.get("tags")
    tags = [str(tag) for tag in raw_tags] if isinstance(raw_tags, list | tuple) else None
    metadata: dict[str, Any] = {}
    size = 2
    for key, value in data.items():
        if not isinstance(key, str) or (key in _NOT_METADATA and not (keep_env and key == "env")):
            continue
        try:
            text = json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):  # not JSON (an object, a client...): not kept
            continue
        size += len(key) + len(text) + 6
        if size > MAX_METADATA_BYTES:
            logger.warning("user_session[%r] is too large to keep in the thread's metadata", key)
            size -= len(key) + len(text) + 6
            continue
        metadata[key] = json.loads(text)  # a copy: later changes by the app do not leak in
    return tags, metadata


def thread_link(thread: ThreadRecord) -> ThreadLink:
    return ThreadLink(
        thread.id, thread.name or "Untitled chat", thread.updated_at, thread.shared_at
    )


def feedback_of(record: FeedbackRecord) -> Feedback:
    return Feedback(record.value, record.comment)


def thread_dict(stored: StoredThread) -> dict[str, Any]:
    """A stored thread in Chainlit's ``ThreadDict`` shape, for ``on_chat_resume``: each
    step with its ``generation`` (the LLM call it made, in Literal AI's shape) or None."""
    thread = stored.thread
    return {
        "id": thread.id,
        "name": thread.name,
        "createdAt": thread.created_at.isoformat(),
        "userId": thread.user_id,
        "userIdentifier": None,
        "tags": list(thread.tags),
        "metadata": dict(thread.meta),
        "steps": [
            {
                "id": step.id,
                "threadId": thread.id,
                "parentId": step.parent_id,
                "name": step.name,
                "type": step.type,
                "input": step.input,
                "output": step.output,
                "createdAt": step.created_at.isoformat() if step.created_at else None,
                "generation": step.generation,
            }
            for step in stored.steps
        ],
        "elements": [
            {
                "id": element.id,
                "threadId": thread.id,
                "forId": element.for_id,
                "type": element.type,
                "name": element.name,
                "mime": element.mime,
                "display": element.display,
                "url": element.url,
                "objectKey": element.storage_key,
                **_custom_props(element),
            }
            for element in stored.elements
        ],
    }


def _custom_props(element: ElementRecord) -> dict[str, Any]:
    """A custom element's ``props`` as last given (by the app, or by its page's
    ``updateElement``), as Chainlit's thread holds them; nothing for other elements."""
    content = (element.meta or {}).get("content")
    if element.type != "custom" or not isinstance(content, str):
        return {}
    try:
        props = json.loads(content)
    except ValueError:
        return {}
    return {"props": props} if isinstance(props, dict) else {}


def recency_groups(
    links: list[ThreadLink], now: datetime | None = None
) -> list[tuple[str, list[ThreadLink]]]:
    """Threads grouped as the sidebar shows them: Today, Yesterday, Previous 7 days, Older."""
    now = now or datetime.now(UTC)
    today = now.date()
    groups: dict[str, list[ThreadLink]] = {}
    for link in links:
        when = link.updated_at
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        day = when.astimezone(now.tzinfo or UTC).date()
        if day >= today:
            label = "Today"
        elif day == today - timedelta(days=1):
            label = "Yesterday"
        elif day > today - timedelta(days=8):
            label = "Previous 7 days"
        else:
            label = "Older"
        groups.setdefault(label, []).append(link)
    order = ["Today", "Yesterday", "Previous 7 days", "Older"]
    return [(label, groups[label]) for label in order if label in groups]
