"""What a page's event stream sends: ``StreamView`` turns a chat's events into HTML updates
(``<hx-partial>`` fragments) and text events, re-rendering a streaming message's markdown
at a bounded rate and sending its finished blocks once.

A streaming message's text events carry no log position (``Chunk.marked``): a page that
reconnects after some of them is sent them again, yet shows each word once, since a stream
that starts in the middle of a message sends none of its text events before it has drawn
the message as it stands (its first render, due at once).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lightchat.domain.events import (
    AppEvent,
    AudioConnectionEvent,
    AudioEvent,
    AudioInterruptEvent,
    ComposerEvent,
    Entry,
    FavoriteEvent,
    FavoritesEvent,
    FunctionCallEvent,
    MessageData,
    MessageEvent,
    RemoveEvent,
    RunEvent,
    SettingsEvent,
    SidebarEvent,
    StepData,
    StepEvent,
    ToastEvent,
    TokenEvent,
    WindowEvent,
)
from lightchat.domain.transcript import Transcript
from lightchat.ui.markdown import is_plain_paragraph, render_split
from lightchat.ui.render import Renderer, hx_partial, streaming_tail
from lightchat.ui.timeline import finished_timelines, run_timeline, runs


@dataclass(frozen=True, slots=True)
class Chunk:
    """One server-sent event: ``event`` None is HTML for htmx; ``TEXT_EVENT`` is streamed
    text."""

    data: str
    event: str | None
    seq: int
    marked: bool = True
    """Whether the event names its log position (its id), the point a page that reconnects
    after it resumes from."""


@dataclass(slots=True)
class _Live:
    settled: int = 0  # length of content already rendered as finished blocks
    rendered: int = -1  # len(content) at the last render; -1: not rendered on this stream
    last: float = float("-inf")  # when it was last rendered (monotonic seconds)
    # The page's tail is one paragraph of plain text, which the streamed text carries on.
    plain: bool = False


TEXT_EVENT = "tok"
"""The event of streamed text (its first line names the target element)."""

WINDOW_EVENT = "lc-window"
"""The server-sent event that carries a window message (``send_window_message``)."""


CALL_EVENT = "lc-call-fn"
"""The server-sent event that carries a call of a host page's function (``CopilotFunction``)."""

APP_EVENT = "lc-app-event"
"""The server-sent event that carries an event of the app's own (``emitter.emit``)."""

AUDIO_EVENT = "lc-audio"
"""The server-sent event that carries a piece of the app's voice (``send_audio_chunk``)."""

AUDIO_INTERRUPT_EVENT = "lc-audio-interrupt"
"""The server-sent event that stops the app's voice playing (``send_audio_interrupt``)."""

AUDIO_CONNECTION_EVENT = "lc-audio-connection"
"""The server-sent event that says whether voice is on (``update_audio_connection``)."""


