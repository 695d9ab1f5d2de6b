"""outbox, webhook_deliveries: the claim indexes end with the id, as the senders' claims order by (next_attempt_at, id)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 23:30:00.000000

The same on both engines. A claim takes the first few due messages `ORDER BY next_attempt_at, id`; with the index on
(status, next_attempt_at) alone, PostgreSQL read and sorted every queued message for each claim when many share one
moment (a reminder to 50,000 people: 89 ms a claim of ten, against 0.8 ms with the id in the index). The webhook
sender claims its deliveries the same way (the attendance of a large event is one delivery per registrant).
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


CLAIMED = (("ix_outbox_due", "outbox"), ("ix_webhook_deliveries_due", "webhook_deliveries"))


def upgrade() -> None:
    for index, table in CLAIMED:
        op.drop_index(index, table_name=table)
        op.create_index(index, table, ["status", "next_attempt_at", "id"])


def downgrade() -> None:
    for index, table in CLAIMED:
        op.drop_index(index, table_name=table)
        op.create_index(index, table, ["status", "next_attempt_at"])
