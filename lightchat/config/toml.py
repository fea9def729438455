"""``lightchat.toml``: the keys it takes (each with its setting, kind and comment), reading
it into settings (with a message naming the file, key and fix for a wrong one), and the
starter file ``lightchat init`` writes, made from the same table.
"""

from __future__ import annotations

import copy
import difflib
import json
import logging
import re
import textwrap
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from lightchat.config.settings import (
    CONFIG_FILE,
    ORIGIN,
    Doc,
    Settings,
    header_links_of,
    mcp_servers_of,
)
from lightchat.errors import ConfigError


@dataclass(frozen=True, slots=True)
class _Key:
    """One key of ``lightchat.toml``: the setting it sets, what it takes, what it does."""

    field: str
    kind: str  # bool, int, str, list, origins, links, choice, or false (must stay false)
    comment: str
    choices: tuple[str, ...] = ()
    alias: bool = False  # another name for a key of the starter file (left commented there)


logger = logging.getLogger("lightchat")

_TABLES = (
    "project",
    "features",
    "features.spontaneous_file_upload",
    "features.audio",
    "features.mcp",
    "features.mcp.sse",
    "features.mcp.streamable-http",
    "features.mcp.stdio",
    "ui",
)
"""The tables of ``lightchat.toml`` that hold settings, in the starter file's order."""

_UNSAFE_HTML = _Key("", "false", "Raw HTML in messages is never shown; this must stay false.")
"""Chainlit's ``features.unsafe_allow_html``: taken, but only as false."""


def _keys() -> dict[str, dict[str, _Key]]:
    """Every key of ``lightchat.toml``, by table, made from the settings' ``Doc``."""
    keys: dict[str, dict[str, _Key]] = {table: {} for table in _TABLES}
    for setting in fields(Settings):
        doc = setting.metadata.get("doc")
        if not isinstance(doc, Doc) or not doc.toml:
            continue
        kind = doc.toml_kind or ("choice" if doc.choices else str(setting.type))
        primary = doc.toml[0]
        for dotted in doc.toml:
            table, _, key = dotted.rpartition(".")
            comment = (
                doc.text
                if dotted == primary
                else (f"Another name for {primary.removeprefix('features.')} (set only one).")
            )
            keys[table][key] = _Key(
                setting.name, kind, comment, doc.choices, alias=dotted != primary
            )
    keys["features"]["unsafe_allow_html"] = _UNSAFE_HTML
    return keys


_KEYS = _keys()
_RAW_TABLES = {"ui.theme": "theme", "features.mcp.servers": "mcp_servers"}
"""Tables taken whole, by the setting they make (``mcp_servers`` parsed into servers)."""
_TOP_TABLES = ("project", "features", "ui")


CHAINLIT_CONFIG = Path(".chainlit", "config.toml")
"""A Chainlit project's configuration, read when there is no ``lightchat.toml``."""

_WARNED: set[tuple[str, str]] = set()


def read_config_file(folder: str | Path) -> dict[str, object]:
    """The settings ``lightchat.toml`` in ``folder`` sets, by field name ({} without one);
    without it, those of a Chainlit project's ``.chainlit/config.toml``.

    Raises ``ConfigError`` naming the file, the key and the fix for an unknown key, a bad
    value or a syntax error (with its line). In Chainlit's file, a key Chainlit knows and
    lightchat has no use for is logged once and left aside, so the project starts as it is.
    """
    path = Path(folder, CONFIG_FILE)
    chainlit = not path.is_file() and Path(folder, CHAINLIT_CONFIG).is_file()
    if chainlit:
        path = Path(folder, CHAINLIT_CONFIG)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{path} cannot be read ({exc}); make it a UTF-8 text file, or remove it."
        ) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        reason = str(exc)
        where = re.search(r"\s*\(at line (\d+), column (\d+)\)$", reason)
        if where:
            line = where.group(1)
            reason = f"{reason[: where.start()]} (column {where.group(2)})"
        else:
            line = str(text.count("\n") + 1)
            reason = re.sub(r"\s*\(at end of document\)$", "", reason)
        raise ConfigError(
            f"{path}, line {line}: {reason}. Fix the TOML syntax on that line and start again."
        ) from None
    if chainlit:
        data.pop("meta", None)  # which Chainlit version wrote the file
    return settings_from_tables(str(path), data, chainlit=chainlit)


