"""A chat profile's own settings: Chainlit's ``ChainlitConfigOverrides`` (``ConfigOverrides``).

A ``cl.ChatProfile`` may carry ``config_overrides``: the keys of the configuration that
differ for chats started with that profile, in the shape of Chainlit's configuration
(``ui``, ``features``, ``project`` tables)::

    from lightchat.config import ChainlitConfigOverrides, FeaturesSettings, UISettings

    cl.ChatProfile(
        name="Files",
        markdown_description="Reads the files you attach.",
        config_overrides=ChainlitConfigOverrides(
            ui=UISettings(name="File reader", default_sidebar_state="closed"),
            features=FeaturesSettings(spontaneous_file_upload={"enabled": True}),
        ),
    )

Plain dicts work too (``config_overrides={"ui": {"name": "File reader"}}``). Only the keys
given count, as with Chainlit (its ``exclude_unset``): a chat of that profile gets the app's
settings with those keys changed (``apply_overrides``), on its page and in its session
(the author of its messages, whether it takes files...).

The keys mean what they mean in ``.chainlit/config.toml`` (``lightchat.config.toml``
reads both the same way, with the same checks). A key Chainlit has and lightchat does not
use is logged once and left aside; a key no chat can change on its own (one the whole app
runs with: the language, cookies, timeouts, origins) is logged once and left aside too.
An unknown key or a value of the wrong kind is a ``ConfigError`` when the profile is made.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import asdict, is_dataclass, replace
from typing import Any, ClassVar

from lightchat.config.settings import HeaderLink, Settings
from lightchat.config.toml import settings_from_tables
from lightchat.errors import ConfigError

logger = logging.getLogger("lightchat")

PER_CHAT = frozenset(
    {
        "name",
        "description",
        "cot",
        "layout",
        "collapse_content",
        "default_sidebar_state",
        "chat_settings_location",
        "default_chat_settings_open",
        "confirm_new_chat",
        "github",
        "header_links",
        "custom_css",
        "custom_js",
        "logo_file_url",
        "default_avatar_file_url",
        "avatar_size",
        "custom_meta_url",
        "custom_meta_image_url",
        "latex",
        "user_message_markdown",
        "user_message_autoscroll",
        "assistant_message_autoscroll",
        "edit",
        "uploads",
        "upload_accept",
        "upload_max_files",
        "upload_max_size_mb",
    }
)
"""The settings a chat profile may change: what one chat's page and session show and take.
The others hold for the whole app (they are read when it starts, or before any chat)."""

_warned: set[tuple[str, str]] = set()


class _Table:
    """One table of Chainlit's configuration, holding only the keys it was given.

    ``KEYS`` names each key Chainlit's table has, with the class of a nested table (a dict
    given there becomes one) or None for a plain value.
    """

    KEYS: ClassVar[Mapping[str, type[_Table] | None]] = {}

    def __init__(self, **values: Any) -> None:
        kept: dict[str, Any] = {}
        for key, value in values.items():
            if key not in self.KEYS:
                raise ConfigError(
                    f"{type(self).__name__} has no key {key!r}; its keys are: "
                    f"{', '.join(self.KEYS)}."
                )
            nested = self.KEYS[key]
            if nested is not None and isinstance(value, Mapping):
                value = nested(**value)
            elif nested is not None and value is not None and not isinstance(value, nested):
                raise ConfigError(
                    f"{type(self).__name__}.{key} takes a {nested.__name__} or a dict, not "
                    f"{value!r}."
                )
            kept[key] = value
        self._values = kept

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") or name not in self.KEYS:
            raise AttributeError(name)
        return self._values.get(name)

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.model_dump() == other.model_dump()

    def __hash__(self) -> int:
        return hash(repr(self))

    def __repr__(self) -> str:
        given = ", ".join(f"{key}={value!r}" for key, value in self._values.items())
        return f"{type(self).__name__}({given})"

    def model_dump(self, exclude_unset: bool = True) -> dict[str, Any]:
        """The keys given (all of them are: nothing is set unless given), nested tables as
        dicts, as Chainlit's ``model_dump(exclude_unset=True)``."""
        return {key: _plain(value) for key, value in self._values.items()}


def _plain(value: Any) -> Any:
    """A value as TOML would hold it: tables as dicts, header links as dicts."""
    if isinstance(value, _Table):
        return value.model_dump()
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {key: item for key, item in asdict(value).items() if item}
    return value


class SpontaneousFileUploadFeature(_Table):
    """``features.spontaneous_file_upload``: files attached to messages."""

    KEYS = dict.fromkeys(("enabled", "accept", "max_files", "max_size_mb"))


class AudioFeature(_Table):
    """``features.audio``: voice input and the app's voice (``Settings.audio``)."""

    KEYS = dict.fromkeys(("enabled", "sample_rate"))


class McpSseFeature(_Table):
    """``features.mcp.sse`` (Chainlit's; not used by lightchat)."""

    KEYS = dict.fromkeys(("enabled",))


class McpStreamableHttpFeature(_Table):
    """``features.mcp.streamable_http`` (Chainlit's; not used by lightchat)."""

    KEYS = dict.fromkeys(("enabled",))


