"""crowds: the spent proof-of-work solutions (SPEC §15)

Revision ID: 0012
Revises: 0009
Create Date: 2026-12-04 19:00:00.000000

The same on both engines: a new, empty table `proof_solutions` (each ALTCHA challenge accepted once, kept until it
expires).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0012"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proof_solutions",
        sa.Column("challenge", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("challenge", name=op.f("pk_proof_solutions")),
    )
    op.create_index("ix_proof_solutions_expires_at", "proof_solutions", ["expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_proof_solutions_expires_at", table_name="proof_solutions")
    op.drop_table("proof_solutions")
