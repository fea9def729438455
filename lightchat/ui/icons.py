"""Icons by name, drawn on the server as inline SVG: Lucide's, as Chainlit names them.

Chainlit takes a Lucide icon name for a command (``set_commands``: ``icon="image"``), an
action and a mode option; it turns the name into the PascalCase name ``lucide-react``
exports (``"image"`` -> ``Image``, ``"chevron-right"`` -> ``ChevronRight``) and draws that
icon. ``lucide_svg`` does the same lookup in the vendored icon data
(``lightchat/static/vendor/lucide/``, Lucide 0.555.0, the release Chainlit uses; its README
says what the file holds), and writes the icon as an ``<svg>`` that screen readers skip
(``aria-hidden``): the label beside it stays the control's accessible name.

Every attribute value comes from the vendored file and is escaped all the same; the name an
app gives only selects an icon. A name Lucide does not have draws nothing and is logged
once.

``icon_html`` is what templates call: an emoji (one or two characters) stays text, a Lucide
name becomes its SVG, and, where Chainlit takes an image there, an image URL becomes an
``<img>``.

``initial_avatar`` draws the avatar of an author without an avatar file: the first letter
of the name in a circle, its colour one of a few, chosen by the name (the same name always
gets the same colour).
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import zlib
from functools import lru_cache
from html import escape
from importlib import resources
from typing import Any

from markupsafe import Markup

from lightchat.api.starters import icon_url

logger = logging.getLogger("lightchat")

ICON_DATA = ("static", "vendor", "lucide", "icons.json.gz")
"""The vendored icon data, inside the package."""

UI_ICON_DATA = ("static", "vendor", "lucide", "ui-icons.json")
"""The few icons lightchat's own pages draw, taken from ``ICON_DATA`` (the same ``svg``
and ``icons``; ``tests/test_icons_http.py`` checks they match): a page drawing only these
does not read the whole set, which costs a first page about 0.3 s and 20 MiB."""

_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,63}")
_warned: set[str] = set()


@lru_cache(maxsize=1)
def lucide_data() -> dict[str, Any]:
    """The vendored Lucide data (read once): ``svg`` (the root's attributes), ``icons``
    (kebab-case name -> ``[tag, attributes]`` children) and ``names`` (every PascalCase
    name ``lucide-react`` exports -> its kebab-case key)."""
    path = resources.files("lightchat").joinpath(*ICON_DATA)
    data: dict[str, Any] = json.loads(gzip.decompress(path.read_bytes()))
    return data


def pascal_name(name: str) -> str:
    """The PascalCase name Chainlit looks an icon up by (its ``Icon`` component's rule):
    dashed parts each capitalised (``"chevron-right"`` -> ``ChevronRight``), an all
    upper-case name capitalised (``"IMAGE"`` -> ``Image``), else the first letter raised."""
    if "-" in name:
        return "".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))
    if name == name.upper():
        return name[:1].upper() + name[1:].lower()
    return name[:1].upper() + name[1:]


def lucide_key(name: str) -> str | None:
    """The vendored icon a Chainlit icon name stands for (its kebab-case key), or None.

    ``lucide-react`` also exports each icon as ``<Name>Icon`` and ``Lucide<Name>``; those
    spellings are found too.
    """
    if not _NAME.fullmatch(name):
        return None
    names: dict[str, str] = lucide_data()["names"]
    pascal = pascal_name(name)
    for candidate in (pascal, pascal.removesuffix("Icon"), pascal.removeprefix("Lucide")):
        if candidate in names:
            return names[candidate]
    return None


@lru_cache(maxsize=1)
def ui_icon_data() -> dict[str, Any]:
    """The icons lightchat's own pages draw (read once), as ``lucide_data`` has them."""
    path = resources.files("lightchat").joinpath(*UI_ICON_DATA)
    data: dict[str, Any] = json.loads(path.read_bytes())
    return data


@lru_cache(maxsize=512)
def _svg(key: str, css_class: str) -> str:
    own = ui_icon_data()
    data = own if key in own["icons"] else lucide_data()
    attributes = {**data["svg"], "class": f"{css_class} lucide lucide-{key}"}
    parts = [f'<svg aria-hidden="true" focusable="false"{_attributes(attributes)}>']
    for tag, child in data["icons"][key]:
        parts.append(f"<{escape(tag)}{_attributes(child)}/>")
    parts.append("</svg>")
    return "".join(parts)


def _attributes(values: dict[str, str]) -> str:
    return "".join(f' {escape(name)}="{escape(str(value))}"' for name, value in values.items())


def lucide_svg(name: str | None, css_class: str = "lc-icon") -> Markup:
    """The Lucide icon ``name`` (Chainlit's spelling) as inline SVG, hidden from screen
    readers; empty for a name Lucide does not have (logged once per name)."""
    if not isinstance(name, str) or not name.strip():
        return Markup("")
    name = name.strip()
    key = name if name in ui_icon_data()["icons"] else lucide_key(name)
    if key is None:
        if name not in _warned and len(_warned) < 1000:
            _warned.add(name)
            logger.warning("Icon %r is not a Lucide icon name; it is not shown.", name[:80])
        return Markup("")
    return Markup(_svg(key, css_class))


def is_emoji(icon: str) -> bool:
    """Whether an icon is text to show as it is (an emoji: one or two characters)."""
    return 0 < len(icon.strip()) <= 2


def icon_html(icon: str | None, *, images: bool = False, css_class: str = "lc-icon") -> Markup:
    """An icon as HTML hidden from screen readers: an emoji as text, a Lucide name as its
    SVG, and with ``images`` an image URL (http(s) or a path of the site) as an ``<img>``
    (Chainlit's starters and chat profiles take an image there). Empty for anything else."""
    if not isinstance(icon, str) or not icon.strip():
        return Markup("")
    if images and icon_url(icon) is not None:
        return Markup('<img class="{}" src="{}" alt="">').format(css_class, icon_url(icon))
    own = icon.strip() in ui_icon_data()["icons"]
    if is_emoji(icon) and not own and lucide_key(icon.strip()) is None:  # "x" is Lucide's X
        return Markup('<span class="{}" aria-hidden="true">{}</span>').format(
            css_class, icon.strip()
        )
    return lucide_svg(icon, css_class)


AVATAR_COLOURS = 8
"""How many colours an initial avatar may have (``lc-avatar-c0`` ... in lightchat.css)."""


def initial_avatar(name: str) -> Markup:
    """The default avatar of ``name``: its first letter (or digit) in a circle whose colour
    comes from the name; hidden from screen readers (the name is written beside it)."""
    letter = next((char for char in name if char.isalnum()), "?").upper()
    colour = zlib.crc32(name.strip().casefold().encode("utf-8")) % AVATAR_COLOURS
    return Markup(
        '<span class="lc-avatar lc-avatar-initial lc-avatar-c{}" aria-hidden="true">{}</span>'
    ).format(colour, letter)
