"""Layer 2, configuration: the settings and the app's registered callbacks.

- ``settings``: ``Settings``, every setting with its default, read from the defaults,
  ``lightchat.toml`` and ``LIGHTCHAT_*`` variables;
- ``toml``: the ``lightchat.toml`` keys, their reader and the starter file;
- ``overrides``: what a chat profile changes of them (Chainlit's ``ChainlitConfigOverrides``,
  importable from here as from ``chainlit.config``);
- ``registry``: the decorators' callbacks (``on_message``...) and how they are called.
"""

from lightchat.config.overrides import (
    AudioFeature,
    ChainlitConfigOverrides,
    ConfigOverrides,
    FeaturesSettings,
    HeaderLink,
    McpFeature,
    McpSseFeature,
    McpStdioFeature,
    McpStreamableHttpFeature,
    ProjectSettings,
    SlackFeature,
    SpontaneousFileUploadFeature,
    UISettings,
)

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
]
