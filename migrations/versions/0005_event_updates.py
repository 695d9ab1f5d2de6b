"""event updates and cancellation: events.status, cancelled_at, ics_sequence; outbox `dead` becomes `failed`

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 17:15:00.000000

The same on both engines over a database that already has events and e-mails: the new event columns come with server
defaults (every existing event: scheduled, its calendar entries at SEQUENCE 0, which is what their invitations
carried), the outbox's final state is renamed `failed` (its rows updated before the CHECK constraint that names it
is swapped in), and an index finds an event's e-mails of one kind (a new update supersedes the queued ones). SQLite
rebuilds the tables in batch mode, copying their rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

OLD_OUTBOX = ("queued", "sending", "sent", "dead", "cancelled")
NEW_OUTBOX = ("queued", "sending", "sent", "failed", "cancelled")


def _in(statuses: tuple[str, ...]) -> str:
    return "status IN (" + ", ".join(f"'{s}'" for s in statuses) + ")"


def _outbox_states(new: tuple[str, ...], before: str, after: str) -> None:
    """Rename one outbox state: the old CHECK constraint off, the rows renamed, the new one on."""
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbox_status"), type_="check")
    op.execute(sa.text(f"UPDATE outbox SET status = '{after}' WHERE status = '{before}'"))  # noqa: S608 - constants
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_check_constraint(op.f("ck_outbox_status"), _in(new))


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=10), server_default="scheduled", nullable=False))
        batch_op.add_column(sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("ics_sequence", sa.Integer(), server_default="0", nullable=False))
        batch_op.create_check_constraint(op.f("ck_events_status"), "status IN ('scheduled', 'cancelled')")
        batch_op.create_check_constraint(
            op.f("ck_events_cancelled_when"), "(status = 'cancelled') = (cancelled_at IS NOT NULL)"
        )
        batch_op.create_check_constraint(op.f("ck_events_ics_sequence"), "ics_sequence >= 0")
    _outbox_states(NEW_OUTBOX, "dead", "failed")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_event_kind", ["event_id", "kind", "status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_event_kind")
    _outbox_states(OLD_OUTBOX, "failed", "dead")
    # A cancelled event goes back to being an ordinary one: the schema before this revision cannot say otherwise.
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_events_ics_sequence"), type_="check")
        batch_op.drop_constraint(op.f("ck_events_cancelled_when"), type_="check")
        batch_op.drop_constraint(op.f("ck_events_status"), type_="check")
        batch_op.drop_column("ics_sequence")
        batch_op.drop_column("cancelled_at")
        batch_op.drop_column("status")
