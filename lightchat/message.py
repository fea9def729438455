"""Chainlit's import path for the messages (``from lightchat.message import ...``)."""

from lightchat.api.message import (
    AskActionMessage,
    AskFileMessage,
    AskFileResponse,
    AskUserMessage,
    ErrorMessage,
    Message,
)

__all__ = [
    "AskActionMessage",
    "AskFileMessage",
    "AskFileResponse",
    "AskUserMessage",
    "ErrorMessage",
    "Message",
]
