"""The data layers: the SQL store, against real SQLite (a temp folder) and real PostgreSQL,
and ``MemoryStore`` (its own rules are in tests/test_store_memory.py).

Every test that takes ``store`` runs once per database and once on a ``MemoryStore``; one
that takes ``sql_store`` (or ``database``) once per database. PostgreSQL tests work in a schema
made for this test run in the ``test`` database (dropped at the end); set
``LIGHTCHAT_TEST_POSTGRES_URL`` to use another server. They are skipped, saying why, only
when no server answers.

The databases are migrated once per run; tests stay apart by using fresh owners and ids.
"""

from __future__ import annotations

import asyncio
import functools
import os
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import bindparam, event, func, inspect, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from lightchat.domain.events import MessageData, StepData
from lightchat.errors import ConfigError
from lightchat.store import (
    ConflictError,
    ElementRecord,
    FeedbackRecord,
    InvalidCursorError,
    MemoryStore,
    NotFoundError,
    Pagination,
    SQLStore,
    StepRecord,
    StoreError,
    ThreadFields,
    ThreadFilter,
    database_url,
    default_database_url,
    head_revision,
    item_from_record,
    make_engine,
    record_from_item,
    upgrade,
)
from lightchat.store.migrate import current_revision, downgrade, schema_differences
from lightchat.store.migrations import runner
from lightchat.store.records import UTCDateTime, utcnow

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(20)]

PG_URL = os.environ.get("LIGHTCHAT_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")

T = TypeVar("T")


def run_aside(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to the end on its own loop in another thread.

    Session fixtures set databases up this way, apart from the tests' event loops (an
    asyncpg connection belongs to the loop that opened it).
    """
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(lambda: asyncio.run(make())).result()


@dataclass(frozen=True)
class Database:
    """An empty or migrated database: a SQLite file, or a schema of the PostgreSQL one."""

    url: str
    schema: str | None = None

    @property
    def kind(self) -> str:
        return "sqlite" if self.url.startswith("sqlite") else "postgresql"

    def engine(self) -> AsyncEngine:
        return make_engine(self.url, schema=self.schema)


async def _pg_execute(statement: str) -> None:
    engine = make_engine(PG_URL)
    try:
        async with engine.begin() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def new_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Database]]:
    """Makes empty databases of a kind; drops the PostgreSQL schemas at the end."""
    schemas: list[str] = []

    def make(kind: str) -> Database:
        if kind == "sqlite":
            folder = tmp_path_factory.mktemp("store")
            return Database(f"sqlite:///{folder / '.lightchat' / 'chat.db'}")
        schema = f"lightchat_test_{uuid.uuid4().hex[:12]}"
        try:
            run_aside(lambda: _pg_execute(f'CREATE SCHEMA "{schema}"'))
        except (OSError, DBAPIError) as exc:
            pytest.skip(f"PostgreSQL does not answer at {PG_URL} ({exc.__class__.__name__})")
        schemas.append(schema)
        return Database(PG_URL, schema)

    yield make
    for schema in schemas:
        run_aside(functools.partial(_pg_execute, f'DROP SCHEMA "{schema}" CASCADE'))


async def _migrated(database: Database) -> None:
    engine = database.engine()
    try:
        await upgrade(engine)
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def migrated(new_database: Callable[[str], Database]) -> Callable[[str], Database]:
    """The run's database of a kind at the newest schema, made the first time it is asked
    for; the run's tests share it."""
    made: dict[str, Database] = {}

    def get(kind: str) -> Database:
        if kind not in made:
            database = new_database(kind)
            run_aside(lambda: _migrated(database))
            made[kind] = database
        return made[kind]

    return get


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, migrated: Callable[[str], Database]) -> Database:
    """A database at the newest schema, shared by the run's tests."""
    return migrated(request.param)


@pytest.fixture
async def sql_store(database: Database) -> AsyncIterator[SQLStore]:
    """The SQL store, on each database."""
    store = SQLStore(database.engine())
    try:
        yield store
    finally:
        await store.close()


Store = SQLStore | MemoryStore


@pytest.fixture(params=["sqlite", "postgresql", "memory"])
async def store(
    request: pytest.FixtureRequest, migrated: Callable[[str], Database]
) -> AsyncIterator[Store]:
    """Each data layer: the SQL store on each database, and ``MemoryStore`` (so the two
    implementations of ``DataLayer`` cannot drift apart)."""
    if request.param == "memory":
        yield MemoryStore()
        return
    store = SQLStore(migrated(request.param).engine())
    try:
        yield store
    finally:
        await store.close()


def owner_key() -> str:
    return f"browser:{uuid.uuid4().hex}"


def message(kind: str = "user_message", content: str = "Hello", **fields: Any) -> MessageData:
    author = "You" if kind == "user_message" else "Assistant"
    return MessageData(id=uuid.uuid4().hex, author=author, type=kind, content=content, **fields)  # type: ignore[arg-type]


async def count(store: SQLStore | MemoryStore, record: type[Any], **where: str) -> int:
    """How many rows of a table match ``where`` (also on a MemoryStore, for its tests)."""
    if isinstance(store, MemoryStore):
        tables: dict[type[Any], Mapping[Any, Any]] = {
            StepRecord: store._steps,
            ElementRecord: store._elements,
            FeedbackRecord: store._feedback,
        }
        rows = tables[record]
        return sum(all(getattr(r, k) == v for k, v in where.items()) for r in rows.values())
    query = select(func.count()).select_from(record)
    for name, value in where.items():
        query = query.where(getattr(record, name) == value)
    async with store.engine.connect() as connection:
        return int((await connection.execute(query)).scalar_one())


# -- users ------------------------------------------------------------------------------


