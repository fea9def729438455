"""Chainlit's import path for the elements (``from lightchat.element import ...``)."""

from lightchat.api.elements import (
    Audio,
    CustomElement,
    Dataframe,
    Element,
    File,
    Image,
    Pdf,
    Plotly,
    Pyplot,
    Task,
    TaskList,
    TaskStatus,
    Text,
    Video,
)
from lightchat.domain.types import ElementDict

__all__ = [
    "Audio",
    "CustomElement",
    "Dataframe",
    "Element",
    "ElementDict",
    "File",
    "Image",
    "Pdf",
    "Plotly",
    "Pyplot",
    "Task",
    "TaskList",
    "TaskStatus",
    "Text",
    "Video",
]
