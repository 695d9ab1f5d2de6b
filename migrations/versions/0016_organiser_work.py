"""organisers' work: organisations.organisers_edit_events, event_messages, outbox.event_message_id

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 22:45:00.000000

The same on both engines. Every existing organisation keeps what its organisers could do until now (the setting is
off); `event_messages` starts empty, and no e-mail already queued belongs to one (the outbox column is NULL).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("organisers_edit_events", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.create_table(
        "event_messages",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("event_id", BigId, nullable=False),
        sa.Column("audience", sa.String(length=20), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("sent_by", BigId, nullable=True),
        sa.Column("sent_by_email", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_event_messages_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["sent_by"], ["staff_users.id"], name=op.f("fk_event_messages_sent_by_staff_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_messages")),
    )
    op.create_index("ix_event_messages_event", "event_messages", ["event_id"], unique=False)
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("event_message_id", BigId, nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_outbox_event_message_id_event_messages"),
            "event_messages",
            ["event_message_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("fk_outbox_event_message_id_event_messages"), type_="foreignkey")
        batch_op.drop_column("event_message_id")
    op.drop_index("ix_event_messages_event", table_name="event_messages")
    op.drop_table("event_messages")
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.drop_column("organisers_edit_events")
