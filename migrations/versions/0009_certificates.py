"""certificates: credits, certificates and certificate_series on events; the certificates table (the register)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 18:40:00.000000

The same on both engines over a database that already has events: the new event columns have server defaults
(every existing event: no credits, no certificates, no series), and the new `certificates` table starts empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("credits", sa.String(length=200), server_default="", nullable=False))
        batch_op.add_column(sa.Column("certificates", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("certificate_series", sa.String(length=40), server_default="", nullable=False))
    op.create_table(
        "certificates",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("event_id", BigId, nullable=False),
        sa.Column("registration_id", BigId, nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=80), nullable=False),
        sa.Column("full_name", sa.String(length=300), nullable=True),
        sa.Column("member_id", sa.String(length=200), nullable=True),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=320), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.CheckConstraint("sequence >= 1", name=op.f("ck_certificates_sequence")),
        sa.CheckConstraint(
            "(revoked_at IS NULL) = (revoked_by IS NULL)", name=op.f("ck_certificates_revoked_by_whom")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_certificates_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["registration_id"],
            ["registrations.id"],
            name=op.f("fk_certificates_registration_id_registrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("number", name="uq_certificates_number"),
        sa.UniqueConstraint("event_id", "sequence", name="uq_certificates_event_sequence"),
        sa.UniqueConstraint("registration_id", name="uq_certificates_registration"),
    )


def downgrade() -> None:
    op.drop_table("certificates")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("certificate_series")
        batch_op.drop_column("certificates")
        batch_op.drop_column("credits")