async def test_create_user_is_an_upsert_by_identifier(store: Store) -> None:
    identifier = f"{uuid.uuid4().hex}@example.com"
    assert await store.get_user(identifier) is None

    made = await store.create_user(identifier, display_name="Ada", metadata={"role": "admin"})
    again = await store.create_user(identifier)
    renamed = await store.create_user(identifier, display_name="Ada L.")

    assert again.id == made.id == renamed.id
    assert again.display_name == "Ada"
    assert renamed.display_name == "Ada L."
    assert renamed.meta == {"role": "admin"}
    fetched = await store.get_user(identifier)
    assert fetched is not None
    assert (fetched.id, fetched.display_name) == (made.id, "Ada L.")
    assert fetched.created_at.tzinfo is not None


# -- threads ----------------------------------------------------------------------------


async def test_create_get_and_update_a_thread(store: Store) -> None:
    owner = owner_key()
    user = await store.create_user(f"{uuid.uuid4().hex}@example.com")
    thread = await store.create_thread(
        owner, user_id=user.id, tags=["demo"], metadata={"profile": "GPT"}
    )

    fetched = await store.get_thread(thread.id, owner=owner)
    assert fetched is not None
    assert (fetched.owner, fetched.user_id, fetched.name) == (owner, user.id, None)
    assert (fetched.tags, fetched.meta) == (["demo"], {"profile": "GPT"})
    assert fetched.updated_at == thread.updated_at

    updated = await store.update_thread(
        thread.id, owner=owner, name="Trip plans", tags=["travel"], metadata={"a": 1}
    )
    assert (updated.name, updated.tags, updated.meta) == ("Trip plans", ["travel"], {"a": 1})
    assert updated.updated_at == thread.updated_at  # renaming does not reorder the history
    unchanged = await store.update_thread(thread.id, owner=owner)
    assert unchanged.name == "Trip plans"

    assert await store.get_thread_owner(thread.id) == owner
    assert await store.get_thread_author(thread.id) == user.identifier


async def test_create_thread_refuses_a_used_id_and_an_unknown_user(store: Store) -> None:
    owner = owner_key()
    thread = await store.create_thread(owner, thread_id=uuid.uuid4().hex)
    with pytest.raises(ConflictError):
        await store.create_thread(owner, thread_id=thread.id)
    with pytest.raises(NotFoundError):
        await store.create_thread(owner, user_id="no-such-user")


async def test_browser_threads_have_no_author(store: Store) -> None:
    thread = await store.create_thread(owner_key())
    assert await store.get_thread_author(thread.id) is None
    assert await store.get_thread_owner("no-such-thread") is None


async def test_share_a_thread_then_stop_sharing_it(store: Store) -> None:
    owner = owner_key()
    thread = await store.create_thread(owner, metadata={"topic": "maps"})
    assert thread.shared_at is None
    with pytest.raises(NotFoundError):
        await store.share_thread(thread.id, owner=owner_key(), shared=True)
    with pytest.raises(NotFoundError):
        await store.share_thread("no-such-thread", owner=owner, shared=True)
    untouched = await store.get_thread(thread.id, owner=owner)
    assert untouched is not None
    assert untouched.shared_at is None

    shared = await store.share_thread(thread.id, owner=owner, shared=True)
    assert shared.shared_at is not None
    assert shared.shared_at.tzinfo is not None
    again = await store.share_thread(thread.id, owner=owner, shared=True)
    assert again.shared_at == shared.shared_at  # the first time stays
    await store.update_thread(thread.id, owner=owner, name="Maps", metadata={"topic": "x"})
    seen = await store.load_thread(thread.id, owner=None)  # as its shared view reads it
    assert seen is not None
    assert (seen.thread.shared_at, seen.thread.name) == (shared.shared_at, "Maps")
    assert seen.thread.updated_at == thread.updated_at  # sharing is not activity

    stopped = await store.share_thread(thread.id, owner=owner, shared=False)
    assert stopped.shared_at is None
    fetched = await store.get_thread(thread.id, owner=owner)
    assert fetched is not None
    assert fetched.shared_at is None
    shared_again = await store.share_thread(thread.id, owner=None, shared=True)
    assert shared_again.shared_at is not None
    assert shared_again.shared_at >= shared.shared_at


# -- steps ------------------------------------------------------------------------------


async def test_messages_and_steps_round_trip_in_order(store: Store) -> None:
    owner = owner_key()
    thread = await store.create_thread(owner)
    question = message(content="What is 2 + 2?", created_at=1_700_000_000.123456)
    tool = StepData(
        id=uuid.uuid4().hex,
        name="calculator",
        type="tool",
        parent_id=question.id,
        input='{"a": 2}',
        output="4",
        status="done",
        show_input="json",
        started_at=1_700_000_001.5,
        ended_at=1_700_000_002.25,
    )
    answer = message("assistant_message", "4", created_at=1_700_000_003.0, streaming=True)
    for item in (answer, tool, question):  # stored out of order on purpose
        await store.upsert_step(record_from_item(item, thread.id), owner=owner)

    steps = await store.get_thread_steps(thread.id, owner=owner)
    assert [item_from_record(step) for step in steps] == [question, tool, answer]


async def test_upsert_step_replaces_state_and_keeps_created_at(store: Store) -> None:
    owner = owner_key()
    thread = await store.create_thread(owner)
    answer = message("assistant_message", "", streaming=True)
    await store.upsert_step(record_from_item(answer, thread.id), owner=owner)
    first = (await store.get_thread_steps(thread.id, owner=owner))[0]

    answer.content, answer.streaming = "The full answer.", False
    record = record_from_item(answer, thread.id)
    record.created_at = record.created_at + timedelta(hours=1)
    await store.upsert_step(record, owner=owner)

    [stored] = await store.get_thread_steps(thread.id, owner=owner)
    assert (stored.output, stored.streaming) == ("The full answer.", False)
    assert stored.created_at == first.created_at


