"""What a chat looks like at a point of its log: the fold of its events.

A page render, a stream that resumes mid-answer and a session finishing a stopped run all
need the same thing: the messages and steps as they stand after event N. ``Transcript``
applies events in order and answers that. It copies what it stores, so the events it was
fed stay untouched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from lightchat.domain.events import (
    CommandData,
    ComposerEvent,
    ElementData,
    Entry,
    Event,
    FavoriteData,
    FavoriteEvent,
    FavoritesEvent,
    MessageData,
    MessageEvent,
    Mode,
    RemoveEvent,
    RunEvent,
    SettingsEvent,
    SidebarEvent,
    StepData,
    StepEvent,
    TokenEvent,
    WidgetData,
)

Item = MessageData | StepData


class Transcript:
    """The messages and steps of a chat, in order, after the events applied so far."""

    __slots__ = (
        "commands",
        "favorites",
        "items",
        "modes",
        "running",
        "seq",
        "settings",
        "sidebar",
    )

    def __init__(self) -> None:
        self.items: dict[str, Item] = {}
        self.running = False
        self.seq = 0
        self.commands: list[CommandData] = []
        self.modes: list[Mode] = []
        self.sidebar: SidebarEvent | None = None
        self.settings: list[WidgetData] | None = None  # the settings form, once sent
        self.favorites: list[FavoriteData] | None = None
        """What the app set "Favorites" to list (None: the user's stored favourites)."""

    @classmethod
    def from_entries(cls, entries: Iterable[Entry]) -> Transcript:
        """Fold a run of log entries into a transcript."""
        transcript = cls()
        for entry in entries:
            transcript.apply(entry)
        return transcript

    def apply(self, entry: Entry) -> Item | None:
        """Apply one logged event; returns the item it touched, if any."""
        self.seq = entry.seq
        return self.apply_event(entry.event)

    def apply_event(self, event: Event) -> Item | None:
        """Apply one event that has no position (yet)."""
        if isinstance(event, TokenEvent):
            item = self.items.get(event.id)
            if isinstance(item, MessageData):
                item.content += event.delta
            elif isinstance(item, StepData):
                item.output += event.delta
            return item
        if isinstance(event, MessageEvent):
            message = replace(event.message)
            shown = self.items.get(message.id)
            if isinstance(shown, MessageData):
                # The mark is the user's: only a FavoriteEvent changes it, not the app's
                # updates of the message (which do not carry it).
                message.favorite = shown.favorite
            self.items[message.id] = message
            return message
        if isinstance(event, FavoriteEvent):
            self.favorites = None  # the user's own list shows again, as in Chainlit
            marked = self.items.get(event.id)
            if isinstance(marked, MessageData):
                marked.favorite = event.favorite
                return marked
            return None
        if isinstance(event, StepEvent):
            step = replace(event.step)
            self.items[step.id] = step
            return step
        if isinstance(event, RemoveEvent):
            for item_id in [event.id, *self.descendants(event.id)]:
                self.items.pop(item_id, None)
            return None
        if isinstance(event, RunEvent):
            self.running = event.running
        elif isinstance(event, ComposerEvent):
            self.commands, self.modes = event.commands, event.modes
        elif isinstance(event, SidebarEvent):
            self.sidebar = event  # with no elements the panel is closed; the title stays
        elif isinstance(event, SettingsEvent):
            self.settings = list(event.widgets)
        elif isinstance(event, FavoritesEvent):
            self.favorites = list(event.favorites)
        return None

    def snapshot_events(self) -> list[Event]:
        """The fewest events that rebuild this transcript from nothing: each item once, in
        its finished (or current) state, then the composer, settings, side panel, the
        favourites the app set and the run.

        A compacted log starts with them (see ``lightchat.bus``), so a long chat's log
        stops growing with every token ever streamed. Window messages are left out: they
        are never replayed. Items keep their order, so a nested step still follows its
        parent.
        """
        events: list[Event] = []
        for item in self.items.values():
            if isinstance(item, MessageData):
                events.append(MessageEvent(replace(item)))
            else:
                events.append(StepEvent(replace(item)))
        if self.commands or self.modes:
            events.append(ComposerEvent(list(self.commands), list(self.modes)))
        if self.settings is not None:
            events.append(SettingsEvent(list(self.settings)))
        if self.sidebar is not None:
            events.append(self.sidebar)
        if self.favorites is not None:
            events.append(FavoritesEvent(list(self.favorites)))
        if self.running:
            events.append(RunEvent(running=True))
        return events

    def descendants(self, step_id: str) -> list[str]:
        """Ids of the steps nested (at any depth) in a step."""
        found: list[str] = []
        frontier = [step_id]
        while frontier:
            parent = frontier.pop()
            for item in self.items.values():
                if isinstance(item, StepData) and item.parent_id == parent:
                    found.append(item.id)
                    frontier.append(item.id)
        return found

    def is_nested(self, item: Item) -> bool:
        """True for a step shown inside its parent step (messages always stand in the log)."""
        return (
            isinstance(item, StepData)
            and item.parent_id is not None
            and isinstance(self.items.get(item.parent_id), StepData)
        )

    def roots(self) -> list[Item]:
        """The items shown directly in the conversation, in order."""
        return [item for item in self.items.values() if not self.is_nested(item)]

    def children(self, step_id: str) -> list[StepData]:
        """The steps nested directly in a step, in order."""
        return [
            item
            for item in self.items.values()
            if isinstance(item, StepData) and item.parent_id == step_id
        ]

    def sidebar_element(self, element_id: str) -> ElementData | None:
        """An element the side panel shows (``ElementSidebar``), by id."""
        if self.sidebar is None:
            return None
        return next((e for e in self.sidebar.elements if e.id == element_id), None)

    def element(self, element_id: str) -> ElementData | None:
        """An element shown in the chat (in a message, a step or the side panel), by id."""
        holder = self.holder(element_id)
        if holder is not None:
            return next((e for e in holder.elements if e.id == element_id), None)
        for item in self.items.values():
            if isinstance(item, StepData):
                for element in item.elements:
                    if element.id == element_id:
                        return element
        return self.sidebar_element(element_id)

    def keeps_file(self, key: str) -> bool:
        """True when a message or a step of this chat (an upload of its user, or an
        element the app showed) has its file in storage under ``key``."""
        return any(any(e.key == key for e in item.elements) for item in self.items.values())

    def holder(self, part_id: str) -> MessageData | None:
        """The message that shows an element or an action with this id."""
        for item in self.items.values():
            if isinstance(item, MessageData) and (
                any(e.id == part_id for e in item.elements)
                or any(a.id == part_id for a in item.actions)
            ):
                return item
        return None

    def last_answer(self) -> MessageData | None:
        """The answer "Regenerate" may replace: the last assistant message after the
        user's last message (None before the user wrote, while the user's last message
        has no answer yet, or while the last one asks the user something)."""
        for item in reversed(self.items.values()):
            if not isinstance(item, MessageData):
                continue
            if item.type == "user_message":
                return None
            if item.type == "assistant_message":
                # Every user message comes before it (a later one ended the loop).
                wrote = any(
                    isinstance(other, MessageData) and other.type == "user_message"
                    for other in self.items.values()
                )
                return item if wrote and item.ask is None else None
        return None

    @property
    def asking(self) -> MessageData | None:
        """The question back to the user that the composer answers now, if any."""
        for item in reversed(self.items.values()):
            if isinstance(item, MessageData) and item.ask is not None and item.ask.kind == "text":
                return item
        return None

    def open_items(self) -> list[Item]:
        """Messages still streaming and steps still running."""
        return [
            item
            for item in self.items.values()
            if (isinstance(item, MessageData) and item.streaming)
            or (isinstance(item, StepData) and item.status == "running")
        ]
