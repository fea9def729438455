"""``MemoryStore`` keeps the data layer's rules: the store's tests run against it too.

Each behaviour test of ``tests/test_store.py`` runs here a second time, on a fresh
``MemoryStore`` instead of a database (the SQL-only ones, migrations and the engine, stay
there), so the two implementations of ``DataLayer`` cannot drift apart.
"""

from __future__ import annotations

import pytest

from lightchat.store import DataLayer, MemoryStore
from tests import test_store as shared

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(10)]


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


def test_it_is_a_data_layer(store: MemoryStore) -> None:
    assert isinstance(store, DataLayer)


test_create_user_is_an_upsert_by_identifier = shared.test_create_user_is_an_upsert_by_identifier
test_create_get_and_update_a_thread = shared.test_create_get_and_update_a_thread
test_create_thread_refuses_a_used_id_and_an_unknown_user = (
    shared.test_create_thread_refuses_a_used_id_and_an_unknown_user
)
test_browser_threads_have_no_author = shared.test_browser_threads_have_no_author
test_messages_and_steps_round_trip_in_order = shared.test_messages_and_steps_round_trip_in_order
test_upsert_step_replaces_state_and_keeps_created_at = (
    shared.test_upsert_step_replaces_state_and_keeps_created_at
)
test_steps_touch_their_thread_and_the_first_user_message_names_it = (
    shared.test_steps_touch_their_thread_and_the_first_user_message_names_it
)
test_upsert_step_refuses_missing_threads_and_borrowed_step_ids = (
    shared.test_upsert_step_refuses_missing_threads_and_borrowed_step_ids
)
test_delete_step_removes_nested_steps_feedback_and_elements = (
    shared.test_delete_step_removes_nested_steps_feedback_and_elements
)
test_elements_create_get_delete = shared.test_elements_create_get_delete
test_feedback_is_one_per_step_and_changeable = shared.test_feedback_is_one_per_step_and_changeable
test_get_step_and_list_feedback_check_the_owner = (
    shared.test_get_step_and_list_feedback_check_the_owner
)
test_load_thread_returns_everything_shown = shared.test_load_thread_returns_everything_shown
test_delete_thread_cascades_and_returns_the_file_keys = (
    shared.test_delete_thread_cascades_and_returns_the_file_keys
)
test_someone_elses_thread_looks_missing = shared.test_someone_elses_thread_looks_missing
test_get_thread_steps_of_an_empty_thread = shared.test_get_thread_steps_of_an_empty_thread
test_list_threads_pages_by_recency = shared.test_list_threads_pages_by_recency
test_list_threads_edges = shared.test_list_threads_edges
test_search_matches_names_and_step_outputs = shared.test_search_matches_names_and_step_outputs
test_feedback_filter = shared.test_feedback_filter
test_concurrent_writers_to_one_thread = shared.test_concurrent_writers_to_one_thread


async def test_records_are_copied_in_and_out(store: MemoryStore) -> None:
    thread = await store.create_thread("me", tags=["a"])
    thread.tags.append("changed outside")
    fetched = await store.get_thread(thread.id, owner="me")
    assert fetched is not None
    assert fetched.tags == ["a"]
    fetched.name = "changed outside"
    assert (await store.get_thread(thread.id, owner="me")).name is None  # type: ignore[union-attr]
