"""waiting list: events.waitlist, and the `waitlisted` registration status

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 10:30:00.000000

The same on both engines over a database that already has registrations: a new column with a server default (every
existing event: no waiting list), and the status CHECK constraint replaced by one that also allows `waitlisted`
(every existing status is still allowed, so PostgreSQL's validation of the new constraint passes; SQLite rebuilds
the table in batch mode, copying its rows, with foreign keys off as Alembic's connection has them).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

OLD = ("pending", "approved", "rejected", "cancelled")
NEW = ("pending", "approved", "rejected", "waitlisted", "cancelled")


def _status_check(statuses: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{s}'" for s in statuses) + ")"


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("waitlist", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_registrations_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_registrations_status"), _status_check(NEW))


def downgrade() -> None:
    # A waitlisted registration had no seat: going back, it is a cancelled one.
    op.execute(sa.text("UPDATE registrations SET status = 'cancelled' WHERE status = 'waitlisted'"))
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_registrations_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_registrations_status"), _status_check(OLD))
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("waitlist")
