"""email templates: an organiser's own subject and body per event, kind of e-mail and language (SPEC §12)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 17:20:00

One new table and nothing else changed, so it runs the same on SQLite and PostgreSQL and over a database that
already holds events and registrations (tests/webinar/test_migration_email_templates.py migrates one).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "email_templates",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("event_id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=254), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("language IN ('ro', 'en')", name=op.f("ck_email_templates_language")),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_email_templates_event_id_events"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_templates")),
        sa.UniqueConstraint("event_id", "kind", "language", name="uq_email_templates_event_kind_language"),
    )


def downgrade() -> None:
    op.drop_table("email_templates")
