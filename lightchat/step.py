"""Chainlit's import path for steps (``from lightchat.step import ...``)."""

from lightchat.api.step import Step, step
from lightchat.domain.types import StepDict

__all__ = ["Step", "StepDict", "step"]
