"""Chainlit's import path for ``ChatSettings`` (``from lightchat.chat_settings import ...``)."""

from lightchat.api.widgets import ChatSettings

__all__ = ["ChatSettings"]
