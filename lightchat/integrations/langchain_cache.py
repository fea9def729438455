"""Chainlit's ``[project] cache = true``: LangChain's LLM cache, kept in a SQLite file
beside the app, so the same prompt to the same model is answered once, across chats and
restarts (handy while developing against a paid model).

``lightchat serve``/``run`` turns it on when the setting is on (and ``--no-cache`` is not
given) and langchain-core is installed; the file is ``lc_cache_path`` (Chainlit's key),
else ``.lightchat/langchain.db``.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lightchat.integrations import require

logger = logging.getLogger("lightchat")

require("langchain_core", "langchain")

from langchain_core.caches import BaseCache  # noqa: E402  (after the check above)
from langchain_core.globals import set_llm_cache  # noqa: E402
from langchain_core.messages import message_to_dict, messages_from_dict  # noqa: E402
from langchain_core.outputs import ChatGeneration, Generation  # noqa: E402


class SQLiteLLMCache(BaseCache):
    """LangChain's cache of model answers, by prompt and model settings, in one SQLite
    file; safe to use from several threads (each call opens its own connection)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS answers (prompt TEXT NOT NULL, llm TEXT NOT NULL, "
                "idx INTEGER NOT NULL, generation TEXT NOT NULL, PRIMARY KEY (prompt, llm, idx))"
            )

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=10)

    def lookup(self, prompt: str, llm_string: str) -> Sequence[Generation] | None:
        """The answers kept for this prompt and model, or None."""
        with self._lock, self._connect() as db:
            rows = db.execute(
                "SELECT generation FROM answers WHERE prompt = ? AND llm = ? ORDER BY idx",
                (prompt, llm_string),
            ).fetchall()
        if not rows:
            return None
        try:
            return [_generation(json.loads(row[0])) for row in rows]
        except (ValueError, KeyError, TypeError):  # not this module's shape: asked again
            logger.warning("A LangChain cache entry of %s could not be read", self.path)
            return None

    def update(self, prompt: str, llm_string: str, return_val: Sequence[Generation]) -> None:
        """Keep the answers for this prompt and model."""
        rows = [(prompt, llm_string, i, json.dumps(_record(g))) for i, g in enumerate(return_val)]
        with self._lock, self._connect() as db:
            db.execute("DELETE FROM answers WHERE prompt = ? AND llm = ?", (prompt, llm_string))
            db.executemany("INSERT INTO answers VALUES (?, ?, ?, ?)", rows)

    def clear(self, **kwargs: Any) -> None:
        """Forget every answer."""
        with self._lock, self._connect() as db:
            db.execute("DELETE FROM answers")


def _record(generation: Generation) -> dict[str, Any]:
    """A generation as JSON data: its text and info, and a chat model's message."""
    record: dict[str, Any] = {"text": generation.text, "info": generation.generation_info}
    if isinstance(generation, ChatGeneration):
        record["message"] = message_to_dict(generation.message)
    return record


def _generation(record: dict[str, Any]) -> Generation:
    """The generation ``_record`` made JSON of."""
    if "message" in record:
        (message,) = messages_from_dict([record["message"]])
        return ChatGeneration(message=message, generation_info=record["info"])
    return Generation(text=record["text"], generation_info=record["info"])


def install(path: str | Path) -> SQLiteLLMCache:
    """Make the cache at ``path`` LangChain's global LLM cache."""
    cache = SQLiteLLMCache(path)
    set_llm_cache(cache)
    logger.info("LangChain's answers are cached in %s", cache.path)
    return cache
