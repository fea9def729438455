"""``MemoryStore``'s own rules.

It keeps the data layer's rules too: each behaviour test of ``tests/test_store.py`` runs
on a fresh ``MemoryStore`` as well as on each database (the SQL-only ones, migrations and
the engine, do not), so the two implementations of ``DataLayer`` cannot drift apart.
"""

from __future__ import annotations

import pytest

from lightchat.store import DataLayer, MemoryStore

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(10)]


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


def test_it_is_a_data_layer(store: MemoryStore) -> None:
    assert isinstance(store, DataLayer)


async def test_records_are_copied_in_and_out(store: MemoryStore) -> None:
    thread = await store.create_thread("me", tags=["a"])
    thread.tags.append("changed outside")
    fetched = await store.get_thread(thread.id, owner="me")
    assert fetched is not None
    assert fetched.tags == ["a"]
    fetched.name = "changed outside"
    assert (await store.get_thread(thread.id, owner="me")).name is None  # type: ignore[union-attr]