async def test_steps_touch_their_thread_and_the_first_user_message_names_it(
    store: Store,
) -> None:
    owner = owner_key()
    thread = await store.create_thread(owner)
    await store.upsert_step(
        record_from_item(message("assistant_message", "Hi! Ask me anything."), thread.id),
        owner=owner,
    )
    assert (await store.get_thread(thread.id, owner=owner)).name is None  # type: ignore[union-attr]

    long_question = "How do   I\nplan a trip " + "across the mountains " * 10
    await store.upsert_step(
        record_from_item(message(content=long_question), thread.id), owner=owner
    )
    await store.upsert_step(record_from_item(message(content="And back?"), thread.id), owner=owner)

    named = await store.get_thread(thread.id, owner=owner)
    assert named is not None
    assert named.name is not None
    assert named.name.startswith("How do I plan a trip across the mountains")
    assert named.name.endswith("…")
    assert len(named.name) <= 60
    assert named.updated_at > thread.updated_at

    renamed = await store.create_thread(owner, name="Chosen name")
    await store.upsert_step(record_from_item(message(content="Hello"), renamed.id), owner=owner)
    assert (await store.get_thread(renamed.id, owner=owner)).name == "Chosen name"  # type: ignore[union-attr]


async def test_upsert_step_refuses_missing_threads_and_borrowed_step_ids(store: Store) -> None:
    owner = owner_key()
    thread = await store.create_thread(owner)
    other = await store.create_thread(owner)
    greeting = message(content="Hi")
    await store.upsert_step(record_from_item(greeting, thread.id), owner=owner)

    with pytest.raises(NotFoundError):
        await store.upsert_step(record_from_item(message(), "no-such-thread"), owner=None)
    with pytest.raises(ConflictError):
        await store.upsert_step(record_from_item(greeting, other.id), owner=owner)
    [kept] = await store.get_thread_steps(thread.id, owner=owner)
    assert kept.output == "Hi"


async def test_delete_step_removes_nested_steps_feedback_and_elements(store: Store) -> None:
    owner = owner_key()
    thread = await store.create_thread(owner)
    answer = message("assistant_message", "Done")
    parent = StepData(id=uuid.uuid4().hex, name="plan", parent_id=answer.id)
    child = StepData(id=uuid.uuid4().hex, name="search", parent_id=parent.id)
    keep = message(content="Question")
    for item in (keep, answer, parent, child):
        await store.upsert_step(record_from_item(item, thread.id), owner=owner)
    await store.create_element(
        ElementRecord(thread_id=thread.id, for_id=child.id, storage_key="ab/x"), owner=owner
    )
    await store.create_element(ElementRecord(thread_id=thread.id, for_id=keep.id), owner=owner)
    await store.upsert_feedback(answer.id, 1, owner=owner)

    assert await store.delete_step(answer.id, owner=owner_key()) == []  # someone else's
    assert await store.delete_step(answer.id, owner=owner) == ["ab/x"]

    steps = await store.get_thread_steps(thread.id, owner=owner)
    assert [step.id for step in steps] == [keep.id]
    assert await count(store, FeedbackRecord, thread_id=thread.id) == 0
    assert await count(store, ElementRecord, thread_id=thread.id) == 1
    assert await store.delete_step("no-such-step", owner=None) == []


# -- elements ---------------------------------------------------------------------------


async def test_elements_create_get_delete(store: Store) -> None:
    owner = owner_key()
    thread = await store.create_thread(owner)
    element = ElementRecord(
        thread_id=thread.id,
        for_id="m1",
        name="chart.png",
        type="image",
        mime="image/png",
        size=1234,
        storage_key="ab/cd",
        display="side",
        meta={"page": 2},
    )
    await store.create_element(element, owner=owner)
    with pytest.raises(ConflictError):
        await store.create_element(element, owner=owner)

    got = await store.get_element(element.id, owner=owner, thread_id=thread.id)
    assert got is not None
    assert (got.name, got.mime, got.size, got.display, got.meta) == (
        "chart.png",
        "image/png",
        1234,
        "side",
        {"page": 2},
    )
    assert await store.get_element(element.id, owner=owner, thread_id="other-thread") is None

    deleted = await store.delete_element(element.id, owner=owner)
    assert deleted is not None
    assert deleted.storage_key == "ab/cd"
    assert await store.get_element(element.id, owner=owner) is None
    assert await store.delete_element(element.id, owner=owner) is None


# -- feedback ---------------------------------------------------------------------------


async def test_feedback_is_one_per_step_and_changeable(store: Store) -> None:
    owner = owner_key()
    thread = await store.create_thread(owner)
    answer = message("assistant_message", "42")
    await store.upsert_step(record_from_item(answer, thread.id), owner=owner)

    first = await store.upsert_feedback(answer.id, 1, owner=owner, comment="Great")
    changed = await store.upsert_feedback(answer.id, 0, owner=owner, comment="Wrong, in fact")

    assert changed.id == first.id
    assert (changed.value, changed.comment, changed.thread_id) == (0, "Wrong, in fact", thread.id)
    loaded = await store.load_thread(thread.id, owner=owner)
    assert loaded is not None
    assert loaded.feedback[answer.id].value == 0
    assert await count(store, FeedbackRecord, for_id=answer.id) == 1

    with pytest.raises(ValueError, match=r"1 \(helpful\) or 0"):
        await store.upsert_feedback(answer.id, 5, owner=owner)
    with pytest.raises(NotFoundError):
        await store.upsert_feedback("no-such-step", 1, owner=owner)

    assert await store.delete_feedback(first.id, owner=owner_key()) is False
    assert await store.delete_feedback(first.id, owner=owner) is True
    assert await store.delete_feedback(first.id, owner=owner) is False


