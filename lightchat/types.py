"""Chainlit's types under their import path (``from lightchat.types import ThreadDict``);
they are defined in ``lightchat.domain.types``."""

from lightchat.api.message import AskElementResponse, AskFileResponse
from lightchat.domain.types import (
    ElementDict,
    Feedback,
    FeedbackDict,
    InputAudioChunk,
    OutputAudioChunk,
    PageInfo,
    PaginatedResponse,
    Pagination,
    StepDict,
    ThreadDict,
    ThreadFilter,
)

__all__ = [
    "AskElementResponse",
    "AskFileResponse",
    "ElementDict",
    "Feedback",
    "FeedbackDict",
    "InputAudioChunk",
    "OutputAudioChunk",
    "PageInfo",
    "PaginatedResponse",
    "Pagination",
    "StepDict",
    "ThreadDict",
    "ThreadFilter",
]