class StreamView:
    """What one stream sends: log entries in, server-sent events out."""

    def __init__(
        self,
        renderer: Renderer,
        transcript: Transcript,
        *,
        base: str,
        chat_url: str,
        interval: float,
    ) -> None:
        self.renderer = renderer
        self.transcript = transcript
        self.base = base
        self.chat_url = chat_url
        self.interval = interval
        self._live: dict[str, _Live] = {
            item.id: _Live()
            for item in transcript.items.values()
            if isinstance(item, MessageData) and item.streaming
        }
        self._dirty: set[str] = set()
        self._asking = transcript.asking is not None
        self._last_answer = _last_answer_id(transcript)  # the answer "Regenerate" is on
        # The timelines on the page, by run: the item each one follows (lightchat.ui.timeline).
        self._timelines: dict[str, str] = {
            timeline.key: after
            for after, timeline in finished_timelines(transcript, renderer.visibility).items()
        }
        # The page shows what an empty chat offers (#lc-start) until the first user message.
        self._start_shown = not any(
            isinstance(item, MessageData) and item.type == "user_message"
            for item in transcript.items.values()
        )

    def feed(self, entries: list[Entry], now: float) -> list[Chunk]:
        """The events to send for new log entries (and any re-render now due)."""
        ops: list[Chunk] = []
        for entry in entries:
            self._apply(entry, ops)
        ops.extend(self.due(now))
        return _merge(ops)

    def due(self, now: float) -> list[Chunk]:
        """Re-renders of streaming messages whose interval has passed."""
        ops: list[Chunk] = []
        for item_id in list(self._dirty):
            live = self._live.get(item_id)
            message = self.transcript.items.get(item_id)
            if live is None or not isinstance(message, MessageData):
                self._dirty.discard(item_id)
                continue
            if now - live.last < self.interval:
                continue
            self._dirty.discard(item_id)
            # Re-render once the unrendered text is at least half the rendered tail: a long
            # block is then re-sent a bounded number of times, not every interval. Until then
            # the streamed text shows as plain text; the next token makes it due again. A
            # plain paragraph ends at a blank line: then at once, so it joins the finished
            # blocks without waiting for the next one to grow.
            content = message.content
            fresh = len(content) - live.rendered
            if (
                live.rendered < 0
                or 2 * fresh >= live.rendered - live.settled
                or (live.plain and content.find("\n\n", max(live.rendered - 1, 0)) >= 0)
            ):
                ops.extend(self._render_live(message, live, now))
        return ops

    def next_deadline(self) -> float | None:
        """When the next pending re-render falls due (monotonic seconds), if any."""
        if not self._dirty:
            return None
        return min(self._live[i].last + self.interval for i in self._dirty if i in self._live)

    def _apply(self, entry: Entry, ops: list[Chunk]) -> None:
        event = entry.event
        seq = entry.seq
        transcript = self.transcript
        if isinstance(event, TokenEvent):
            item = transcript.apply(entry)
            if isinstance(item, MessageData):
                live = self._live.get(item.id)
                if item.streaming and live is not None:
                    # Until its first render here, the page may already hold this text.
                    if live.rendered >= 0:
                        text = f"msg-{item.id}-raw\n{event.delta}"
                        ops.append(Chunk(text, TEXT_EVENT, seq, marked=False))
                    self._dirty.add(item.id)
                else:
                    html_ = self.renderer.message(item, self.base, self.chat_url, self._last_answer)
                    ops.append(Chunk(hx_partial(f"msg-{item.id}", "outerMorph", html_), None, seq))
            elif isinstance(item, StepData) and self.renderer.visibility.shown(item):
                ops.append(Chunk(f"step-{item.id}-output\n{event.delta}", TEXT_EVENT, seq))
            return
        if isinstance(event, MessageEvent):
            existed = event.message.id in transcript.items
            message = transcript.apply(entry)
            assert isinstance(message, MessageData)
            last = _last_answer_id(transcript)
            html_ = self.renderer.message(message, self.base, self.chat_url, last)
            if existed:
                ops.append(Chunk(hx_partial(f"msg-{message.id}", "outerMorph", html_), None, seq))
            else:
                ops.append(Chunk(hx_partial("lc-log", "beforeend", html_), None, seq))
                if message.type == "user_message" and self._start_shown:
                    self._start_shown = False
                    ops.append(Chunk(hx_partial("lc-start", "delete"), None, seq))
            self._dirty.discard(message.id)
            self._follow_last_answer(seq, ops, drawn=message.id)
            if message.streaming:
                # The partial rendered the content so far in one shot; continue from there.
                content = message.content
                settled, _, tail = render_split(
                    content, images=self.renderer.images, math=self.renderer.math
                )
                plain = is_plain_paragraph(content[settled:], tail)
                self._live[message.id] = _Live(settled, len(content), float("-inf"), plain)
            else:
                self._live.pop(message.id, None)
            asking = transcript.asking is not None
            if asking != self._asking:
                self._asking = asking
                ops.append(self._controls(seq))
            return
        if isinstance(event, StepEvent):
            existed = event.step.id in transcript.items
            step = transcript.apply(entry)
            assert isinstance(step, StepData)
            visibility = self.renderer.visibility
            if not visibility.shown(step):
                return
            html_ = self.renderer.step(step, transcript, self.base, self.chat_url)
            if existed:
                ops.append(Chunk(hx_partial(f"step-{step.id}", "outerMorph", html_), None, seq))
            else:
                anchor = visibility.anchor(transcript, step)
                container = f"step-{anchor.id}-children" if anchor is not None else "lc-log"
                ops.append(Chunk(hx_partial(container, "beforeend", html_), None, seq))
            return
        if isinstance(event, RemoveEvent):
            item = transcript.items.get(event.id)
            gone: list[str] = []
            if isinstance(item, MessageData):
                gone.append(f"msg-{item.id}")
            elif isinstance(item, StepData):
                # The shown step goes with what it holds; a hidden one may hold shown steps
                # that stand elsewhere (with cot="tool_call"), and they go too.
                visibility = self.renderer.visibility
                for step in [item, *(transcript.items[i] for i in transcript.descendants(item.id))]:
                    assert isinstance(step, StepData)
                    anchor = visibility.anchor(transcript, step)
                    removed_with_anchor = anchor is not None and (
                        anchor.id == item.id or anchor.id in transcript.descendants(item.id)
                    )
                    if visibility.shown(step) and not removed_with_anchor:
                        gone.append(f"step-{step.id}")
            transcript.apply(entry)
            ops.extend(Chunk(hx_partial(target, "delete"), None, seq) for target in gone)
            self._follow_last_answer(seq, ops, drawn=None)
            self._live.pop(event.id, None)
            self._dirty.discard(event.id)
            if self._timelines:
                ops.extend(self._timelines_gone(seq))
            return
        if isinstance(event, RunEvent):
            transcript.apply(entry)
            ops.append(self._controls(seq))
            if not transcript.running:
                ops.extend(self._timeline(seq))
            return
        if isinstance(event, ComposerEvent):
            transcript.apply(entry)
            extras = self.renderer.composer_extras(event.commands, event.modes)
            ops.append(Chunk(hx_partial("lc-composer-extras", "innerHTML", extras), None, seq))
            return
        if isinstance(event, SidebarEvent):
            transcript.apply(entry)
            panel = self.renderer.sidebar(transcript.sidebar, self.chat_url)
            ops.append(Chunk(hx_partial("lc-side", "innerHTML", panel), None, seq))
            return
        if isinstance(event, FavoriteEvent):
            marked = transcript.apply(entry)
            if isinstance(marked, MessageData):  # its star, where the page shows one
                star = self.renderer.page("_favorite.html", message=marked, chat_url=self.chat_url)
                ops.append(
                    Chunk(hx_partial(f"msg-{marked.id}-favorite", "outerMorph", star), None, seq)
                )
            return
        if isinstance(event, FavoritesEvent):
            transcript.apply(entry)
            # The list in the "Favorites" dialog, while it is open.
            listed = self.renderer.page(
                "_favorites_list.html", favorites=event.favorites, chat_url=self.chat_url
            )
            ops.append(Chunk(hx_partial("lc-favorites-list", "outerMorph", listed), None, seq))
            return
        if isinstance(event, SettingsEvent):
            transcript.apply(entry)
            button = self.renderer.settings_button(self.chat_url) if event.widgets else ""
            ops.append(Chunk(hx_partial("lc-settings", "innerHTML", button), None, seq))
            return
        if isinstance(event, WindowEvent):
            # JSON for lightchat.js, which posts it to the framing page; its position lets
            # the page post each window message once.
            data = json.dumps({"seq": seq, "data": event.data}, separators=(",", ":"))
            ops.append(Chunk(data, WINDOW_EVENT, seq))
        elif isinstance(event, ToastEvent):
            toast = self.renderer.toast(event)
            ops.append(Chunk(hx_partial("lc-toasts", "beforeend", toast), None, seq))
        elif isinstance(event, FunctionCallEvent):
            # Passed on to the framing page like a window message, once per page.
            call = {"seq": seq, "id": event.call_id, "name": event.name, "args": event.args}
            ops.append(Chunk(json.dumps(call, separators=(",", ":")), CALL_EVENT, seq))
        elif isinstance(event, AppEvent):
            # lightchat.js dispatches it on the document as "lightchat:<name>", once.
            data = json.dumps({"seq": seq, "name": event.name, "data": event.data})
            ops.append(Chunk(data, APP_EVENT, seq))
        elif isinstance(event, AudioEvent):
            # lightchat.audio.js plays it after the chunks before it (each once: by seq).
            sound = {"seq": seq, "track": event.track, "mime": event.mime, "data": event.data}
            ops.append(Chunk(json.dumps(sound, separators=(",", ":")), AUDIO_EVENT, seq))
        elif isinstance(event, AudioInterruptEvent):
            ops.append(Chunk(json.dumps({"seq": seq}), AUDIO_INTERRUPT_EVENT, seq))
        elif isinstance(event, AudioConnectionEvent):
            state = {"seq": seq, "state": event.state}
            ops.append(Chunk(json.dumps(state), AUDIO_CONNECTION_EVENT, seq))

    def _timeline(self, seq: int) -> list[Chunk]:
        """The last run's timeline, once it has ended: added after the run's last item,
        redrawn in place (kept open if it was) when it follows the same item, moved there
        when the run's items grew since."""
        visibility = self.renderer.visibility
        chat_runs = runs(self.transcript, visibility)
        if not chat_runs:
            return []
        run = chat_runs[-1]
        timeline = run_timeline(self.transcript, visibility, run)
        if timeline is None:
            return []
        after = run.last_root or ""
        html_ = self.renderer.timeline(timeline)
        shown = self._timelines.get(timeline.key)
        self._timelines[timeline.key] = after
        if shown is not None and shown == after:
            return [Chunk(hx_partial(timeline.dom_id, "outerMorph", html_), None, seq)]
        ops: list[Chunk] = []
        if shown is not None:
            ops.append(Chunk(hx_partial(timeline.dom_id, "delete"), None, seq))
        ops.append(Chunk(hx_partial("lc-log", "beforeend", html_), None, seq))
        return ops

    def _timelines_gone(self, seq: int) -> list[Chunk]:
        """Take away the timelines of runs that no longer have two steps to show (an
        edited message took its answer's steps away)."""
        visibility = self.renderer.visibility
        kept = {run.key for run in runs(self.transcript, visibility) if len(run.steps) >= 2}
        ops: list[Chunk] = []
        for key in [key for key in self._timelines if key not in kept]:
            del self._timelines[key]
            ops.append(Chunk(hx_partial(f"lc-timeline-{key}", "delete"), None, seq))
        return ops

    def _follow_last_answer(self, seq: int, ops: list[Chunk], drawn: str | None) -> None:
        """Move "Regenerate" when the last answer changed: the answer that had it loses
        it (its holder is emptied: the answer itself is not sent again), one that gets it
        (an answer the app removed was after it) is drawn again; ``drawn`` was just drawn
        as it is now."""
        last = _last_answer_id(self.transcript)
        previous, self._last_answer = self._last_answer, last
        if last == previous:
            return
        items = self.transcript.items
        if previous is not None and previous != drawn and previous in items:
            ops.append(Chunk(hx_partial(f"msg-{previous}-regenerate", "innerHTML"), None, seq))
        newest = items.get(last) if last is not None else None
        if isinstance(newest, MessageData) and last != drawn and not newest.streaming:
            html_ = self.renderer.message(newest, self.base, self.chat_url, last)
            ops.append(Chunk(hx_partial(f"msg-{last}", "outerMorph", html_), None, seq))

    def _controls(self, seq: int) -> Chunk:
        running = self.transcript.running
        asking = self.transcript.asking is not None
        controls = self.renderer.controls(running, self.chat_url, asking)
        return Chunk(hx_partial("lc-controls", "innerHTML", controls), None, seq)

    def _render_live(self, message: MessageData, live: _Live, now: float) -> list[Chunk]:
        seq = self.transcript.seq
        content = message.content
        mid = message.id
        images = self.renderer.images
        math = self.renderer.math
        ops: list[Chunk] = []
        first = live.rendered < 0
        live.rendered = len(content)
        live.last = now
        if first:
            settled, settled_html, tail_html = render_split(content, images=images, math=math)
            ops.append(Chunk(hx_partial(f"msg-{mid}-blocks", "innerHTML", settled_html), None, seq))
            live.settled = settled
        else:
            rest = content[live.settled :]
            settled, settled_html, tail_html = render_split(rest, images=images, math=math)
            if settled:
                ops.append(
                    Chunk(hx_partial(f"msg-{mid}-blocks", "beforeend", settled_html), None, seq)
                )
                live.settled += settled
        source = content[live.settled :]
        plain = is_plain_paragraph(source, tail_html)
        if plain and live.plain and not first and not settled:
            # The page shows this already: the paragraph it has, then the text streamed
            # after it, on its line.
            return ops
        live.plain = plain
        tail = streaming_tail(mid, tail_html, source)
        ops.append(Chunk(hx_partial(f"msg-{mid}-tail", "innerMorph", tail), None, seq))
        return ops


def _last_answer_id(transcript: Transcript) -> str | None:
    found = transcript.last_answer()
    return found.id if found is not None else None


def _merge(ops: list[Chunk]) -> list[Chunk]:
    """Join neighbouring HTML chunks into one event, and text for the same target."""
    merged: list[Chunk] = []
    for op in ops:
        if merged:
            last = merged[-1]
            # htmx resolves every partial's target before it swaps any, so a partial aimed
            # at an element that an earlier one creates must come in an event of its own.
            if op.event is None and last.event is None and _creates(last.data, op.data):
                merged.append(op)
                continue
            if op.event is None and last.event is None:
                merged[-1] = Chunk(last.data + op.data, None, op.seq)
                continue
            if op.event == TEXT_EVENT and last.event == TEXT_EVENT:
                target, _, text = op.data.partition("\n")
                last_target = last.data.partition("\n")[0]
                if target == last_target:
                    merged[-1] = Chunk(last.data + text, TEXT_EVENT, op.seq, op.marked)
                    continue
        merged.append(op)
    return merged


def _creates(html_: str, partial: str) -> bool:
    """True when ``html_`` holds the element that ``partial`` targets."""
    target = partial.partition('hx-target="#')[2].partition('"')[0]
    return f'id="{target}"' in html_