async def test_get_step_and_list_feedback_check_the_owner(store: Store) -> None:
    owner, intruder = owner_key(), owner_key()
    thread = await store.create_thread(owner)
    other = await store.create_thread(owner)
    answer, question = message("assistant_message", "42"), message()
    elsewhere = message("assistant_message", "43")
    await store.upsert_step(record_from_item(question, thread.id), owner=owner)
    await store.upsert_step(record_from_item(answer, thread.id), owner=owner)
    await store.upsert_step(record_from_item(elsewhere, other.id), owner=owner)
    await store.upsert_feedback(answer.id, 0, owner=owner, comment="off")
    await store.upsert_feedback(elsewhere.id, 1, owner=owner)

    step = await store.get_step(answer.id, owner=owner)
    assert step is not None
    assert (step.thread_id, step.type, step.output) == (thread.id, "assistant_message", "42")
    assert await store.get_step(answer.id, owner=intruder) is None
    assert await store.get_step("no-such-step", owner=owner) is None
    assert (await store.get_step(answer.id, owner=None)) is not None

    given = await store.list_feedback(thread.id, owner=owner)
    assert [(k, v.value, v.comment) for k, v in given.items()] == [(answer.id, 0, "off")]
    assert await store.list_feedback(thread.id, owner=intruder) == {}
    assert await store.list_feedback("no-such-thread", owner=owner) == {}


# -- loading and deleting threads -------------------------------------------------------


# -- favourites -------------------------------------------------------------------------


async def test_favourites_are_marked_listed_newest_first_and_unmarked(store: Store) -> None:
    owner, other = owner_key(), owner_key()
    first, second = await store.create_thread(owner), await store.create_thread(owner)
    theirs = await store.create_thread(other)
    old = message(content="old question", created_at=1_700_000_000.0)
    new = message(content="new question", created_at=1_700_000_100.0)
    plain = message(content="never marked", created_at=1_700_000_050.0)
    foreign = message(content="not mine", created_at=1_700_000_200.0)
    for item, thread in ((old, first), (new, second), (plain, first), (foreign, theirs)):
        await store.upsert_step(record_from_item(item, thread.id), owner=thread.owner)
    before = await store.get_thread(second.id, owner=owner)
    assert await store.list_favorites(owner) == []

    # Marked in any order, listed newest message first (as Chainlit lists them).
    marked = await store.set_favorite(new.id, owner=owner, favorite=True)
    assert marked.favorite_at is not None
    assert marked.output == "new question"
    await store.set_favorite(old.id, owner=owner, favorite=True)
    await store.set_favorite(foreign.id, owner=other, favorite=True)
    assert [s.output for s in await store.list_favorites(owner)] == [
        "new question",
        "old question",
    ]
    assert [s.output for s in await store.list_favorites(owner, limit=1)] == ["new question"]
    in_first = await store.list_favorites(owner, thread_id=first.id)
    assert [s.id for s in in_first] == [old.id]
    assert await store.list_favorites(owner, thread_id=theirs.id) == []  # not theirs to read
    assert [s.output for s in await store.list_favorites(other)] == ["not mine"]

    again = await store.set_favorite(new.id, owner=owner, favorite=True)
    assert again.favorite_at == marked.favorite_at  # the first time stays
    after = await store.get_thread(second.id, owner=owner)
    assert after is not None
    assert before is not None
    assert after.updated_at == before.updated_at  # marking is not activity

    # Someone else's message, and a missing one, are the same NotFoundError.
    with pytest.raises(NotFoundError):
        await store.set_favorite(foreign.id, owner=owner, favorite=False)
    with pytest.raises(NotFoundError):
        await store.set_favorite("no-such-step", owner=owner, favorite=True)
    assert [s.output for s in await store.list_favorites(other)] == ["not mine"]

    unmarked = await store.set_favorite(new.id, owner=owner, favorite=False)
    assert unmarked.favorite_at is None
    assert [s.id for s in await store.list_favorites(owner)] == [old.id]


async def test_writing_a_message_again_keeps_its_mark(store: Store) -> None:
    owner = owner_key()
    thread = await store.create_thread(owner)
    question = message(content="Keep me", created_at=1_700_000_000.5)
    await store.upsert_step(record_from_item(question, thread.id), owner=owner)
    await store.set_favorite(question.id, owner=owner, favorite=True)

    # The history writes a message's whole state again (an edit, a regeneration): the
    # mark is the user's, and stays.
    question.content = "Keep me, edited"
    await store.upsert_step(record_from_item(question, thread.id), owner=owner)
    if isinstance(store, SQLStore):
        await store.upsert_steps([record_from_item(question, thread.id)], owners={thread.id: owner})
    [kept] = await store.list_favorites(owner)
    assert kept.output == "Keep me, edited"
    stored = await store.load_thread(thread.id, owner=owner)
    assert stored is not None
    assert item_from_record(stored.steps[0]) == replace(question, favorite=True)


async def test_favourites_go_with_their_message_and_thread(store: Store) -> None:
    owner = owner_key()
    thread, other = await store.create_thread(owner), await store.create_thread(owner)
    removed, kept = message(content="removed"), message(content="kept")
    await store.upsert_step(record_from_item(removed, thread.id), owner=owner)
    await store.upsert_step(record_from_item(kept, other.id), owner=owner)
    for item in (removed, kept):
        await store.set_favorite(item.id, owner=owner, favorite=True)

    await store.delete_step(removed.id, owner=owner)
    assert [s.id for s in await store.list_favorites(owner)] == [kept.id]
    await store.delete_thread(other.id, owner=owner)
    assert await store.list_favorites(owner) == []


async def test_load_thread_returns_everything_shown(store: Store) -> None:
    owner = owner_key()
    thread = await store.create_thread(owner)
    question, answer = message(content="Q"), message("assistant_message", "A")
    for item in (question, answer):
        await store.upsert_step(record_from_item(item, thread.id), owner=owner)
    element = ElementRecord(thread_id=thread.id, for_id=answer.id, name="notes.txt")
    await store.create_element(element, owner=owner)
    await store.upsert_feedback(answer.id, 1, owner=owner)

    loaded = await store.load_thread(thread.id, owner=owner)

    assert loaded is not None
    assert loaded.thread.id == thread.id
    assert [step.id for step in loaded.steps] == [question.id, answer.id]
    assert [item.id for item in loaded.elements] == [element.id]
    assert list(loaded.feedback) == [answer.id]


