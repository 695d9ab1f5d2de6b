"""reminders and follow-ups: events.reminders, events.followup_after_minutes, outbox.expires_at, scheduled_emails

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 17:30:00.000000

The same on both engines over a database that already has events and registrations. Every event gets the default
reminders (`1440,60`) and follow-up (60 minutes after the end) from the columns' server defaults — but only for
what is still ahead of it: an event that has already started gets no reminders and one that has already ended no
follow-up, so upgrading never sends anything about the past (a follow-up for last month's webinar). New events get
the defaults. The queue of what was sent (`scheduled_emails`) starts empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminders", sa.String(length=100), server_default="1440,60", nullable=False))
        batch_op.add_column(sa.Column("followup_after_minutes", sa.Integer(), server_default="60", nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_events_followup"), "followup_after_minutes IS NULL OR followup_after_minutes >= 0"
        )
    # CURRENT_TIMESTAMP is UTC on both engines, and SQLite's text form of it sorts with the stored times.
    op.execute(sa.text("UPDATE events SET reminders = '' WHERE starts_at <= CURRENT_TIMESTAMP"))
    op.execute(sa.text("UPDATE events SET followup_after_minutes = NULL WHERE ends_at <= CURRENT_TIMESTAMP"))
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "scheduled_emails",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("registration_id", BigId, nullable=False),
        sa.Column("event_id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("offset_minutes", sa.Integer(), nullable=False),
        sa.Column("batch", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('reminder', 'followup')", name=op.f("ck_scheduled_emails_kind")),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_scheduled_emails_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_scheduled_emails_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scheduled_emails")),
        sa.UniqueConstraint("registration_id", "kind", "offset_minutes", name="uq_scheduled_emails_once"),
    )
    op.create_index("ix_scheduled_emails_batch", "scheduled_emails", ["batch"], unique=False)
    op.create_index("ix_scheduled_emails_event", "scheduled_emails", ["event_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_scheduled_emails_event", table_name="scheduled_emails")
    op.drop_index("ix_scheduled_emails_batch", table_name="scheduled_emails")
    op.drop_table("scheduled_emails")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_column("expires_at")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_events_followup"), type_="check")
        batch_op.drop_column("followup_after_minutes")
        batch_op.drop_column("reminders")
