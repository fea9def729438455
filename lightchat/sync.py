"""Chainlit's import path for ``make_async``, ``run_sync`` and
``sleep``: ``from lightchat.sync import ...``."""

from lightchat.api.sync import make_async, run_sync, sleep

__all__ = ["make_async", "run_sync", "sleep"]
