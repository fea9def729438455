"""Chainlit's JSX custom elements: ``public/elements/<Name>.jsx`` beside the app.

A ``CustomElement`` whose name has such a file (and no Jinja template
``elements/<name>.html``, which wins) is drawn from it. The file runs as Chainlit runs it,
unchanged: a React component (its default export) with the globals Chainlit gives it
(``props``, ``updateElement``, ``callAction``...). It runs inside a sandboxed frame of
its own (``sandbox="allow-scripts"``, an opaque origin), the only place whose policy
allows evaluating code; the chat page keeps its strict policy and talks to the frame with
``postMessage`` (``lightchat/static/lightchat.elements.js``).

The frame's page carries the file's source, the element's props and the Lucide icons it
imports as JSON data (``script_json``), never as markup or code of the page; newer props
reach the frame as data too, by ``postMessage``. The frame transforms the source in the
browser with the vendored Babel and runs it with the vendored Preact
(``lightchat/static/vendor/``); the components Chainlit lets these files import are in
``lightchat/static/lightchat.jsx.js``.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

from markupsafe import Markup

from lightchat.ui.icons import lucide_data, lucide_key

JSX_FOLDER = ("public", "elements")
"""Where an app keeps its JSX elements, below its folder (Chainlit's place)."""

VENDOR_DIR = Path(__file__).parents[1] / "static" / "vendor"
"""The vendored npm packages (each folder's README says which version, and how)."""

_NAME = re.compile(r"[A-Za-z0-9_-]{1,100}")

# `import { Check, X as Close } from "lucide-react"` (a default import may come first).
_LUCIDE_IMPORT = re.compile(
    r"""import\s+(?:[\w$]+\s*,\s*)?\{([^}]*)\}\s*from\s*["']lucide-react["']"""
)


def jsx_path(app_dir: str, name: str) -> Path | None:
    """The JSX file of the custom element ``name``, if the app has one."""
    if not _NAME.fullmatch(name):
        return None
    folder = Path(app_dir, *JSX_FOLDER)
    path = folder / f"{name}.jsx"
    try:
        resolved = path.resolve()
    except OSError:
        return None
    inside = resolved.is_relative_to(folder.resolve())
    return resolved if inside and resolved.is_file() else None


def script_json(value: Any) -> Markup:
    """``value`` as JSON that can sit inside a ``<script type="application/json">``: ``<``,
    ``>`` and ``&`` (and the line separators) are escaped, so no text in it, such as
    ``</script>``, can end the element or start markup."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in _SCRIPT_ESCAPES:
        text = text.replace(raw, escaped)
    return Markup(text)


_SCRIPT_ESCAPES = (
    ("<", "\\u003c"),
    (">", "\\u003e"),
    ("&", "\\u0026"),
    ("\u2028", "\\u2028"),
    ("\u2029", "\\u2029"),
)


def imported_icons(source: str) -> list[str]:
    """The names a JSX source imports from ``lucide-react`` (the names it exports, before
    any ``as``)."""
    names: list[str] = []
    for group in _LUCIDE_IMPORT.findall(source):
        for part in group.split(","):
            name = part.strip().split(" as ", 1)[0].strip()
            if name and name not in names:
                names.append(name)
    return names


def icon_nodes(names: list[str]) -> dict[str, Any]:
    """The drawing of each named Lucide icon (``lucide-react``'s export names: ``Check``,
    ``CheckIcon``, ``LucideCheck``; found as ``lightchat.ui.icons`` finds them), by the
    name asked for; unknown names are left out."""
    icons: dict[str, Any] = lucide_data()["icons"]
    found: dict[str, Any] = {}
    for name in names:
        key = lucide_key(name)
        if key is not None and key in icons:
            found[name] = icons[key]
    return found


def frame_key(form_token: str, element_id: str) -> str:
    """The key a JSX element's frame signs its messages to the chat page with.

    The chat page's frame and the frame's own page both carry it (derived from the
    browser's form token, which neither shows); the page hears only messages that carry
    it. A page the frame was sent to (a link in the element, clicked) has its opaque
    origin too, but not the key: it cannot act as the element.
    """
    return hashlib.sha256(f"lightchat-jsx:{form_token}:{element_id}".encode()).hexdigest()[:32]


def frame_data(name: str, source: str, props: Any) -> dict[str, Any]:
    """What the element's frame starts with: its source, its props as they stand (newer
    ones come from the chat page), and the drawing of the icons it imports."""
    return {
        "name": name,
        "source": source,
        "props": props,
        "icons": icon_nodes(imported_icons(source)),
    }
