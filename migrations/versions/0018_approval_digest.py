"""staff account: staff_users.approval_digest (on by default), approval_digest_on, device_generation;
ix_registrations_pending

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 23:00:00.000000

The same on both engines. Every existing account gets the daily digest of registrations waiting for approval (it
can turn it off on "My account") and has had none yet (`approval_digest_on` NULL). The partial index of pending
registrations serves the back office's badge, counted on every page. `device_generation` starts at 0, which keeps
every device cookie given before the upgrade good (admin/signin.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("approval_digest", sa.Boolean(), server_default=sa.true(), nullable=False))
        batch_op.add_column(sa.Column("approval_digest_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("device_generation", sa.Integer(), server_default="0", nullable=False))
    pending = sa.text("status = 'pending'")
    op.create_index(
        "ix_registrations_pending", "registrations", ["event_id"], postgresql_where=pending, sqlite_where=pending
    )


def downgrade() -> None:
    op.drop_index("ix_registrations_pending", table_name="registrations")
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_column("device_generation")
        batch_op.drop_column("approval_digest_on")
        batch_op.drop_column("approval_digest")
