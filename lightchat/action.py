"""Chainlit's import path for ``Action`` (``from lightchat.action import ...``)."""

from lightchat.api.elements import Action

__all__ = ["Action"]
