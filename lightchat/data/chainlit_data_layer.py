"""Chainlit's ``chainlit.data.chainlit_data_layer`` under its lightchat path:
``ChainlitDataLayer``, Chainlit's official PostgreSQL data layer, on the database its
Prisma schema made (tables ``"User"``, ``"Thread"``, ``"Step"``, ``"Element"``,
``"Feedback"``)::

    from lightchat.data.chainlit_data_layer import ChainlitDataLayer

    @cl.data_layer
    def get_data_layer():
        return ChainlitDataLayer(database_url=os.environ["DATABASE_URL"])

Setting ``DATABASE_URL`` without ``@data_layer`` does the same. The engine work is
``lightchat.store.chainlit_pg``.
"""

from __future__ import annotations

from typing import Any

from lightchat.data import BaseDataLayer
from lightchat.store.chainlit_pg import ChainlitDatabase

__all__ = ["ChainlitDataLayer"]


class ChainlitDataLayer(ChainlitDatabase, BaseDataLayer):
    """Chainlit's official data layer: ``database_url`` (``postgresql://...``),
    ``storage_client`` (a storage client, for the bytes of elements); ``show_logger`` is
    taken and, as lightchat logs through ``logging``, not needed."""

    def __init__(
        self, database_url: str, storage_client: Any = None, show_logger: bool = False
    ) -> None:
        super().__init__(database_url, storage_client)
        self.show_logger = show_logger
