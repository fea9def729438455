"""Users mark their messages as favourites.

Revision ID: 0004
Revises: 0003
Created: 2026-12-19

- ``lightchat_steps.favorite_at`` (nullable: no existing message is a favourite): when the
  thread's owner marked the message; unmarking sets it back to NULL.
- ``ix_lightchat_steps_favorites`` on ``(thread_id, created_at)``, partial (``WHERE
  favorite_at IS NOT NULL``): a user's favourites are found among the marked steps only.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_MARKED = sa.text("favorite_at IS NOT NULL")


def upgrade() -> None:
    op.add_column(
        "lightchat_steps", sa.Column("favorite_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.create_index(
        "ix_lightchat_steps_favorites",
        "lightchat_steps",
        ["thread_id", "created_at"],
        sqlite_where=_MARKED,
        postgresql_where=_MARKED,
    )


def downgrade() -> None:
    op.drop_index("ix_lightchat_steps_favorites", table_name="lightchat_steps")
    # A plain DROP COLUMN, on SQLite too (3.35 and later): a batch would copy the table and
    # drop the old one, and dropping it deletes every feedback of every step (ON DELETE
    # CASCADE, with foreign keys on for the whole migration).
    op.drop_column("lightchat_steps", "favorite_at")
