"""A stored thread as a file to download: Markdown for people, JSON for programs.

Both hold the thread's name and tags, its messages with their authors, its steps with
their input and output (nested steps after their parent), the feedback given, and the
elements' names; the JSON export holds each step's generation too (the LLM call it made,
which the chat shows in the step). They leave out the thread's metadata: it holds the app's
``user_session``, which may carry what the app never shows the user (prompts, keys).

The store's records are only read here, never imported at run time (the store takes half
a second to import, and is loaded in the background; see ``lightchat.chat.history``).
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import TYPE_CHECKING, Any, get_args
from urllib.parse import quote

from lightchat.domain.events import MessageType

if TYPE_CHECKING:
    from lightchat.store import FeedbackRecord, StepRecord, StoredThread

FORMAT = "lightchat.thread/1"
"""The ``format`` of a JSON export; the number changes when the shape does."""

_MESSAGE_TYPES = frozenset(get_args(MessageType))
_VERDICT = {1: "Helpful", 0: "Not helpful"}
_UNSAFE = re.compile(r"[^A-Za-z0-9]+")
_BACKTICKS = re.compile(r"`{3,}")


def _name(stored: StoredThread) -> str:
    return stored.thread.name or "Untitled chat"


def _time(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _feedback(record: FeedbackRecord | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {"value": record.value, "comment": record.comment}


def thread_json(stored: StoredThread) -> dict[str, Any]:
    """The thread as a JSON-ready dict (keys in Chainlit's camelCase)."""
    thread = stored.thread
    return {
        "format": FORMAT,
        "id": thread.id,
        "name": _name(stored),
        "createdAt": _time(thread.created_at),
        "updatedAt": _time(thread.updated_at),
        "tags": list(thread.tags),
        "steps": [
            {
                "id": step.id,
                "parentId": step.parent_id,
                "type": step.type,
                "name": step.name,
                "input": step.input,
                "output": step.output,
                "language": step.language,
                "isError": step.is_error,
                "createdAt": _time(step.created_at),
                "endedAt": _time(step.ended_at),
                "feedback": _feedback(stored.feedback.get(step.id)),
                "generation": step.generation,
            }
            for step in stored.steps
        ],
        "elements": [
            {
                "id": element.id,
                "forId": element.for_id,
                "name": element.name,
                "type": element.type,
                "mime": element.mime,
                "size": element.size,
                "url": element.url,
            }
            for element in stored.elements
        ],
    }


def thread_json_text(stored: StoredThread) -> str:
    """The JSON export as text."""
    return json.dumps(thread_json(stored), ensure_ascii=False, indent=2) + "\n"


def _fenced(text: str, language: str | None = None) -> str:
    """A code block that ``text`` cannot close early, however many backticks it holds."""
    longest = max((len(run) for run in _BACKTICKS.findall(text)), default=2)
    fence = "`" * (longest + 1)
    return f"{fence}{language or ''}\n{text}\n{fence}"


def _depths(steps: list[StepRecord]) -> dict[str, int]:
    """How deep each step is nested in other steps (0: in the conversation itself)."""
    parents = {step.id: step.parent_id for step in steps}
    depths: dict[str, int] = {}
    for step in steps:
        depth, parent, seen = 0, step.parent_id, {step.id}
        while parent in parents and parent not in seen:
            seen.add(parent)
            depth += 1
            parent = parents[parent]
        depths[step.id] = depth
    return depths


def thread_markdown(stored: StoredThread) -> str:
    """The thread as a Markdown document: one section per message and step, in order."""
    lines = [f"# {_name(stored)}", ""]
    thread = stored.thread
    lines.append(f"Started {thread.created_at:%Y-%m-%d %H:%M} UTC.")
    if thread.tags:
        lines.append("Tags: " + ", ".join(thread.tags) + ".")
    lines.append("")
    depths = _depths(stored.steps)
    names = {element.for_id: element.name for element in stored.elements if element.for_id}
    for step in stored.steps:
        if step.type in _MESSAGE_TYPES:
            lines += [f"## {step.name or 'Message'}", "", step.output.strip() or "_(empty)_", ""]
        else:
            level = "#" * min(3 + depths[step.id], 6)
            lines += [f"{level} Step: {step.name} ({step.type})", ""]
            if step.input:
                lines += ["Input:", "", _fenced(step.input), ""]
            if step.output:
                output = _fenced(step.output, step.language) if step.language else step.output
                lines += ["Output:", "", output.strip(), ""]
            if step.is_error:
                lines += ["_This step failed._", ""]
        if step.id in names:
            lines += [f"Attached: {names[step.id]}", ""]
        feedback = stored.feedback.get(step.id)
        if feedback is not None:
            verdict = _VERDICT.get(feedback.value, str(feedback.value))
            comment = f": {feedback.comment}" if feedback.comment else ""
            lines += [f"> Feedback: {verdict}{comment}", ""]
    return "\n".join(lines).rstrip("\n") + "\n"


def content_disposition(name: str, extension: str) -> str:
    """A ``Content-Disposition`` header that downloads the file under the thread's name.

    The plain ``filename`` is ASCII letters, digits and dashes (nothing a header or a file
    system could trip on); ``filename*`` carries the name as it is, percent-encoded.

    >>> content_disposition('Trip to "Lisbon"', "md")
    'attachment; filename="Trip-to-Lisbon.md"; filename*=UTF-8\\'\\'Trip%20to%20%22Lisbon%22.md'
    """
    stem = _UNSAFE.sub("-", name).strip("-")[:80] or "chat"
    full = (" ".join(name.split())[:120] or "chat") + f".{extension}"
    return f"attachment; filename=\"{stem}.{extension}\"; filename*=UTF-8''{quote(full, safe='')}"
