"""Chainlit's import path for the messages (``from lightchat.message import ...``)."""

from lightchat.api.message import (
    AskActionMessage,
    AskElementMessage,
    AskFileMessage,
    AskFileResponse,
    AskUserMessage,
    ErrorMessage,
    Message,
)

__all__ = [
    "AskActionMessage",
    "AskElementMessage",
    "AskFileMessage",
    "AskFileResponse",
    "AskUserMessage",
    "ErrorMessage",
    "Message",
]
