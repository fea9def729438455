"""Accessibility checks in the browser with axe-core (installed by ``make axe``: npm ci in
tests/axe, never from a CDN).

``check(page)`` runs axe on the page as it is now and fails with one readable line per
problem: impact, rule, the elements (CSS selectors) and what is wrong with each. The page's
Content Security Policy forbids inline and evaluated scripts; axe's source goes in through
Playwright's ``evaluate``, which the browser compiles through its debugging protocol, where
the policy does not apply, so the page under test keeps its real policy.

The rules are axe's WCAG 2.0 and 2.1 levels A and AA and its best practices, all of them,
colour contrast included. Not run: axe's "experimental" rules and WCAG 2.2's (target size),
which the tags checked (``TAGS``) do not select. A test that must leave a rule out names it in
``disable``, with its reason beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

AXE_DIR = Path(__file__).resolve().parents[1] / "axe"
AXE_SCRIPT = AXE_DIR / "node_modules" / "axe-core" / "axe.min.js"
"""axe-core's browser build, as ``npm ci --prefix tests/axe`` installs it."""

TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
"""The rule sets checked."""

DISABLED: list[str] = []
"""Rules left out everywhere: none."""


@dataclass(frozen=True)
class Violation:
    """One rule broken, on the elements (CSS selectors) where it is."""

    id: str
    impact: str
    help: str
    targets: list[str]
    failures: list[str]

    def __str__(self) -> str:
        lines = [f"[{self.impact}] {self.id}: {self.help}"]
        for target, failure in zip(self.targets, self.failures, strict=True):
            lines.append(f"    {target}: {failure}")
        return "\n".join(lines)


def _axe_source() -> str:
    if not AXE_SCRIPT.is_file():
        raise AssertionError(f"{AXE_SCRIPT} is missing: run `make axe` (npm ci in tests/axe) first")
    return AXE_SCRIPT.read_text(encoding="utf-8")


def inject(page: Page) -> None:
    """Put axe into the page, once (a navigation loses it; ``violations`` injects it again)."""
    if page.evaluate("() => typeof window.axe === 'object'"):
        return
    # A function declaration that runs the source: axe sets ``window.axe`` itself.
    page.evaluate("() => {\n" + _axe_source() + "\n}")


def violations(
    page: Page, include: str | None = None, disable: list[str] | None = None
) -> list[Violation]:
    """The accessibility problems axe finds on the page now (within ``include``, a CSS
    selector, if given), worst first; once the page's animations have played (a toast
    sliding in), so that no colour is judged half-way through a fade."""
    page.wait_for_function(
        "() => document.getAnimations().every(a => a.playState !== 'running'"
        " || !isFinite(a.effect?.getComputedTiming().endTime ?? Infinity))"
    )
    inject(page)
    options: dict[str, Any] = {
        "runOnly": {"type": "tag", "values": TAGS},
        "rules": {rule: {"enabled": False} for rule in DISABLED + (disable or [])},
        "resultTypes": ["violations"],
    }
    raw: list[dict[str, Any]] = page.evaluate(
        "async ([context, options]) => (await axe.run(context ?? document, options)).violations"
        ".map(v => ({id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => ({"
        "target: n.target.map(t => Array.isArray(t) ? t.join(' >>> ') : t).join(' '),"
        "failure: (n.failureSummary || '').replace(/\\s+/g, ' ').trim()}))}))",
        [include, options],
    )
    order = {"critical": 0, "serious": 1, "moderate": 2, "minor": 3}
    found = [
        Violation(
            id=v["id"],
            impact=v["impact"] or "minor",
            help=v["help"],
            targets=[n["target"] for n in v["nodes"]],
            failures=[n["failure"] for n in v["nodes"]],
        )
        for v in raw
    ]
    return sorted(found, key=lambda v: (order.get(v.impact, 4), v.id))


def shown_theme(page: Page) -> str:
    """The theme the page shows: "light" or "dark" (chosen, or the browser's preference)."""
    theme: str = page.evaluate(
        "() => ['light', 'dark'].includes(document.documentElement.dataset.theme)"
        " ? document.documentElement.dataset.theme"
        " : (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light')"
    )
    return theme


def check(page: Page, what: str, include: str | None = None) -> None:
    """Fail, listing every problem, unless axe finds none on the page (or in ``include``).

    ``what`` names the state checked, for the failure message ("the chat while streaming").
    """
    found = violations(page, include)
    if found:
        theme = shown_theme(page)
        listing = "\n".join(str(v) for v in found)
        raise AssertionError(
            f"axe found {len(found)} accessibility problem(s) on {what} ({theme} theme),"
            f" {page.url}:\n{listing}"
        )
