"""A chat's voice input (``features.audio``): the recordings its page sends, passed to the
app's ``on_audio_start``, ``on_audio_chunk`` and ``on_audio_end``, in order.

A recording starts when the user presses "Start recording": ``start`` runs
``on_audio_start`` at once (beside any run, as Chainlit does), which may refuse it by
returning False; either way the chat's voice connection shows the answer
(``AudioConnectionEvent``). An accepted recording gets a random id, which the page's chunks
name.

The page records 16-bit PCM, mono, at ``audio_sample_rate``, and posts it in chunks, each
with its number in the recording (0, 1, 2...). Posts may come out of order (a retry, or
several workers relaying them): the recording puts them back in order, holding up to
``REORDER_WINDOW`` chunks that came early; a chunk it has already had is taken again
without effect (a retry after a lost answer). One task per recording hands the chunks to
``on_audio_chunk`` one at a time, as ``cl.InputAudioChunk`` (``isStart`` for the first,
``mimeType`` ``pcm16``, ``elapsedTime``: the milliseconds of voice up to the chunk's end).
When the user stops, the page says how many chunks it sent; once the recording has handed
them all (or waited ``END_WAIT_S`` for ones that never came), ``on_audio_end`` runs in the
chat's turn, like a message's ``on_message``.

Limits, each refused with the status an HTTP answer gives it (``VoiceRefused``): a chunk is
at most ``CHUNK_MAX_BYTES`` and whole samples; voice may not come faster than
``RATE_SLACK`` times real time after a head start of ``RATE_HEAD_START_S``; a recording
lasts at most ``RECORDING_MAX_S``; and at most ``BACKLOG_MAX`` chunks wait for an app
that does not keep up.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lightchat.domain.events import AudioConnectionEvent
from lightchat.domain.types import InputAudioChunk

if TYPE_CHECKING:
    from lightchat.chat.session import ChatSession

logger = logging.getLogger("lightchat")

MIME = "pcm16"
"""What the page records: 16-bit signed little-endian PCM, mono (Chainlit's name)."""

CHUNK_MAX_BYTES = 64 * 1024
"""The largest chunk a page may post: 1.3 s of voice at 24 kHz (a page posts about 0.2 s)."""

REORDER_WINDOW = 32
"""How many chunks past the next one expected a recording holds (posts out of order)."""

BACKLOG_MAX = 256
"""How many chunks may wait for ``on_audio_chunk`` (about 45 s of voice as pages send it);
past that the page is told the app does not keep up."""

RATE_SLACK = 2.0
"""How much faster than real time voice may arrive (a page catching up after a pause)."""

RATE_HEAD_START_S = 5.0
"""The seconds of voice a recording may send ahead of the clock before ``RATE_SLACK``
applies."""

RECORDING_MAX_S = 30 * 60
"""The longest recording, in seconds of voice: then the page must start a new one."""

END_WAIT_S = 10.0
"""How long a stopped recording waits for chunks that have not come before it ends."""

ID_BYTES = 18
"""The randomness of a recording's id (it is in the URL of its chunks)."""


class VoiceRefused(Exception):
    """A recording or a chunk refused: ``status`` is the HTTP status that says why (400 a
    malformed chunk, 404 no such recording, 409 out of place, 413 too large or too long,
    429 too fast or an app that does not keep up)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(slots=True)
class Recording:
    """One recording: the chunks received so far, and what is handed to the app."""

    id: str
    sample_rate: int
    started: float = field(default_factory=time.monotonic)
    next_seq: int = 0
    """The number of the next chunk to hand to the app (all before it are handed)."""
    held: dict[int, bytes] = field(default_factory=dict)
    """Chunks that came before the one expected."""
    received: int = 0
    """Bytes of voice taken so far."""
    queued: int = 0
    """Bytes of voice handed to the queue so far (what ``elapsedTime`` counts)."""
    total: int | None = None
    """How many chunks the page sent, once it stopped."""
    queue: asyncio.Queue[InputAudioChunk | None] = field(default_factory=asyncio.Queue)
    task: asyncio.Task[None] | None = None
    closing: asyncio.TimerHandle | None = None
    finished: bool = False
    """True once the end was queued: nothing more is taken."""

    def take(self, seq: int, data: bytes, now: float) -> bool:
        """Take the chunk ``seq``: queue it (and the held ones it frees) for the app, or
        hold it until the ones before it come. False for a chunk taken already. Raises
        ``VoiceRefused`` for a chunk out of the recording's limits."""
        if self.finished or (self.total is not None and seq >= self.total):
            raise VoiceRefused(409, "This recording has ended; start a new one.")
        if seq < self.next_seq or seq in self.held:
            return False  # a retry of a chunk already taken
        if seq >= self.next_seq + REORDER_WINDOW:
            raise VoiceRefused(
                409,
                f"Chunk {seq} came too far ahead of chunk {self.next_seq}, which has not come;"
                " send the chunks in order.",
            )
        check_chunk(data)
        per_second = self.sample_rate * 2
        if self.received + len(data) > RECORDING_MAX_S * per_second:
            minutes = RECORDING_MAX_S // 60
            raise VoiceRefused(
                413, f"A recording lasts at most {minutes} minutes; stop and start again."
            )
        allowed = (now - self.started) * RATE_SLACK + RATE_HEAD_START_S
        if self.received + len(data) > allowed * per_second:
            raise VoiceRefused(
                429, "Voice is coming faster than it is spoken; send it as it comes."
            )
        if self.queue.qsize() >= BACKLOG_MAX:
            raise VoiceRefused(
                429, "The app is not keeping up with the voice; wait a moment and try again."
            )
        self.received += len(data)
        self.held[seq] = data
        while self.next_seq in self.held:
            chunk = self.held.pop(self.next_seq)
            self.queued += len(chunk)
            elapsed = self.queued * 1000 / per_second
            self.queue.put_nowait(InputAudioChunk(self.next_seq == 0, MIME, elapsed, chunk))
            self.next_seq += 1
        if self.total is not None and self.next_seq >= self.total:
            self.finish()
        return True

    def stop(self, total: int) -> None:
        """The page stopped after sending ``total`` chunks: the recording ends once they
        are all handed (see ``END_WAIT_S``). Raises ``VoiceRefused`` for a count that
        contradicts the chunks taken."""
        if total < 0 or total < self.next_seq or any(seq >= total for seq in self.held):
            raise VoiceRefused(400, "The recording's chunk count is less than the chunks sent.")
        if self.total is not None and total != self.total:
            raise VoiceRefused(409, "This recording was stopped already.")
        self.total = total
        if self.next_seq >= total:
            self.finish()

    def finish(self) -> None:
        """Queue the end: chunks still missing are given up."""
        if self.finished:
            return
        self.finished = True
        self.held.clear()
        if self.closing is not None:
            self.closing.cancel()
            self.closing = None
        self.queue.put_nowait(None)


def check_chunk(data: bytes) -> None:
    """Raise ``VoiceRefused`` for a chunk that is empty, too large or not whole samples."""
    if not data:
        raise VoiceRefused(400, "An audio chunk holds voice: this one is empty.")
    if len(data) > CHUNK_MAX_BYTES:
        raise VoiceRefused(
            413, f"An audio chunk is at most {CHUNK_MAX_BYTES // 1024} KB; send smaller ones."
        )
    if len(data) % 2:
        raise VoiceRefused(400, "An audio chunk is 16-bit samples: its length must be even.")


class Voice:
    """The voice input of one chat (``session.voice``)."""

    def __init__(self, session: ChatSession) -> None:
        self.session = session
        self.recordings: dict[str, Recording] = {}
        """The recordings being taken or handed to the app, by id."""
        self.open: Recording | None = None
        """The recording the page is sending (at most one per chat)."""

    def takes_voice(self) -> bool:
        """Whether the app has a hook for voice."""
        hooks = self.session.registry.callbacks
        return "on_audio_start" in hooks or "on_audio_chunk" in hooks

    async def start(self) -> Recording | None:
        """A new recording: runs ``on_audio_start`` (None when it refuses, or fails: the
        error is shown in the chat). A recording still open (a page that reloaded while
        recording) ends first: the chunks it has in order go to the app, those it waits
        for are given up."""
        session = self.session
        if session.closed:
            raise VoiceRefused(409, "This chat has ended; open a new chat to go on.")
        if not self.takes_voice():
            raise VoiceRefused(404, "This app does not take voice (no @on_audio_chunk).")
        previous = self.open
        if previous is not None:  # its page is gone: what has not come will not
            self.open = None
            previous.finish()
        accepted = True
        hook = session.registry.callbacks.get("on_audio_start")
        if hook is not None:
            try:
                accepted = bool(await session.call_in_chat(hook))
            except Exception as exc:  # the app's error is shown; the recording does not start
                session.report_error("on_audio_start", exc)
                accepted = False
        if session.closed:
            return None
        session.emit(AudioConnectionEvent("on" if accepted else "off"))
        if not accepted:
            return None
        recording = Recording(secrets.token_urlsafe(ID_BYTES), session.settings.audio_sample_rate)
        recording.task = session.loop.create_task(
            self._hand_over(recording), name=f"lightchat-{session.id}-voice"
        )
        self.recordings[recording.id] = recording
        self.open = recording
        return recording

    def find(self, recording_id: str) -> Recording:
        """The recording ``recording_id``; ``VoiceRefused`` (404) when there is none."""
        recording = self.recordings.get(recording_id)
        if recording is None:
            raise VoiceRefused(404, "There is no such recording in this chat; start a new one.")
        return recording

    def chunk(self, recording_id: str, seq: int, data: bytes) -> bool:
        """Take a chunk of a recording (see ``Recording.take``)."""
        self.session.touch()
        return self.find(recording_id).take(seq, data, time.monotonic())

    def stop(self, recording_id: str, total: int) -> None:
        """The page stopped a recording after ``total`` chunks (see ``Recording.stop``)."""
        recording = self.find(recording_id)
        recording.stop(total)
        if self.open is recording:
            self.open = None
        if not recording.finished and recording.closing is None:
            recording.closing = self.session.loop.call_later(END_WAIT_S, recording.finish)

    async def _hand_over(self, recording: Recording) -> None:
        """Hand the recording's chunks to ``on_audio_chunk`` in order, then queue
        ``on_audio_end`` in the chat's turn."""
        session = self.session
        hook = session.registry.callbacks.get("on_audio_chunk")
        try:
            while (chunk := await recording.queue.get()) is not None:
                if hook is None:
                    continue
                try:
                    await session.call_in_chat(hook, chunk)
                except Exception as exc:  # shown in the chat; the next chunks still go
                    session.report_error("on_audio_chunk", exc)
            if not session.closed:
                session.run_later("on_audio_end")
        finally:
            self.recordings.pop(recording.id, None)
            if self.open is recording:
                self.open = None

    async def close(self) -> None:
        """The chat ends: recordings stop where they are."""
        self.open = None
        tasks = [r.task for r in self.recordings.values() if r.task is not None]
        for recording in self.recordings.values():
            if recording.closing is not None:
                recording.closing.cancel()
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        self.recordings.clear()
