"""How busy this worker's event loop is, as the token batching window.

A token streamed while the loop is quiet goes out at once: batching it would only make it
late. Batching pays when the loop is busy: every event costs the same (a log entry, a wake
of each stream reading the chat, an encode, a socket write) however many tokens it carries,
so gathering tokens is what keeps a saturated worker delivering. ``LoopLoad`` measures the
loop and says how long a chat may gather tokens now: 0 while the loop keeps up, a window
that widens while it does not, up to the chat's ``token_batch_ms``.

The measure is the loop's *lag*: how late a callback runs after it was scheduled. A quiet
loop runs it within a fraction of a millisecond; a busy one only after everything ready
before it, which is the wait every event sent now adds to its tokens. While tokens
stream, a probe (``call_soon``, timed with the monotonic clock) samples it at most every
``SAMPLE_S``, and the load is the least of the last ``SAMPLES`` samples. A loop busy with
its own work is late at every probe; one that only paused (a garbage collection, a long
page render) or waited for a core the machine gave to another process is late at some,
and the window stays shut. (The share of the time the loop's thread works,
``time.thread_time``, would be steadier, but on a machine shared with other processes it
cannot tell a loop waiting for a core from an idle one.)

The window follows the load like a thermostat, not a gauge: while the load is above
``BUSY_S`` it widens by ``GROW`` each sample (from ``FIRST_S``), below ``QUIET_S`` it
narrows by ``SHRINK`` (to 0 under ``FIRST_S``), and in between it holds. A window that
followed each sample would swing: a wide window empties the loop, the load falls, the
window closes, the loop fills again, and the tokens sent at the top of each swing are the
slowest ones. Held steady, it settles where the loop just keeps up. It never exceeds
``SPREAD`` times the load: gathering tokens for much longer than the loop already makes
them wait would add more latency than it saves. A loop that streamed nothing for
``STALE_S`` starts quiet again.

Concurrency: one ``LoopLoad`` per event loop (``for_loop``), used only from that loop's
thread; nothing here awaits.
"""

from __future__ import annotations

import asyncio
import time
import weakref

SAMPLE_S = 0.01
"""The least time between two probes of the loop's lag."""
SAMPLES = 5
"""How many of the latest samples the load is the least of."""
STALE_S = 0.5
"""A loop not probed for this long streamed nothing: it starts quiet again."""
BUSY_S = 0.004
"""A load above this is a loop that falls behind: the window widens."""
QUIET_S = 0.0015
"""A load below this is a loop that keeps up with room to spare: the window narrows."""
FIRST_S = 0.004
"""The narrowest window (below it, tokens go out at once)."""
SPREAD = 4.0
"""The widest window, as a multiple of the load."""
GROW = 1.3
"""How much the window widens per busy sample."""
SHRINK = 0.85
"""How much it narrows per quiet sample."""


class LoopLoad:
    """The load of one event loop, and the token batching window it calls for."""

    __slots__ = ("__weakref__", "_last", "_loop", "_probing", "_samples", "lag", "span")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.lag = 0.0
        """The load: the least of the latest lag samples, in seconds."""
        self.span = 0.0
        """The batching window the load calls for now, in seconds (before a chat's limit)."""
        self._samples: list[float] = []
        self._last = float("-inf")
        self._probing = False

    def window(self, limit: float) -> float:
        """How long a token streamed now may wait for others, in seconds (0: send it at
        once), never more than ``limit``. Starts a probe of the loop when one is due."""
        if limit <= 0:
            return 0.0
        if not self._probing:
            now = time.monotonic()
            if now - self._last >= SAMPLE_S:
                if now - self._last > STALE_S:
                    self._samples.clear()
                    self.lag = self.span = 0.0
                self._probing = True
                self._loop.call_soon(self._probed, now)
        return min(limit, self.span)

    def note(self, lag: float) -> None:
        """Take one sample of the loop's lag, in seconds."""
        self._last = time.monotonic()
        samples = self._samples
        samples.append(lag)
        if len(samples) > SAMPLES:
            del samples[0]
        self.lag = load = min(samples)
        if load > BUSY_S:
            self.span = min(max(self.span * GROW, FIRST_S), SPREAD * load)
        elif load < QUIET_S and self.span:
            self.span *= SHRINK
            if self.span < FIRST_S:
                self.span = 0.0

    def _probed(self, sent: float) -> None:
        self._probing = False
        self.note(time.monotonic() - sent)


_LOADS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopLoad] = weakref.WeakKeyDictionary()


def for_loop(loop: asyncio.AbstractEventLoop) -> LoopLoad:
    """The one ``LoopLoad`` of ``loop`` (made on first use)."""
    load = _LOADS.get(loop)
    if load is None:
        load = _LOADS[loop] = LoopLoad(loop)
    return load
