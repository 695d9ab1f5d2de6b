"""crowds: the spent proof-of-work solutions; double opt-in and devices per event; `unconfirmed`; `taken_over`

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 19:00:00.000000

The same on both engines over a database that already has events, registrations and viewing sessions (SPEC §15): a
new, empty table `proof_solutions` (each ALTCHA challenge accepted once, kept until it expires); two event columns
with server defaults (every existing event: no double opt-in, one device); the registration status CHECK replaced by
one that also allows `unconfirmed` (the column widened to 20 characters), and the viewing sessions' end-reason CHECK by one that also allows `taken_over`
(every existing value is still allowed; SQLite rebuilds the tables in batch mode, copying their rows).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

OLD_STATUSES = ("pending", "approved", "rejected", "waitlisted", "cancelled")
NEW_STATUSES = ("unconfirmed", *OLD_STATUSES)
OLD_REASONS = ("logout", "left", "timeout")
NEW_REASONS = (*OLD_REASONS, "taken_over")


def _in(column: str, values: tuple[str, ...], nullable: bool = False) -> str:
    listed = f"{column} IN (" + ", ".join(f"'{v}'" for v in values) + ")"
    return f"{column} IS NULL OR {listed}" if nullable else listed


def _checks(statuses: tuple[str, ...], reasons: tuple[str, ...], length: int) -> None:
    with op.batch_alter_table("registrations", schema=None) as batch_op:
        batch_op.alter_column("status", type_=sa.String(length=length), existing_nullable=False)
        batch_op.drop_constraint(op.f("ck_registrations_status"), type_="check")
        batch_op.create_check_constraint(op.f("ck_registrations_status"), _in("status", statuses))
    with op.batch_alter_table("viewing_sessions", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_viewing_sessions_end_reason"), type_="check")
        batch_op.create_check_constraint(
            op.f("ck_viewing_sessions_end_reason"), _in("end_reason", reasons, nullable=True)
        )


def upgrade() -> None:
    op.create_table(
        "proof_solutions",
        sa.Column("challenge", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("challenge", name=op.f("pk_proof_solutions")),
    )
    op.create_index("ix_proof_solutions_expires_at", "proof_solutions", ["expires_at"], unique=False)
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("confirm_email", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("devices", sa.Integer(), server_default="1", nullable=False))
        batch_op.create_check_constraint(op.f("ck_events_devices"), "devices BETWEEN 1 AND 10")
    _checks(NEW_STATUSES, NEW_REASONS, 20)  # `unconfirmed` is 11 characters


def downgrade() -> None:
    # Going back, an unconfirmed registration never was one, and a session taken over simply was left.
    op.execute(sa.text("UPDATE registrations SET status = 'cancelled' WHERE status = 'unconfirmed'"))
    op.execute(sa.text("UPDATE viewing_sessions SET end_reason = 'left' WHERE end_reason = 'taken_over'"))
    _checks(OLD_STATUSES, OLD_REASONS, 10)
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_events_devices"), type_="check")
        batch_op.drop_column("devices")
        batch_op.drop_column("confirm_email")
    op.drop_index("ix_proof_solutions_expires_at", table_name="proof_solutions")
    op.drop_table("proof_solutions")
