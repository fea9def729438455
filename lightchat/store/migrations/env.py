"""Alembic's entry point, run by ``lightchat.store.migrate`` (never imported on its own).

The migration runner hands over an open connection, already inside the transaction (and,
on PostgreSQL, the advisory lock) that it holds: every pending migration runs in that one
transaction, so an upgrade applies whole or not at all.
"""

from __future__ import annotations

from alembic import context

from lightchat.store.records import METADATA, VERSION_TABLE

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "lightchat's migrations run through lightchat.store.migrate.upgrade(engine), "
        "which passes the connection to use; the alembic command line is not wired up."
    )
context.configure(
    connection=connection,
    target_metadata=METADATA,
    version_table=VERSION_TABLE,
    render_as_batch=True,  # SQLite changes most columns by copying the table
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
