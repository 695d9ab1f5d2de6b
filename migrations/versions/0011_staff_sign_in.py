"""staff sign-in: attendee passwords set on the unverified registration form are cleared

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-04 19:00:00.000000

The same on both engines. Until now the registration form offered a password, so anyone could set one for an
address they did not own; from now on an attendee sets it on /me, after a join link has proven the mailbox. Every
password set the old way is cleared (the join link keeps working; the attendee sets one again on /me). There is no
way back for the hashes: downgrading leaves them cleared.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    registrations = sa.table("registrations", sa.column("password_hash", sa.String(255)))
    op.execute(registrations.update().where(registrations.c.password_hash.is_not(None)).values(password_hash=None))


def downgrade() -> None:
    pass  # a cleared hash cannot come back; the column itself is unchanged
