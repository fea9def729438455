"""Chainlit's import path for ``logger`` (the ``lightchat`` logger of
the ``logging`` module): ``from lightchat.logger import ...``."""

import logging

logger = logging.getLogger("lightchat")

__all__ = ["logger"]
