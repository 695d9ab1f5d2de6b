"""attendance: thresholds, presence checks and replay on events; the kind of a viewing session; presence_checks

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 17:20:00.000000

The same on both engines over a database that already has events and viewing sessions: new event columns with
server defaults (every existing event: no threshold, no presence checks, no replay), `viewing_sessions.kind` with the
default `live` (every session so far was of the live stream), and the new `presence_checks` table. SQLite rebuilds
the tables in batch mode to add the CHECK constraints, copying their rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("attendance_minutes", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("presence_checks", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("replay_url", sa.String(length=2000), server_default="", nullable=False))
        batch_op.add_column(sa.Column("replay_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_events_attendance_minutes"), "attendance_minutes IS NULL OR attendance_minutes >= 0"
        )
        batch_op.create_check_constraint(op.f("ck_events_presence_checks"), "presence_checks BETWEEN 0 AND 20")
    with op.batch_alter_table("viewing_sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("kind", sa.String(length=10), server_default="live", nullable=False))
        batch_op.create_check_constraint(op.f("ck_viewing_sessions_kind"), "kind IN ('live', 'replay')")
    op.create_table(
        "presence_checks",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("event_id", BigId, nullable=False),
        sa.Column("registration_id", BigId, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answer_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("shown_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_presence_checks_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_presence_checks_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_presence_checks")),
        sa.UniqueConstraint("registration_id", "number", name="uq_presence_checks_registration_number"),
    )
    op.create_index("ix_presence_checks_event", "presence_checks", ["event_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_presence_checks_event", table_name="presence_checks")
    op.drop_table("presence_checks")
    with op.batch_alter_table("viewing_sessions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_viewing_sessions_kind"), type_="check")
        batch_op.drop_column("kind")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_events_presence_checks"), type_="check")
        batch_op.drop_constraint(op.f("ck_events_attendance_minutes"), type_="check")
        batch_op.drop_column("replay_until")
        batch_op.drop_column("replay_url")
        batch_op.drop_column("presence_checks")
        batch_op.drop_column("attendance_minutes")
