"""How busy this worker's event loop is, as the token batching window.

A token streamed while the loop is quiet goes out at once: batching it would only make it
late. Batching pays when the loop is busy: every event costs the same (a log entry, a wake
of each stream reading the chat, an encode, a socket write) however many tokens it carries,
so gathering tokens is what keeps a saturated worker delivering. ``LoopLoad`` measures the
loop and says how long a chat may gather tokens now: 0 while the loop keeps up, a window
that widens while it does not, up to the chat's ``token_batch_ms``.

Two measures, taken together by a probe (``call_soon``) at most every ``SAMPLE_S`` while
tokens stream, each over its last ``SAMPLES`` samples, so that only a load that lasts
counts:

- the loop's *lag*, how late the probe runs after it was scheduled (monotonic clock): a
  quiet loop runs it within a fraction of a millisecond, a loop with many chats only after
  everything ready before it, which is the wait each event sent now adds to its tokens.
  The least of the samples counts, so one pause (a garbage collection, a long page
  render) or a moment the machine gave the core to another process does not;
- the share of the time the loop's thread *worked* since the last probe
  (``time.thread_time``), on average: a chat streaming as fast as it can keeps the loop
  working nearly all the time with a short lag, and gains as much from batching. (Alone
  it would not do: on a machine shared with other processes a loop waiting for a core
  looks idle.) Such a loop runs what is ready at once, so only the chats streaming back
  to back gain from waiting: a chat at a reader's pace is sent at once unless the loop
  is also ``lagging`` (``lightchat.chat.session``).

The window follows the load like a thermostat, not a gauge: while the loop is busy (a lag
above ``BUSY_S``, or work above ``BUSY_WORK``) it widens by ``GROW`` each sample (from
``FIRST_S``); while it is quiet (a lag under ``QUIET_S`` and work under ``QUIET_WORK``) it
narrows by ``SHRINK`` (to 0 under ``FIRST_S``); in between it holds. A window that
followed each sample would swing: a wide window empties the loop, the load falls, the
window closes, the loop fills again, and the tokens sent at the top of each swing are the
slowest ones. Held steady, it settles where the loop just keeps up. It never exceeds
``SPREAD`` times the lag (or ``FLOOR_S``, whichever is more): gathering tokens for much
longer than the loop already makes them wait would add more latency than it saves. A loop
that streamed nothing for ``STALE_S`` starts quiet again.

Concurrency: one ``LoopLoad`` per event loop (``for_loop``), used only from that loop's
thread; nothing here awaits.
"""

from __future__ import annotations

import asyncio
import time
import weakref

SAMPLE_S = 0.01
"""The least time between two probes of the loop."""
SAMPLES = 5
"""How many of the latest samples each measure is taken over."""
STALE_S = 0.5
"""A loop not probed for this long streamed nothing: it starts quiet again."""
BUSY_S = 0.004
"""A lag above this is a loop that falls behind: the window widens."""
QUIET_S = 0.0015
"""A lag below this (with little work) is a loop that keeps up: the window narrows."""
BUSY_WORK = 0.8
"""A share of the time worked above which the loop hardly rests: the window widens."""
QUIET_WORK = 0.6
"""A share below which it rests often enough (with a short lag): the window narrows."""
FIRST_S = 0.004
"""The narrowest window (below it, tokens go out at once)."""
SPREAD = 10.0
"""The widest window, as a multiple of the lag..."""
FLOOR_S = 0.005
"""...or of this, when the lag is shorter (a loop busy with one fast chat)."""
GROW = 1.3
"""How much the window widens per busy sample."""
SHRINK = 0.85
"""How much it narrows per quiet sample."""


class LoopLoad:
    """The load of one event loop, and the token batching window it calls for."""

    __slots__ = (
        "__weakref__",
        "_cpu",
        "_lags",
        "_last",
        "_loop",
        "_probing",
        "_works",
        "lag",
        "span",
        "work",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.lag = 0.0
        """The least of the latest lag samples, in seconds."""
        self.work = 0.0
        """The mean of the latest shares of the time the loop's thread worked."""
        self.span = 0.0
        """The batching window the load calls for now, in seconds (before a chat's limit)."""
        self._lags: list[float] = []
        self._works: list[float] = []
        self._last = float("-inf")
        self._cpu = 0.0
        self._probing = False

    @property
    def lagging(self) -> bool:
        """True while the loop runs what is ready late (its lag not quiet: above
        ``QUIET_S``): tokens wait anyway, so gathering them costs little. A loop that
        works hard but still runs what is ready at once is not lagging."""
        return self.lag > QUIET_S

    def window(self, limit: float) -> float:
        """How long a token streamed now may wait for others, in seconds (0: send it at
        once), never more than ``limit``. Starts a probe of the loop when one is due."""
        if limit <= 0:
            return 0.0
        if not self._probing:
            now = time.monotonic()
            if now - self._last >= SAMPLE_S:
                if now - self._last > STALE_S:
                    self._lags.clear()
                    self._works.clear()
                    self.lag = self.work = self.span = 0.0
                self._probing = True
                self._loop.call_soon(self._probed, now)
        return min(limit, self.span)

    def note(self, lag: float, work: float = 0.0) -> None:
        """Take one sample: the loop's lag, in seconds, and the share of the time since the
        last sample its thread worked."""
        self._last = time.monotonic()
        self.lag = min(_keep(self._lags, lag))
        works = _keep(self._works, work)
        self.work = sum(works) / len(works)
        if self.lag > BUSY_S or self.work > BUSY_WORK:
            widest = SPREAD * max(self.lag, FLOOR_S)
            self.span = min(max(self.span * GROW, FIRST_S), widest)
        elif self.span and self.lag < QUIET_S and self.work < QUIET_WORK:
            self.span *= SHRINK
            if self.span < FIRST_S:
                self.span = 0.0

    def _probed(self, sent: float) -> None:
        self._probing = False
        now, cpu, last = time.monotonic(), time.thread_time(), self._last
        work = (cpu - self._cpu) / (now - last) if 0 < now - last <= STALE_S else 0.0
        self._cpu = cpu
        self.note(now - sent, min(work, 1.0))


def _keep(samples: list[float], sample: float) -> list[float]:
    """Add a sample to the latest ones (``SAMPLES`` of them at most)."""
    samples.append(sample)
    if len(samples) > SAMPLES:
        del samples[0]
    return samples


_LOADS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, LoopLoad] = weakref.WeakKeyDictionary()


def for_loop(loop: asyncio.AbstractEventLoop) -> LoopLoad:
    """The one ``LoopLoad`` of ``loop`` (made on first use)."""
    load = _LOADS.get(loop)
    if load is None:
        load = _LOADS[loop] = LoopLoad(loop)
    return load
