"""Chainlit's ``chainlit.data.sql_alchemy`` under its lightchat path: ``SQLAlchemyDataLayer``
on the schema Chainlit documents for it (tables ``users``, ``threads``, ``steps``,
``elements`` and ``feedbacks``), on SQLite or PostgreSQL::

    from lightchat.data.sql_alchemy import SQLAlchemyDataLayer

    @cl.data_layer
    def get_data_layer():
        return SQLAlchemyDataLayer(conninfo="postgresql+asyncpg://user@host/chat")

The engine work is ``lightchat.store.chainlit_sql``; the tables are the app's (made with
Chainlit's DDL), never created or migrated by lightchat.
"""

from __future__ import annotations

from lightchat.data import BaseDataLayer
from lightchat.store.chainlit_sql import ChainlitSQLLayer

__all__ = ["SQLAlchemyDataLayer"]


class SQLAlchemyDataLayer(ChainlitSQLLayer, BaseDataLayer):
    """Chainlit's SQLAlchemy data layer: ``conninfo`` (an SQLAlchemy URL; ``postgresql://``
    and ``sqlite://`` get their async drivers), ``connect_args`` for the driver,
    ``ssl_require``, ``storage_provider`` (a storage client, for the bytes of elements),
    ``user_thread_limit`` (how many of a user's threads are listed at most)."""
