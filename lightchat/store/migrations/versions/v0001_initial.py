"""The first schema: users, threads, steps, elements, feedback.

Revision ID: 0001
Revises:
Created: 2026-11-24

A migration is a snapshot: it spells out its column types instead of importing the records,
so that changing ``records.py`` later cannot change what this step does.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _time(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "lightchat_users",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("identifier", sa.String(), nullable=False),
        sa.Column("display_name", sa.String(), nullable=True),
        sa.Column("metadata", JSON, nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_lightchat_users"),
        sa.UniqueConstraint("identifier", name="uq_lightchat_users_identifier"),
    )
    op.create_table(
        "lightchat_threads",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("user_id", sa.String(), nullable=True),
        sa.Column("name", sa.String(), nullable=True),
        sa.Column("tags", JSON, nullable=False),
        sa.Column("metadata", JSON, nullable=False),
        _time("created_at"),
        _time("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_lightchat_threads"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["lightchat_users.id"],
            name="fk_lightchat_threads_user_id_lightchat_users",
            ondelete="SET NULL",
        ),
    )
    op.create_index(
        "ix_lightchat_threads_owner_recent", "lightchat_threads", ["owner", "updated_at", "id"]
    )
    op.create_index("ix_lightchat_threads_user_id", "lightchat_threads", ["user_id"])
    op.create_table(
        "lightchat_steps",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("thread_id", sa.String(), nullable=False),
        sa.Column("parent_id", sa.String(), nullable=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("input", sa.Text(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("language", sa.String(), nullable=True),
        sa.Column("is_error", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("streaming", sa.Boolean(), nullable=False),
        _time("created_at"),
        _time("started_at", nullable=True),
        _time("ended_at", nullable=True),
        sa.Column("metadata", JSON, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_lightchat_steps"),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["lightchat_threads.id"],
            name="fk_lightchat_steps_thread_id_lightchat_threads",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_lightchat_steps_thread_created", "lightchat_steps", ["thread_id", "created_at"]
    )
    op.create_table(
        "lightchat_elements",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("thread_id", sa.String(), nullable=False),
        sa.Column("for_id", sa.String(), nullable=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("type", sa.String(), nullable=False),
        sa.Column("mime", sa.String(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("storage_key", sa.String(), nullable=True),
        sa.Column("display", sa.String(), nullable=False),
        sa.Column("url", sa.String(), nullable=True),
        sa.Column("metadata", JSON, nullable=False),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_lightchat_elements"),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["lightchat_threads.id"],
            name="fk_lightchat_elements_thread_id_lightchat_threads",
            ondelete="CASCADE",
        ),
    )
    op.create_index(
        "ix_lightchat_elements_thread_for", "lightchat_elements", ["thread_id", "for_id"]
    )
    op.create_table(
        "lightchat_feedback",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("for_id", sa.String(), nullable=False),
        sa.Column("thread_id", sa.String(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        _time("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_lightchat_feedback"),
        sa.CheckConstraint("value IN (0, 1)", name=op.f("ck_lightchat_feedback_value")),
        sa.UniqueConstraint("for_id", name="uq_lightchat_feedback_for_id"),
        sa.ForeignKeyConstraint(
            ["for_id"],
            ["lightchat_steps.id"],
            name="fk_lightchat_feedback_for_id_lightchat_steps",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["thread_id"],
            ["lightchat_threads.id"],
            name="fk_lightchat_feedback_thread_id_lightchat_threads",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_lightchat_feedback_thread_id", "lightchat_feedback", ["thread_id"])


def downgrade() -> None:
    for table in (
        "lightchat_feedback",
        "lightchat_elements",
        "lightchat_steps",
        "lightchat_threads",
        "lightchat_users",
    ):
        op.drop_table(table)