def settings_from_tables(
    source: str, data: dict[str, Any], *, chainlit: bool = False
) -> dict[str, object]:
    """The settings that tables in the shape of ``lightchat.toml`` set, by field name
    (``{"ui": {"name": "Bot"}}`` -> ``{"name": "Bot"}``): the file's tables, or a chat
    profile's overrides (``lightchat.config.overrides``).

    Raises ``ConfigError`` naming ``source``, the key and the fix for an unknown key or a
    bad value. With ``chainlit`` (tables in Chainlit's shape), a key Chainlit knows and
    lightchat has no use for is logged once and left aside instead.
    """
    data = copy.deepcopy(data)
    if "UI" in data:  # Chainlit's spelling
        if "ui" in data:
            raise ConfigError(f"{source}: both [ui] and [UI] are set; keep one.")
        data["ui"] = data.pop("UI")
    values: dict[str, object] = {}
    if chainlit:
        for dotted in _set_aside(data):
            if (source, dotted) not in _WARNED:
                _WARNED.add((source, dotted))
                logger.warning("%s: %s has no use in lightchat; it is left aside.", source, dotted)
    _read_table(source, "", data, values, {})
    return values


def _set_aside(data: dict[str, Any], table: str = "") -> list[str]:
    """Take out of Chainlit's configuration the keys lightchat does not know, and say which
    (the tables it knows are walked; any other table goes whole)."""
    gone: list[str] = []
    for key in list(data):
        dotted = f"{table}.{key}" if table else key
        value = data[key]
        if dotted in _KEYS and isinstance(value, dict):
            gone += _set_aside(value, dotted)
        elif dotted in _RAW_TABLES:
            continue
        elif key not in _KEYS.get(table, {}):
            gone.append(dotted)
            del data[key]
    return gone


def _read_table(
    path: str, table: str, data: dict[str, Any], values: dict[str, object], set_by: dict[str, str]
) -> None:
    for key, value in data.items():
        dotted = f"{table}.{key}" if table else key
        if dotted in _KEYS or dotted in _RAW_TABLES:
            if not isinstance(value, dict):
                raise ConfigError(
                    f"{path}: {dotted} must be a table; write [{dotted}] with its keys below it."
                )
            if dotted == "features.mcp.servers":
                values["mcp_servers"] = mcp_servers_of(path, value)
            elif dotted in _RAW_TABLES:
                values[_RAW_TABLES[dotted]] = value
            else:
                _read_table(path, dotted, value, values, set_by)
            continue
        spec = _KEYS.get(table, {}).get(key)
        if spec is None:
            raise ConfigError(f"{path}: unknown key {dotted!r}; {_unknown_fix(table, key)}")
        converted = _convert(path, dotted, key, spec, value)
        if not spec.field:
            continue
        if spec.field in set_by:
            raise ConfigError(
                f"{path}: {set_by[spec.field]} and {dotted} set the same thing; keep one of them."
            )
        set_by[spec.field] = dotted
        values[spec.field] = converted


