"""Threads remember when their owner shared them.

Revision ID: 0003
Revises: 0002
Created: 2026-12-18

- ``lightchat_threads.shared_at`` (nullable: existing threads are not shared). A thread is
  shared while it holds a time; stopping sharing sets it back to NULL.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "lightchat_threads", sa.Column("shared_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    # A plain DROP COLUMN, on SQLite too (3.35 and later): a batch would copy the table and
    # drop the old one, and dropping it deletes every step of every thread (ON DELETE
    # CASCADE, with foreign keys on for the whole migration).
    op.drop_column("lightchat_threads", "shared_at")
