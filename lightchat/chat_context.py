"""Chainlit's import path for ``chat_context`` (``from lightchat.chat_context import ...``)."""

from lightchat.api.context import ChatContext, chat_context

__all__ = ["ChatContext", "chat_context"]
