"""Charts drawn on the server as SVG, for the analytics page: no chart library in the
browser, nothing that needs JavaScript.

Each chart is an ``<svg role="img">`` named by its title; its numbers are in the table the
page puts after it (screen readers read that, so the drawing itself is hidden from them
but for its name). Colours are CSS classes (``lc-series-0``...), so the page's stylesheet
gives them for the light and the dark theme; no ``style`` attribute (the page's
Content-Security-Policy forbids inline styles). Every text in the drawing (a day, a tag, a
model) is escaped.

    svg = line_chart("Chats per day", days, [("Chats", [3, 5, 0])])
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["bar_chart", "line_chart", "nice_top"]

WIDTH = 640
HEIGHT = 220
_LEFT = 48
_RIGHT = 12
_TOP = 46
_BOTTOM = 30


def nice_top(largest: float) -> float:
    """A round top for an axis that shows ``largest`` (1, 2, 2.5 or 5 times a power of ten).

    >>> [nice_top(v) for v in (0, 0.3, 7, 12, 180, 2400)]
    [1.0, 0.5, 10.0, 20.0, 200.0, 2500.0]
    """
    if largest <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(largest))
    for step in (1, 2, 2.5, 5, 10):
        if largest <= step * power:
            return float(step * power)
    return float(10 * power)  # pragma: no cover - the loop always returns


def _number(value: float) -> str:
    """A label for an axis or a point: no needless decimals.

    >>> [_number(v) for v in (0, 2.5, 1200, 0.125)]
    ['0', '2.5', '1,200', '0.125']
    """
    if value == int(value):
        return f"{int(value):,}"
    return f"{value:,.3f}".rstrip("0")


def _frame(title: str, top: float, height: int) -> list[str]:
    bottom = height - _BOTTOM
    parts = [
        f'<text class="lc-chart-title" x="{_LEFT}" y="16">{escape(title)}</text>',
    ]
    for share in (0, 0.5, 1):
        y = bottom - share * (bottom - _TOP)
        parts.append(
            f'<line class="lc-chart-grid" x1="{_LEFT}" x2="{WIDTH - _RIGHT}" '
            f'y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="lc-chart-axis" x="{_LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{escape(_number(top * share))}</text>'
        )
    return parts


def _svg(title: str, parts: list[str], height: int = HEIGHT) -> Markup:
    body = "".join(parts)
    return Markup(
        f'<svg class="lc-chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg" '
        f'focusable="false"><title>{escape(title)}</title>{body}</svg>'
    )


def line_chart(
    title: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
) -> Markup:
    """A line per series over the labels (days), with a point per value and a legend.

    A None value (nothing measured that day) leaves a gap in its line.
    """
    values = [v for _, points in series for v in points if v is not None]
    top = nice_top(max(values, default=0))
    bottom = HEIGHT - _BOTTOM
    span = WIDTH - _LEFT - _RIGHT
    count = max(len(labels), 1)
    step = span / max(count - 1, 1)

    def x(index: int) -> float:
        return _LEFT + (index * step if count > 1 else span / 2)

    def y(value: float) -> float:
        return bottom - value / top * (bottom - _TOP)

    parts = _frame(title, top, HEIGHT)
    shown = sorted({0, count - 1, count // 2}) if count > 2 else list(range(count))
    for index in shown:
        if index < len(labels):
            anchor = "middle"
            if count > 1 and index == 0:
                anchor = "start"
            elif count > 1 and index == count - 1:
                anchor = "end"
            parts.append(
                f'<text class="lc-chart-axis" x="{x(index):.1f}" y="{HEIGHT - 10}" '
                f'text-anchor="{anchor}">{escape(labels[index])}</text>'
            )
    legend_x = float(_LEFT)
    for number, (name, points) in enumerate(series):
        css = f"lc-series-{number % 4}"
        runs: list[list[str]] = [[]]
        for index, value in enumerate(points):
            if value is None:
                runs.append([])
                continue
            runs[-1].append(f"{x(index):.1f},{y(value):.1f}")
            label = f"{labels[index] if index < len(labels) else ''}: {name} {_number(value)}"
            parts.append(
                f'<circle class="lc-chart-point {css}" cx="{x(index):.1f}" '
                f'cy="{y(value):.1f}" r="3"><title>{escape(label)}</title></circle>'
            )
        for run in runs:
            if len(run) > 1:
                parts.append(f'<polyline class="lc-chart-line {css}" points="{" ".join(run)}"/>')
        parts.append(
            f'<rect class="lc-chart-key {css}" x="{legend_x:.0f}" y="24" width="10" height="10"/>'
            f'<text class="lc-chart-axis" x="{legend_x + 14:.0f}" y="33">{escape(name)}</text>'
        )
        legend_x += 14 + 7 * len(name) + 18  # the key, the name (about 7 px a letter), a gap
    return _svg(title, parts)


def bar_chart(title: str, rows: Sequence[tuple[str, float]]) -> Markup:
    """Horizontal bars, one per row (a tag, a starter, a model), longest first as given."""
    bar = 18
    height = _TOP + bar * len(rows) + 10
    top = nice_top(max((value for _, value in rows), default=0))
    left = 200
    span = WIDTH - left - _RIGHT - 60
    parts = [f'<text class="lc-chart-title" x="0" y="16">{escape(title)}</text>']
    for index, (name, value) in enumerate(rows):
        y = _TOP + index * bar
        shown = name if len(name) <= 30 else name[:29] + "\u2026"
        width = max(value / top * span, 1 if value else 0)
        parts.append(
            f'<text class="lc-chart-axis" x="{left - 6}" y="{y + 13}" '
            f'text-anchor="end">{escape(shown)}</text>'
            f'<rect class="lc-chart-bar lc-series-0" x="{left}" y="{y + 2}" '
            f'width="{width:.1f}" height="{bar - 4}"><title>{escape(name)}: '
            f"{escape(_number(value))}</title></rect>"
            f'<text class="lc-chart-axis" x="{left + width + 6:.1f}" y="{y + 13}">'
            f"{escape(_number(value))}</text>"
        )
    return _svg(title, parts, height)
