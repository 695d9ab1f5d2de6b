"""consent languages: each consent text in a language (ro or en); each consent record names the language it ticked

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 23:00:00.000000

The same on both engines over a database that already has events, consent texts and consent records: every existing
consent text becomes its event's language's text (it was the one text, in the event's language), and every existing
record of a consent text names that language. Versions stay numbered per event (a version names one wording), so
nothing is renumbered. SQLite rebuilds the tables in batch mode, copying their rows.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("consent_texts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=2), server_default="ro", nullable=False))
    op.execute(
        sa.text("UPDATE consent_texts SET language = (SELECT e.language FROM events e WHERE e.id = consent_texts.event_id)")
    )
    with op.batch_alter_table("consent_texts", schema=None) as batch_op:
        batch_op.alter_column("language", server_default=None, existing_type=sa.String(length=2), existing_nullable=False)
        batch_op.create_check_constraint(op.f("ck_consent_texts_language"), "language IN ('ro', 'en')")
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("text_language", sa.String(length=2), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_consent_records_text_language"), "text_language IS NULL OR text_language IN ('ro', 'en')"
        )
    op.execute(
        sa.text(
            "UPDATE consent_records SET text_language = (SELECT t.language FROM consent_texts t"
            " WHERE t.id = consent_records.consent_text_id) WHERE consent_text_id IS NOT NULL"
        )
    )


def downgrade() -> None:
    # Going back to one text per event: the event's language's versions are its texts; the other language's are
    # dropped only where no consent record names them (a record keeps its proof, and its text stays beside it).
    op.execute(
        sa.text(
            "DELETE FROM consent_texts WHERE language <> (SELECT e.language FROM events e"
            " WHERE e.id = consent_texts.event_id) AND id NOT IN"
            " (SELECT consent_text_id FROM consent_records WHERE consent_text_id IS NOT NULL)"
        )
    )
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_consent_records_text_language"), type_="check")
        batch_op.drop_column("text_language")
    with op.batch_alter_table("consent_texts", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_consent_texts_language"), type_="check")
        batch_op.drop_column("language")