async def test_delete_thread_cascades_and_returns_the_file_keys(store: Store) -> None:
    owner = owner_key()
    thread = await store.create_thread(owner)
    kept = await store.create_thread(owner)
    answer = message("assistant_message", "A")
    await store.upsert_step(record_from_item(answer, thread.id), owner=owner)
    await store.upsert_step(record_from_item(message(), kept.id), owner=owner)
    await store.upsert_feedback(answer.id, 1, owner=owner)
    for key in ("aa/one", None, "bb/two"):
        await store.create_element(
            ElementRecord(thread_id=thread.id, for_id=answer.id, storage_key=key), owner=owner
        )

    keys = await store.delete_thread(thread.id, owner=owner)

    assert sorted(keys) == ["aa/one", "bb/two"]
    assert await store.load_thread(thread.id, owner=owner) is None
    for record in (StepRecord, ElementRecord, FeedbackRecord):
        assert await count(store, record, thread_id=thread.id) == 0
    assert await count(store, StepRecord, thread_id=kept.id) == 1
    with pytest.raises(NotFoundError):
        await store.delete_thread(thread.id, owner=owner)


# -- ownership --------------------------------------------------------------------------


async def test_someone_elses_thread_looks_missing(store: Store) -> None:
    owner, intruder = owner_key(), owner_key()
    thread = await store.create_thread(owner, name="Private")
    answer = message("assistant_message", "secret")
    await store.upsert_step(record_from_item(answer, thread.id), owner=owner)
    element = ElementRecord(thread_id=thread.id, for_id=answer.id, storage_key="cc/secret")
    await store.create_element(element, owner=owner)
    feedback = await store.upsert_feedback(answer.id, 1, owner=owner)

    assert await store.get_thread(thread.id, owner=intruder) is None
    assert await store.load_thread(thread.id, owner=intruder) is None
    assert await store.get_element(element.id, owner=intruder) is None
    assert await store.delete_element(element.id, owner=intruder) is None
    assert await store.delete_feedback(feedback.id, owner=intruder) is False
    assert (await store.list_threads(intruder)).threads == []
    assert (await store.list_threads(intruder, filters=ThreadFilter(search="secret"))).threads == []
    refused = [
        store.get_thread_steps(thread.id, owner=intruder),
        store.update_thread(thread.id, owner=intruder, name="Mine now"),
        store.delete_thread(thread.id, owner=intruder),
        store.upsert_step(record_from_item(message(), thread.id), owner=intruder),
        store.create_element(ElementRecord(thread_id=thread.id), owner=intruder),
        store.upsert_feedback(answer.id, 0, owner=intruder),
    ]
    for attempt in refused:
        with pytest.raises(NotFoundError):
            await attempt

    loaded = await store.load_thread(thread.id, owner=owner)
    assert loaded is not None
    assert loaded.thread.name == "Private"
    assert [step.output for step in loaded.steps] == ["secret"]
    assert [item.id for item in loaded.elements] == [element.id]
    assert loaded.feedback[answer.id].value == 1


async def test_get_thread_steps_of_an_empty_thread(store: Store) -> None:
    owner = owner_key()
    thread = await store.create_thread(owner)
    assert await store.get_thread_steps(thread.id, owner=owner) == []
    with pytest.raises(NotFoundError):
        await store.get_thread_steps("no-such-thread", owner=None)


# -- listing ----------------------------------------------------------------------------


async def test_list_threads_pages_by_recency(store: Store) -> None:
    owner = owner_key()
    made = [await store.create_thread(owner, name=f"Thread {n}") for n in range(7)]
    await store.create_thread(owner_key(), name="Someone else's")
    # Activity moves a thread to the top.
    await store.upsert_step(record_from_item(message(), made[2].id), owner=owner)

    seen: list[str] = []
    cursor: str | None = None
    pages = []
    while True:
        page = await store.list_threads(owner, Pagination(first=3, cursor=cursor))
        pages.append(len(page.threads))
        seen += [thread.id for thread in page.threads]
        if not page.has_next:
            break
        cursor = page.end_cursor

    assert pages == [3, 3, 1]
    assert seen[0] == made[2].id
    assert sorted(seen) == sorted(thread.id for thread in made)
    fetched = [await store.get_thread(thread_id, owner=owner) for thread_id in seen]
    order = [(thread.updated_at, thread.id) for thread in fetched if thread is not None]
    assert order == sorted(order, reverse=True)


async def test_list_threads_edges(store: Store) -> None:
    owner = owner_key()
    empty = await store.list_threads(owner)
    assert (empty.threads, empty.has_next, empty.end_cursor) == ([], False, None)

    await store.create_thread(owner)
    single = await store.list_threads(owner, Pagination(first=0))  # clamped to one
    assert (len(single.threads), single.has_next) == (1, False)
    for cursor in ("garbage", "12.", ".abc", "-5.abc"):
        with pytest.raises(InvalidCursorError):
            await store.list_threads(owner, Pagination(cursor=cursor))


async def test_recent_threads_lists_what_the_first_page_of_list_threads_holds(
    sql_store: SQLStore,
) -> None:
    # The sidebar's reading (on SQLite, a driver connection of its own) and the general
    # listing agree on the threads, their order, names and times.
    owner = owner_key()
    assert await sql_store.recent_threads(owner, 50) == []
    made = [await sql_store.create_thread(owner, name=f"Thread {n}") for n in range(7)]
    await sql_store.create_thread(owner, name=None)
    await sql_store.create_thread(owner_key(), name="Someone else's")
    await sql_store.share_thread(made[4].id, owner=owner, shared=True)
    await sql_store.upsert_step(record_from_item(message(), made[2].id), owner=owner)

    def shown(threads: Any) -> list[tuple[Any, ...]]:
        return [(t.id, t.name, t.updated_at, t.shared_at) for t in threads]

    for first in (3, 50):
        page = await sql_store.list_threads(owner, Pagination(first=first))
        recent = await sql_store.recent_threads(owner, first)
        assert shown(recent) == shown(page.threads)
    assert recent[0].id == made[2].id
    assert all(t.updated_at.utcoffset() == timedelta(0) for t in recent)
    assert [t.shared_at is not None for t in recent].count(True) == 1
    assert len(await sql_store.recent_threads(owner, 0)) == 1  # clamped to one
    # Each reading sees what was written since the last one (no snapshot is kept open).
    later = await sql_store.create_thread(owner, name="Later")
    assert (await sql_store.recent_threads(owner, 1))[0].id == later.id
    own_connection = sql_store.engine.dialect.name == "sqlite"
    assert (sql_store._own is not None) is own_connection


