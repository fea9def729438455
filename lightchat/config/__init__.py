"""Layer 2, configuration: the settings and the app's registered callbacks.

- ``settings``: ``Settings``, every setting with its default, read from the defaults,
  ``lightchat.toml`` and ``LIGHTCHAT_*`` variables;
- ``toml``: the ``lightchat.toml`` keys, their reader and the starter file;
- ``registry``: the decorators' callbacks (``on_message``...) and how they are called.
"""
