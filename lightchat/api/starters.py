"""What a new chat offers before the first message: starters, their categories, and chat
profiles.

Plain data with Chainlit's names. The app returns them from ``@set_starters``,
``@set_starter_categories`` and ``@set_chat_profiles``; the chat page shows them::

    @cl.set_starters
    async def starters(user=None, language=None):
        return [cl.Starter(label="Write a poem", message="Write a poem about the sea.")]

    @cl.set_chat_profiles
    async def profiles(user=None, language=None):
        return [
            cl.ChatProfile(name="Quick", markdown_description="Short answers.", default=True),
            cl.ChatProfile(name="Thorough", markdown_description="Long, careful answers."),
        ]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from lightchat.config.overrides import ChainlitConfigOverrides, apply_overrides
from lightchat.config.settings import Settings
from lightchat.errors import ConfigError

T = TypeVar("T")


@dataclass
class Starter:
    """A button in an empty chat that sends ``message`` as the user's first message.

    ``icon`` is an image URL (http(s) or a path on this site); ``command`` is sent with the
    message as ``message.command`` (one of the commands the chat offers).
    """

    label: str
    message: str
    command: str | None = None
    icon: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label.strip():
            raise ConfigError("A Starter needs a label, the text of its button.")
        if not isinstance(self.message, str) or not self.message.strip():
            raise ConfigError(
                f"Starter {self.label!r} needs a message, the text it sends for the user."
            )

    def to_dict(self) -> dict[str, Any]:
        """The starter as a plain dict."""
        return asdict(self)


@dataclass
class StarterCategory:
    """A group of starters behind one button that shows or hides them."""

    label: str
    icon: str | None = None
    starters: list[Starter] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not isinstance(self.label, str) or not self.label.strip():
            raise ConfigError("A StarterCategory needs a label, the text of its button.")
        self.starters = checked(self.starters, Starter, f"StarterCategory {self.label!r}")

    def to_dict(self) -> dict[str, Any]:
        """The category as a plain dict."""
        return asdict(self)


@dataclass
class ChatProfile:
    """One way the app can run a chat, chosen when the chat starts.

    The chosen profile's ``name`` is in ``user_session.get("chat_profile")`` from
    ``on_chat_start`` on. ``markdown_description`` is shown in the empty chat; ``starters``,
    when given, replace the app's own; ``default=True`` marks the profile a new chat gets
    (else the first one). ``icon`` is an image URL or a Lucide icon name.

    ``config_overrides`` (a ``lightchat.config.ChainlitConfigOverrides``, or a dict of its
    ``ui``, ``features`` and ``project`` keys) changes the app's settings for the chats of
    this profile (see ``lightchat.config.overrides``); it is checked here.
    """

    name: str
    markdown_description: str = ""
    icon: str | None = None
    display_name: str | None = None
    default: bool = False
    starters: list[Starter] | None = None
    config_overrides: Any = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError("A ChatProfile needs a name.")
        if self.starters is not None:
            self.starters = checked(self.starters, Starter, f"ChatProfile {self.name!r}")
        self.config_overrides = ChainlitConfigOverrides.of(self.config_overrides, self._where)
        self.settings_for(Settings())  # checks the overrides now, where the app made them

    @property
    def _where(self) -> str:
        return f"ChatProfile {self.name!r}"

    @property
    def title(self) -> str:
        """The name shown for the profile."""
        return self.display_name or self.name

    def settings_for(self, settings: Settings) -> Settings:
        """The settings of a chat of this profile: the app's ``settings`` with the
        profile's ``config_overrides`` applied."""
        if self.config_overrides is None:
            return settings
        overrides = ChainlitConfigOverrides.of(self.config_overrides, self._where)
        assert overrides is not None
        return apply_overrides(settings, overrides.settings_values(self._where))

    def to_dict(self) -> dict[str, Any]:
        """The profile as a plain dict."""
        return asdict(self)


def checked(value: Any, kind: type[T], where: str) -> list[T]:
    """``value`` as a list of ``kind``, or a ``ConfigError`` that names ``where`` it came from.

    ``None`` is an empty list (a callback with nothing to offer).
    """
    if value is None:
        return []
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ConfigError(f"{where} must give a list of cl.{kind.__name__}, not {value!r}.")
    items = list(value)
    for item in items:
        if not isinstance(item, kind):
            raise ConfigError(f"{where} must give a list of cl.{kind.__name__}; it holds {item!r}.")
    return items


def icon_url(icon: str | None) -> str | None:
    """An icon's URL if the browser may load it (http(s) or a path on this site), else None.

    >>> icon_url("https://example.com/a.svg"), icon_url("javascript:alert(1)")
    ('https://example.com/a.svg', None)
    """
    if not isinstance(icon, str):
        return None
    icon = icon.strip()
    if icon.startswith(("https://", "http://")) or (icon.startswith("/") and icon[1:2] != "\\"):
        return icon
    return None