async def test_recent_threads_of_a_database_in_memory() -> None:
    # No second connection can see a database in memory: the pool's connection reads it.
    store = await SQLStore.open("sqlite:///:memory:")
    try:
        owner = owner_key()
        made = await store.create_thread(owner, name="Only")
        recent = await store.recent_threads(owner, 50)
        assert [(t.id, t.name) for t in recent] == [(made.id, "Only")]
        assert store._own is None
    finally:
        await store.close()


async def test_search_matches_names_and_step_outputs(store: Store) -> None:
    owner = owner_key()
    by_name = await store.create_thread(owner, name="Paris itinerary")
    by_output = await store.create_thread(owner, name="Untitled")
    await store.upsert_step(
        record_from_item(message("assistant_message", "Visit the Louvre in PARIS."), by_output.id),
        owner=owner,
    )
    percent = await store.create_thread(owner, name="Growth of 100% in a year")
    await store.create_thread(owner, name="1000 reasons")
    await store.create_thread(owner_key(), name="Paris for someone else")

    async def found(text: str) -> set[str]:
        page = await store.list_threads(owner, filters=ThreadFilter(search=text))
        return {thread.id for thread in page.threads}

    assert await found("paris") == {by_name.id, by_output.id}
    assert await found("LOUVRE") == {by_output.id}
    assert await found("100%") == {percent.id}
    assert await found("0_") == set()
    assert await found("no such words") == set()
    assert len(await found("  ")) == 4  # blank search lists everything


async def test_feedback_filter(store: Store) -> None:
    owner = owner_key()
    liked, disliked, silent = [await store.create_thread(owner) for _ in range(3)]
    for thread, value in ((liked, 1), (disliked, 0), (silent, None)):
        answer = message("assistant_message", "A")
        await store.upsert_step(record_from_item(answer, thread.id), owner=owner)
        if value is not None:
            await store.upsert_feedback(answer.id, value, owner=owner)

    async def found(value: int) -> list[str]:
        page = await store.list_threads(owner, filters=ThreadFilter(feedback=value))
        return [thread.id for thread in page.threads]

    assert await found(1) == [liked.id]
    assert await found(0) == [disliked.id]


# -- many steps at once -----------------------------------------------------------------


async def test_upsert_steps_writes_many_chats_in_one_call(sql_store: SQLStore) -> None:
    mine, theirs = owner_key(), owner_key()
    first = await sql_store.create_thread(mine)
    second, third = uuid.uuid4().hex, uuid.uuid4().hex  # new chats: made on the way
    question = message(content="  Where is   Lisbon? ")
    answer = message("assistant_message", "", streaming=True)
    batch = [
        record_from_item(question, first.id),
        record_from_item(message(content="Hello"), third),
        record_from_item(answer, first.id),
        record_from_item(message(content="Second thread"), second),
    ]
    answer.content, answer.streaming = "In Portugal.", False
    batch.append(record_from_item(answer, first.id))  # the same step again: its last state wins

    await sql_store.upsert_steps(batch, owners={first.id: mine, second: mine, third: theirs})

    steps = await sql_store.get_thread_steps(first.id, owner=mine)
    assert [(s.id, s.output, s.streaming) for s in steps] == [
        (question.id, "  Where is   Lisbon? ", False),
        (answer.id, "In Portugal.", False),
    ]
    mine_listed = (await sql_store.list_threads(mine)).threads
    theirs_listed = (await sql_store.list_threads(theirs)).threads
    # The threads count as updated in the order of their last step, as if written one by one.
    assert [(t.id, t.name) for t in mine_listed] == [
        (first.id, "Where is Lisbon?"),
        (second, "Second thread"),
    ]
    assert [(t.id, t.name, t.owner) for t in theirs_listed] == [(third, "Hello", theirs)]
    later = record_from_item(message(content="Later"), second)
    await sql_store.upsert_steps([later], owners={second: mine})
    assert [t.id for t in (await sql_store.list_threads(mine)).threads] == [second, first.id]
    await sql_store.upsert_steps([], owners={})  # nothing to do
    with pytest.raises(ValueError, match="no owner given"):
        await sql_store.upsert_steps([later], owners={})


async def test_upsert_steps_stores_what_upsert_step_stores(sql_store: SQLStore) -> None:
    # On a SQLite file the batches go on a driver connection of their own, their values
    # converted as SQLAlchemy converts them: a step reads back the same either way.
    owner = owner_key()
    one, many = await sql_store.create_thread(owner), await sql_store.create_thread(owner)
    step = StepData(
        id="",
        name="search",
        type="tool",
        input='{"q": "Lisbon"}',
        output="Found \u2713 it",
        status="failed",
        show_input="json",
        language="json",
        started_at=1_700_000_000.25,
        ended_at=1_700_000_003.5,
        interrupted=True,
        generation={"provider": "openai", "messages": [{"role": "user", "content": "hi"}]},
    )
    shown = message("assistant_message", "Done.", parent_id="p", interrupted=True)

    def pair(item: Any, thread_id: str) -> StepRecord:
        return record_from_item(replace(item, id=f"{thread_id}-{item.type}"), thread_id)

    for item in (step, shown):
        await sql_store.upsert_step(pair(item, one.id), owner=owner)
    await sql_store.upsert_steps(
        [pair(step, many.id), pair(shown, many.id)], owners={many.id: owner}
    )
    await sql_store.update_outputs([(f"{many.id}-tool", many.id, "Later")], owners={many.id: owner})
    await sql_store.upsert_step(
        record_from_item(replace(step, id=f"{one.id}-tool", output="Later"), one.id), owner=owner
    )

    def stored(steps: list[StepRecord]) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in s.model_dump().items() if k not in ("id", "thread_id", "created_at")}
            for s in steps
        ]

    singly = await sql_store.get_thread_steps(one.id, owner=owner)
    batched = await sql_store.get_thread_steps(many.id, owner=owner)
    assert stored(batched) == stored(singly)
    tool = item_from_record(batched[0])
    assert isinstance(tool, StepData)
    assert tool.generation == step.generation
    direct = sql_store.engine.dialect.name == "sqlite"
    assert (sql_store._own is not None) is direct


