"""evaluation: the final evaluation (SPEC §13) — evaluation and evaluation_pass_mark on events; its questions,
options, results and answers

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 19:00:00.000000

The same on both engines over a database that already has events: the new event columns have server defaults (every
existing event: no evaluation, a pass mark of 70 %), and the four new tables start empty.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete="CASCADE"
    )


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("evaluation", sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column("evaluation_pass_mark", sa.Integer(), server_default="70", nullable=False))
        batch_op.create_check_constraint(
            op.f("ck_events_evaluation_pass_mark"), "evaluation_pass_mark BETWEEN 1 AND 100"
        )
    op.create_table(
        "evaluation_questions",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("event_id", BigId, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=1000), nullable=False),
        _fk("evaluation_questions", "event_id", "events"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_questions")),
        sa.UniqueConstraint("event_id", "position", name="uq_evaluation_questions_event_position"),
    )
    op.create_table(
        "evaluation_options",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("question_id", BigId, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=False),
        _fk("evaluation_options", "question_id", "evaluation_questions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_options")),
        sa.UniqueConstraint("question_id", "position", name="uq_evaluation_options_question_position"),
    )
    op.create_table(
        "evaluation_results",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("event_id", BigId, nullable=False),
        sa.Column("registration_id", BigId, nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("score BETWEEN 0 AND 100", name=op.f("ck_evaluation_results_score")),
        _fk("evaluation_results", "event_id", "events"),
        _fk("evaluation_results", "registration_id", "registrations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_results")),
        sa.UniqueConstraint("registration_id", name="uq_evaluation_results_registration"),
    )
    op.create_index("ix_evaluation_results_event", "evaluation_results", ["event_id"], unique=False)
    op.create_table(
        "evaluation_answers",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("registration_id", BigId, nullable=False),
        sa.Column("option_id", BigId, nullable=False),
        _fk("evaluation_answers", "registration_id", "registrations"),
        _fk("evaluation_answers", "option_id", "evaluation_options"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_evaluation_answers")),
        sa.UniqueConstraint("registration_id", "option_id", name="uq_evaluation_answers_registration_option"),
    )
    op.create_index("ix_evaluation_answers_option", "evaluation_answers", ["option_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_evaluation_answers_option", table_name="evaluation_answers")
    op.drop_table("evaluation_answers")
    op.drop_index("ix_evaluation_results_event", table_name="evaluation_results")
    op.drop_table("evaluation_results")
    op.drop_table("evaluation_options")
    op.drop_table("evaluation_questions")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_events_evaluation_pass_mark"), type_="check")
        batch_op.drop_column("evaluation_pass_mark")
        batch_op.drop_column("evaluation")
