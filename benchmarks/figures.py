"""Shared by the benchmark modules: the run's configuration, and how figures are printed."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from servers import KINDS

Figures = dict[str, Any]


@dataclass(frozen=True)
class Config:
    """How big a run is: ``--quick`` and ``--repeat``."""

    quick: bool
    repeat: int

    def pick(self, full: Any, quick: Any) -> Any:
        """``full`` in a full run, ``quick`` in a quick one."""
        return quick if self.quick else full


def pct(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile ``q`` (0..100) of ``values``."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def ratio(value: float, base: float) -> float:
    """``value / base``, NaN when there is no base."""
    return value / base if base else math.nan


def fmt(value: Any) -> str:
    """A number for a table: three significant digits below 10, fewer decimals above."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if math.isnan(value):
        return "-"
    size = abs(value)
    if size >= 100:
        return f"{value:,.0f}"
    if size >= 10:
        return f"{value:.1f}"
    if size >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A plain-text table: first column left-aligned, numbers right-aligned."""
    cells = [list(headers)] + [[c if isinstance(c, str) else fmt(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [
        "  ".join(
            c.rjust(w) if i else c.ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        )
        for row in cells
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def say(text: str = "") -> None:
    """Print at once (the runs are long; show progress as it happens)."""
    print(text, flush=True)


def alternate(repeat: int) -> list[tuple[int, str]]:
    """Baseline and lightchat runs interleaved, the order flipped each repeat."""
    order: list[tuple[int, str]] = []
    for index in range(repeat):
        kinds = KINDS if index % 2 == 0 else tuple(reversed(KINDS))
        order += [(index, kind) for kind in kinds]
    return order