class McpStdioFeature(_Table):
    """``features.mcp.stdio`` (Chainlit's; not used by lightchat)."""

    KEYS = dict.fromkeys(("enabled", "allowed_executables"))


class McpFeature(_Table):
    """``features.mcp`` (Chainlit's; not used by lightchat)."""

    KEYS = {
        "enabled": None,
        "sse": McpSseFeature,
        "streamable_http": McpStreamableHttpFeature,
        "stdio": McpStdioFeature,
    }


class SlackFeature(_Table):
    """``features.slack`` (Chainlit's; not used by lightchat)."""

    KEYS = dict.fromkeys(("reaction_on_message_received",))


class FeaturesSettings(_Table):
    """The ``[features]`` table."""

    KEYS = {
        "spontaneous_file_upload": SpontaneousFileUploadFeature,
        "audio": AudioFeature,
        "mcp": McpFeature,
        "slack": SlackFeature,
        **dict.fromkeys(
            (
                "latex",
                "user_message_markdown",
                "user_message_autoscroll",
                "assistant_message_autoscroll",
                "unsafe_allow_html",
                "auto_tag_thread",
                "edit_message",
                "allow_thread_sharing",
                "favorites",
            )
        ),
    }


class UISettings(_Table):
    """The ``[UI]`` table (Chainlit requires ``name``; here every key may be left out)."""

    KEYS = dict.fromkeys(
        (
            "name",
            "description",
            "cot",
            "default_theme",
            "language",
            "layout",
            "default_sidebar_state",
            "chat_settings_location",
            "default_chat_settings_open",
            "confirm_new_chat",
            "github",
            "custom_css",
            "custom_css_attributes",
            "custom_js",
            "alert_style",
            "custom_js_attributes",
            "login_page_image",
            "login_page_image_filter",
            "login_page_image_dark_filter",
            "custom_meta_url",
            "custom_meta_image_url",
            "logo_file_url",
            "default_avatar_file_url",
            "avatar_size",
            "custom_build",
            "header_links",
        )
    )


class ProjectSettings(_Table):
    """The ``[project]`` table."""

    KEYS = dict.fromkeys(
        (
            "allow_origins",
            "transports",
            "user_env",
            "lc_cache_path",
            "session_timeout",
            "user_session_timeout",
            "cache",
            "persist_user_env",
            "mask_user_env",
        )
    )


class ChainlitConfigOverrides(_Table):
    """What a chat profile changes of the app's configuration (``ChatProfile``'s
    ``config_overrides``): its ``ui``, ``features`` and ``project`` keys.

    Example::

        ChainlitConfigOverrides(ui=UISettings(name="Reviewer", cot="hidden"))
    """

    KEYS = {"ui": UISettings, "features": FeaturesSettings, "project": ProjectSettings}

    @classmethod
    def of(cls, value: object, where: str) -> ChainlitConfigOverrides | None:
        """``value`` (overrides, a dict in their shape, or None) as overrides; a
        ``ConfigError`` naming ``where`` for anything else."""
        if value is None or isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            return cls(**value)
        raise ConfigError(
            f"{where}: config_overrides takes a ChainlitConfigOverrides or a dict of its "
            f"ui, features and project keys, not {value!r}."
        )

    def settings_values(self, where: str) -> dict[str, object]:
        """The settings these overrides change, by field, checked as the configuration
        file's keys are (``ConfigError`` naming ``where`` and the key); keys a chat cannot
        change on its own are logged once and left aside."""
        tables = _without_none(self.model_dump())
        values = settings_from_tables(where, tables, chainlit=True)
        for name in [name for name in values if name not in PER_CHAT]:
            _warn_once(where, name, "holds for the whole app; a chat profile cannot change it")
            del values[name]
        for name in ("custom_css", "custom_js"):
            url = values.get(name)
            if isinstance(url, str) and not url.startswith("/"):
                # The Content-Security-Policy, made when the app starts, allows the app's
                # own https files only.
                _warn_once(where, name, "takes a path of the app here (/public/...)")
                del values[name]
        Settings(**values).check()  # type: ignore[arg-type]
        return values


ConfigOverrides = ChainlitConfigOverrides
"""lightchat's name for ``ChainlitConfigOverrides``."""


def _without_none(table: dict[str, Any]) -> dict[str, Any]:
    """A dumped table without its None values (a key given as None means the default)."""
    return {
        key: _without_none(value) if isinstance(value, dict) else value
        for key, value in table.items()
        if value is not None
    }


def _warn_once(where: str, name: str, why: str) -> None:
    if (where, name) not in _warned:
        _warned.add((where, name))
        logger.warning("%s: %s %s; it is left aside.", where, name, why)


def apply_overrides(settings: Settings, values: Mapping[str, object]) -> Settings:
    """The app's ``settings`` with a profile's changes (``settings_values``) applied."""
    if not values:
        return settings
    return replace(settings, **values)  # type: ignore[arg-type]


__all__ = [
    "AudioFeature",
    "ChainlitConfigOverrides",
    "ConfigOverrides",
    "FeaturesSettings",
    "HeaderLink",
    "McpFeature",
    "McpSseFeature",
    "McpStdioFeature",
    "McpStreamableHttpFeature",
    "ProjectSettings",
    "SlackFeature",
    "SpontaneousFileUploadFeature",
    "UISettings",
    "apply_overrides",
]
