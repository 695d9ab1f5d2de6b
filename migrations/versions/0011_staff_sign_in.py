"""staff sign-in: two-factor (TOTP) columns on staff_users, their recovery codes; attendee passwords cleared

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 19:00:00.000000

The same on both engines. staff_users gets `totp_secret`, `totp_confirmed_at` and `totp_last_step` (NULL for every
existing account: no one has two-factor sign-in yet), and the new `staff_recovery_codes` table starts empty.

Until now the registration form offered a password, so anyone could set one for an
address they did not own; from now on an attendee sets it on /me, after a join link has proven the mailbox. Every
password set the old way is cleared (the join link keeps working; the attendee sets one again on /me). There is no
way back for the hashes: downgrading leaves them cleared.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("totp_confirmed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
    op.create_table(
        "staff_recovery_codes",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("staff_user_id", BigId, nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["staff_user_id"],
            ["staff_users.id"],
            name=op.f("fk_staff_recovery_codes_staff_user_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_staff_recovery_codes")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_staff_recovery_codes_code_hash")),
    )
    op.create_index("ix_staff_recovery_codes_staff", "staff_recovery_codes", ["staff_user_id"], unique=False)
    registrations = sa.table("registrations", sa.column("password_hash", sa.String(255)))
    op.execute(registrations.update().where(registrations.c.password_hash.is_not(None)).values(password_hash=None))


def downgrade() -> None:
    # A cleared attendee password cannot come back (the column itself is unchanged).
    op.drop_table("staff_recovery_codes")
    with op.batch_alter_table("staff_users", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
        batch_op.drop_column("totp_confirmed_at")
        batch_op.drop_column("totp_secret")