def _unknown_fix(table: str, key: str) -> str:
    elsewhere = [f"{t}.{key}" for t, keys in _KEYS.items() if key in keys and t != table]
    if elsewhere:
        return f"it belongs in [{elsewhere[0].rpartition('.')[0]}]: {elsewhere[0]}."
    known = list(_KEYS.get(table, {})) + [
        t.rpartition(".")[2] for t in [*_KEYS, *_RAW_TABLES] if t.rpartition(".")[0] == table
    ]
    if not table:
        known = list(_TOP_TABLES)
    close = difflib.get_close_matches(key, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    where = f"[{table}]" if table else "the file"
    return f"{hint}The keys of {where} are: {', '.join(known)}. Fix its name or remove it."


def _convert(path: str, dotted: str, key: str, spec: _Key, value: object) -> object:
    def bad(expected: str, example: str) -> ConfigError:
        return ConfigError(
            f"{path}: {dotted} = {_toml_value(value)}: expected {expected}, e.g. {key} = {example}"
        )

    default = getattr(Settings(), spec.field) if spec.field else False
    if spec.kind == "false":
        if value is True:
            raise ConfigError(
                f"{path}: {dotted} = true is refused: raw HTML in messages could run scripts "
                "in the page, and lightchat never shows it. Set it to false or remove the line."
            )
        if value is not False:
            raise bad("false", "false")
        return False
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise bad("true or false", _toml_value(default))
        return value
    if spec.kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise bad("a whole number", _toml_value(default))
        if value <= 0:
            raise bad("a whole number above 0", _toml_value(default))
        return value
    if spec.kind == "str":
        if not isinstance(value, str):
            raise bad("a string in quotes", _toml_value(default))
        return value
    if spec.kind == "choice":
        if value not in spec.choices:
            raise bad(f"one of {', '.join(spec.choices)}", json.dumps(spec.choices[-1]))
        return value
    if spec.kind == "links":
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            raise bad("a list of tables", '[{name = "Docs", url = "https://example.com/docs"}]')
        links = json.dumps(value) if value else ""
        try:
            header_links_of(links)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {dotted.rpartition('.')[0]}.{exc}") from None
        return links
    # list, origins: a list of strings (or one comma-separated string), kept comma-separated
    if isinstance(value, dict) and all(
        isinstance(v, list) and all(isinstance(i, str) for i in v) for v in value.values()
    ):
        # Chainlit's accept = {"application/octet-stream" = [".xyz", ".pdb"]}: the types
        # and the extensions, as one list.
        value = [item for mime, extensions in value.items() for item in (mime, *extensions)]
    if isinstance(value, str):
        items = [value]
    elif isinstance(value, list) and all(isinstance(item, str) for item in value):
        items = value
    else:
        raise bad("a list of strings", _toml_value(_as_list(str(default)) or ["..."]))
    joined = ",".join(item.strip() for item in items if item.strip())
    if spec.kind == "origins":
        for item in joined.split(","):
            origin = item.strip().rstrip("/").lower()
            if "*" in origin:
                raise ConfigError(
                    f"{path}: {dotted}: '*' would let every site use the app with its users' "
                    f'cookies; list each site\'s origin instead, e.g. {key} = ["https://portal.example"]'
                )
            if origin and not ORIGIN.fullmatch(origin):
                raise ConfigError(
                    f"{path}: {dotted}: {item.strip()!r} is not an origin; expected scheme, host "
                    f'and port only, e.g. {key} = ["https://portal.example:8443"]'
                )
    return joined


def _as_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | list):
        return json.dumps(value)
    if isinstance(value, dict):
        return "{...}"
    return str(value)


_MCP_SERVERS_EXAMPLE = [
    "",
    "# MCP servers of the app's own, which every chat connects to (with [features.mcp]",
    "# enabled): a command (a process on this machine, started without a shell) or a URL.",
    "# [features.mcp.servers.memory]",
    '# command = "npx -y @modelcontextprotocol/server-memory"',
    "# [features.mcp.servers.docs]",
    '# url = "https://mcp.example.com/mcp"',
    '# transport = "streamable-http"  # or "sse"',
    '# headers = { Authorization = "Bearer ..." }',
]


def starter_config() -> str:
    """A ``lightchat.toml`` with every key at its default, each with its setting's
    description as a comment."""
    defaults = Settings()
    lines = [
        "# lightchat.toml: this app's settings (read when the app starts).",
        "# LIGHTCHAT_* environment variables override these; command-line flags override both.",
    ]
    for table, keys in _KEYS.items():
        lines += ["", f"[{table}]"]
        for key, spec in keys.items():
            default: object = getattr(defaults, spec.field) if spec.field else False
            if spec.kind in ("list", "origins"):
                default = _as_list(str(default))
            elif spec.kind == "links":
                default = json.loads(str(default)) if default else []
            entry = f"{key} = {_toml_value(default)}"
            comment = textwrap.wrap(spec.comment.replace("``", ""), 86, break_on_hyphens=False)
            lines += [*(f"# {line}" for line in comment), f"# {entry}" if spec.alias else entry]
        if table == "features.mcp.stdio":
            lines += _MCP_SERVERS_EXAMPLE
    lines += [
        "",
        "# Fonts, corner radius and colours (public/theme.json, Chainlit's format, works too).",
        "# Colours: #hex, rgb(...), hsl(...) or an HSL triplet; keys: background, foreground,",
        "# muted, surface, border, primary, primary_foreground, user_message, error,",
        "# error_background, success, sidebar.",
        "[ui.theme]",
        "# font_family = \"'Inter', system-ui, sans-serif\"",
        '# radius = "12px"',
        "",
        "",
        "# [ui.theme.light]",
        '# primary = "#2f6fed"',
        "",
        "# [ui.theme.dark]",
        '# primary = "#6b9bff"',
        "",
    ]
    return "\n".join(lines)
