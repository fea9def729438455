"""The operators' analytics: what a thread was opened from, and indexes for the figures.

Revision ID: 0007
Revises: 0006
Created: 2027-02-02

- ``lightchat_threads.client_type`` (nullable: older threads do not say): the client the
  chat ran in (``webapp``, ``copilot``...), as ``user_session["client_type"]`` gives it,
  written with the thread's tags at the end of a run.
- Indexes for the analytics page's figures, each over the time it counts by:
  ``ix_lightchat_threads_created`` (chats per day), ``ix_lightchat_steps_type_created``
  (messages per day, and the questions' times: it holds the columns those read, so
  they are counted from the index alone), ``ix_lightchat_steps_errors`` (failed
  steps and error messages, partial: ``is_error``), ``ix_lightchat_steps_generations``
  (token usage, partial: ``generation IS NOT NULL``) and
  ``ix_lightchat_feedback_created`` (feedback per day, and the newest comments).

Nothing else changes: a question's row (a ``user_message``) already has ``started_at`` and
``ended_at`` columns, unused until now; the history writes there when the first text of
its answer appeared and when its run ended (see ``records.StepRecord``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ERRORS = sa.text("is_error")
_GENERATIONS = sa.text("generation IS NOT NULL")


def upgrade() -> None:
    op.add_column("lightchat_threads", sa.Column("client_type", sa.String(), nullable=True))
    op.create_index("ix_lightchat_threads_created", "lightchat_threads", ["created_at"])
    op.create_index(
        "ix_lightchat_steps_type_created",
        "lightchat_steps",
        ["type", "created_at", "thread_id", "started_at", "ended_at"],
    )
    op.create_index(
        "ix_lightchat_steps_errors",
        "lightchat_steps",
        ["created_at"],
        sqlite_where=_ERRORS,
        postgresql_where=_ERRORS,
    )
    op.create_index(
        "ix_lightchat_steps_generations",
        "lightchat_steps",
        ["created_at"],
        sqlite_where=_GENERATIONS,
        postgresql_where=_GENERATIONS,
    )
    op.create_index("ix_lightchat_feedback_created", "lightchat_feedback", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_lightchat_feedback_created", table_name="lightchat_feedback")
    op.drop_index("ix_lightchat_steps_generations", table_name="lightchat_steps")
    op.drop_index("ix_lightchat_steps_errors", table_name="lightchat_steps")
    op.drop_index("ix_lightchat_steps_type_created", table_name="lightchat_steps")
    op.drop_index("ix_lightchat_threads_created", table_name="lightchat_threads")
    # A plain DROP COLUMN, on SQLite too, as in 0003 (a batch would cascade).
    op.drop_column("lightchat_threads", "client_type")
