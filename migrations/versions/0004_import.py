"""import: consent basis `imported` with who imported, and the uploads kept between preview and confirmation

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 17:30:00.000000

The same on both engines over a database that already has registrations: `consent_records` gains `recorded_by`
(the staff member who imported the person; NULL for every existing record, which the person gave themselves) and
its action CHECK is replaced by one that also allows `imported` (every existing action is still allowed, so
PostgreSQL's validation passes; SQLite rebuilds the table in batch mode, copying its rows). A new table holds an
upload between its preview and its confirmation (SPEC §11, registration/imports.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OLD = ("given", "withdrawn")
NEW = ("given", "withdrawn", "imported")


def _action_check(actions: tuple[str, ...]) -> str:
    return "action IN (" + ", ".join(f"'{a}'" for a in actions) + ")"


def upgrade() -> None:
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recorded_by", BigId, nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_consent_records_recorded_by_staff_users"), "staff_users", ["recorded_by"], ["id"],
            ondelete="SET NULL",
        )  # fmt: skip
        batch_op.drop_constraint(op.f("ck_consent_records_action"), type_="check")
        batch_op.create_check_constraint(op.f("ck_consent_records_action"), _action_check(NEW))
    op.create_table(
        "import_uploads",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("event_id", BigId, nullable=False),
        sa.Column("staff_user_id", BigId, nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("plan_sha256", sa.String(length=64), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("cells", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_import_uploads_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["staff_user_id"], ["staff_users.id"], name=op.f("fk_import_uploads_staff_user_id_staff_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_uploads")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_import_uploads_token_hash")),
    )  # fmt: skip
    with op.batch_alter_table("import_uploads", schema=None) as batch_op:
        batch_op.create_index("ix_import_uploads_event", ["event_id"], unique=False)
        batch_op.create_index("ix_import_uploads_expires", ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("import_uploads", schema=None) as batch_op:
        batch_op.drop_index("ix_import_uploads_expires")
        batch_op.drop_index("ix_import_uploads_event")
    op.drop_table("import_uploads")
    # Going back, an imported person's record of how they came in can no longer be told apart: it is removed, and
    # the registration itself stays (the audit log keeps the import).
    op.execute(sa.text("DELETE FROM consent_records WHERE action = 'imported'"))
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_consent_records_action"), type_="check")
        batch_op.create_check_constraint(op.f("ck_consent_records_action"), _action_check(OLD))
        batch_op.drop_constraint(op.f("fk_consent_records_recorded_by_staff_users"), type_="foreignkey")
        batch_op.drop_column("recorded_by")