async def test_update_threads_sets_what_is_given_of_the_owners_threads(
    sql_store: SQLStore,
) -> None:
    mine, theirs = owner_key(), owner_key()
    first = await sql_store.create_thread(mine, name="First", tags=["old"])
    second = await sql_store.create_thread(mine, metadata={"kept": True})
    other = await sql_store.create_thread(theirs, name="Theirs")
    before = {t.id: t.updated_at for t in (first, second)}

    await sql_store.update_threads(
        [
            ThreadFields(first.id, mine, tags=["a", "b"], metadata={"n": 1}, client_type="webapp"),
            ThreadFields(second.id, mine, name="Named by the app", tags=[]),
            ThreadFields(other.id, mine, name="Not mine", client_type="x"),  # another's
            ThreadFields(uuid.uuid4().hex, mine, name="Missing"),  # no such thread
            ThreadFields(second.id, mine, client_type="c" * 50),  # a field alone, cut to 40
        ]
    )

    one = await sql_store.get_thread(first.id, owner=mine)
    two = await sql_store.get_thread(second.id, owner=mine)
    untouched = await sql_store.get_thread(other.id, owner=theirs)
    assert one is not None
    assert two is not None
    assert untouched is not None
    assert (one.name, one.tags, one.meta, one.client_type) == (
        "First",
        ["a", "b"],
        {"n": 1},
        "webapp",
    )
    assert (two.name, two.tags, two.meta, two.client_type) == (
        "Named by the app",
        [],
        {"kept": True},
        "c" * 40,
    )
    assert (untouched.name, untouched.client_type) == ("Theirs", None)
    assert {t.id: t.updated_at for t in (one, two)} == before  # not activity
    await sql_store.update_threads([])  # nothing to do
    await sql_store.update_threads([ThreadFields(first.id, mine)])  # nothing given


async def test_a_single_select_on_sqlite_begins_no_transaction(
    migrated: Callable[[str], Database],
) -> None:
    store = SQLStore(migrated("sqlite").engine())
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement.split()[0])

    event.listen(store.engine.sync_engine, "before_cursor_execute", seen)
    try:
        owner = owner_key()
        thread = await store.create_thread(owner, name="Listed")
        statements.clear()
        page = await store.list_threads(owner)  # the sidebar of every chat page
        searched = await store.list_threads(owner, filters=ThreadFilter(search="List"))
        assert statements == ["SELECT", "SELECT"]
        assert [t.id for t in page.threads] == [t.id for t in searched.threads] == [thread.id]
        statements.clear()
        await store.load_thread(thread.id, owner=owner)  # several reads: one snapshot
        assert statements[0] == "BEGIN"
    finally:
        await store.close()


async def test_upsert_steps_is_all_or_nothing(sql_store: SQLStore) -> None:
    owner, intruder = owner_key(), owner_key()
    thread = await sql_store.create_thread(owner)
    other = await sql_store.create_thread(owner)
    taken = message(content="in the other thread")
    await sql_store.upsert_step(record_from_item(taken, other.id), owner=owner)
    before = (await sql_store.get_thread(thread.id, owner=owner)).updated_at  # type: ignore[union-attr]

    fresh, new_chat = message(content="never written"), uuid.uuid4().hex
    attempts = [
        # A step id of another thread.
        ([(fresh, thread.id), (taken, thread.id)], {thread.id: owner}, ConflictError),
        # Someone else's thread, after a new chat that would have been made.
        (
            [(message(), new_chat), (fresh, thread.id), (message(), other.id)],
            {new_chat: intruder, thread.id: owner, other.id: intruder},
            NotFoundError,
        ),
    ]
    for items, owners, error in attempts:
        with pytest.raises(error):
            await sql_store.upsert_steps(
                [record_from_item(item, thread_id) for item, thread_id in items], owners=owners
            )

    assert await sql_store.get_thread_steps(thread.id, owner=owner) == []
    assert [s.id for s in await sql_store.get_thread_steps(other.id, owner=owner)] == [taken.id]
    assert await sql_store.get_thread(new_chat, owner=None) is None  # its creation was undone
    after = await sql_store.get_thread(thread.id, owner=owner)
    assert after is not None
    assert (after.name, after.updated_at) == (None, before)


# -- concurrency ------------------------------------------------------------------------


async def test_concurrent_writers_to_one_thread(store: Store) -> None:
    owner = owner_key()
    thread = await store.create_thread(owner)
    items = [message("assistant_message", f"part {n}") for n in range(20)]
    await asyncio.gather(
        *(store.upsert_step(record_from_item(item, thread.id), owner=owner) for item in items)
    )
    steps = await store.get_thread_steps(thread.id, owner=owner)
    assert {step.id for step in steps} == {item.id for item in items}


# -- migrations -------------------------------------------------------------------------


async def test_records_match_migrations(database: Database) -> None:
    engine = database.engine()
    try:
        assert await current_revision(engine) == head_revision()
        assert await schema_differences(engine) == []
    finally:
        await engine.dispose()


def test_head_revision_is_the_newest_script() -> None:
    assert head_revision() == runner.script_head()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_upgrade_keeps_data_made_by_the_first_schema(
    kind: str, new_database: Callable[[str], Database]
) -> None:
    database = new_database(kind)
    engine = database.engine()
    try:
        await upgrade(engine, "0001")
        assert await current_revision(engine) == "0001"
        now = utcnow()
        async with engine.begin() as connection:
            await connection.execute(
                text(
                    "INSERT INTO lightchat_threads (id, owner, name, tags, metadata, created_at,"
                    " updated_at) VALUES ('t1', 'me', 'Old chat', '[\"x\"]', '{}', :now, :now)"
                ).bindparams(bindparam("now", type_=UTCDateTime())),
                {"now": now},
            )
            for n, (kind_, output) in enumerate(
                [("user_message", "Hi"), ("assistant_message", "Hello!")]
            ):
                await connection.execute(
                    text(
                        "INSERT INTO lightchat_steps (id, thread_id, name, type, input, output,"
                        " is_error, streaming, created_at, metadata) VALUES (:id, 't1', 'n',"
                        " :type, '', :output, false, false, :at, '{}')"
                    ).bindparams(bindparam("at", type_=UTCDateTime())),
                    {
                        "id": f"s{n}",
                        "type": kind_,
                        "output": output,
                        "at": now + timedelta(seconds=n),
                    },
                )
            await connection.execute(
                text(
                    "INSERT INTO lightchat_feedback (id, for_id, thread_id, value, created_at)"
                    " VALUES ('f1', 's1', 't1', 1, :now)"
                ).bindparams(bindparam("now", type_=UTCDateTime())),
                {"now": now},
            )

        await upgrade(engine)

        assert await current_revision(engine) == head_revision() == "0007"
        assert await schema_differences(engine) == []
        async with engine.connect() as connection:
            columns, indexes, thread_columns, step_indexes = await connection.run_sync(
                lambda sync: (
                    {c["name"] for c in inspect(sync).get_columns("lightchat_steps")},
                    {i["name"] for i in inspect(sync).get_indexes("lightchat_feedback")},
                    {c["name"] for c in inspect(sync).get_columns("lightchat_threads")},
                    {i["name"] for i in inspect(sync).get_indexes("lightchat_steps")},
                )
            )
        assert {"show_input", "favorite_at", "generation"} <= columns
        assert "ix_lightchat_steps_favorites" in step_indexes
        assert "shared_at" in thread_columns
        assert "ix_lightchat_feedback_thread_value" in indexes
        assert "ix_lightchat_feedback_thread_id" not in indexes

        store = SQLStore(engine)
        loaded = await store.load_thread("t1", owner="me")
        assert loaded is not None
        assert (loaded.thread.name, loaded.thread.tags) == ("Old chat", ["x"])
        assert loaded.thread.shared_at is None  # an old chat is not shared
        assert [(s.output, s.show_input) for s in loaded.steps] == [("Hi", None), ("Hello!", None)]
        assert [s.favorite_at for s in loaded.steps] == [None, None]  # no old one is marked
        assert [s.generation for s in loaded.steps] == [None, None]  # nor has a generation
        assert loaded.feedback["s1"].value == 1
        page = await store.list_threads("me", filters=ThreadFilter(feedback=1))
        assert [thread.id for thread in page.threads] == ["t1"]

        # ... and back down, and up again: the downgrade path works too.
        await downgrade(engine, "0001")
        assert await current_revision(engine) == "0001"
        await upgrade(engine)
        assert await store.get_thread_steps("t1", owner="me") != []
    finally:
        await engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
async def test_concurrent_starts_migrate_once(
    kind: str, new_database: Callable[[str], Database]
) -> None:
    database = new_database(kind)
    engines = [database.engine() for _ in range(3)]
    try:
        await asyncio.gather(*(upgrade(engine) for engine in engines))
        assert await current_revision(engines[0]) == head_revision()
    finally:
        for engine in engines:
            await engine.dispose()


async def test_a_database_from_a_newer_lightchat_is_refused(
    new_database: Callable[[str], Database],
) -> None:
    engine = new_database("sqlite").engine()
    try:
        await upgrade(engine)
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE lightchat_schema_version SET version_num='0999'"))
        with pytest.raises(StoreError, match="newer lightchat"):
            await upgrade(engine)
    finally:
        await engine.dispose()


async def test_open_migrates_a_new_database(new_database: Callable[[str], Database]) -> None:
    database = new_database("sqlite")
    store = await SQLStore.open(database.url)
    try:
        assert await current_revision(store.engine) == head_revision()
        thread = await store.create_thread("me")
        assert await store.get_thread(thread.id, owner="me") is not None
    finally:
        await store.close()


# -- engine -----------------------------------------------------------------------------


def test_database_urls() -> None:
    assert database_url("postgres://me@db/chat").drivername == "postgresql+asyncpg"
    assert database_url("postgresql://me@db/chat").drivername == "postgresql+asyncpg"
    assert database_url("postgresql+psycopg://me@db/chat").drivername == "postgresql+psycopg"
    assert database_url("sqlite:///chat.db").drivername == "sqlite+aiosqlite"
    assert default_database_url(Path("/srv/app")) == (
        "sqlite+aiosqlite:////srv/app/.lightchat/chat.db"
    )
    with pytest.raises(ConfigError, match="SQLite or PostgreSQL"):
        database_url("mysql://me@db/chat")
    with pytest.raises(ConfigError, match="Cannot read"):
        database_url("not a url")
    with pytest.raises(ConfigError, match="PostgreSQL"):
        make_engine("sqlite:///chat.db", schema="x")


async def test_sqlite_engine_creates_its_folder_and_sets_wal_and_foreign_keys(
    tmp_path: Path,
) -> None:
    path = f"{tmp_path}/deep/er/chat.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        async with engine.connect() as connection:
            mode = (await connection.exec_driver_sql("PRAGMA journal_mode")).scalar()
            keys = (await connection.exec_driver_sql("PRAGMA foreign_keys")).scalar()
        assert (mode, keys) == ("wal", 1)
        assert await asyncio.to_thread(os.path.exists, path)
    finally:
        await engine.dispose()
