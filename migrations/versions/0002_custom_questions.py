"""custom questions: an event's questions and the registrations' answers (SPEC §11)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 10:20:00

Two new tables and nothing else changed, so it runs the same on SQLite and PostgreSQL and over a database that
already holds registrations (tests/webinar/test_migrations.py migrates one).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade() -> None:
    op.create_table('questions',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('event_id', BigId, nullable=False),
    sa.Column('label_ro', sa.String(length=200), server_default='', nullable=False),
    sa.Column('label_en', sa.String(length=200), server_default='', nullable=False),
    sa.Column('help_ro', sa.String(length=1000), server_default='', nullable=False),
    sa.Column('help_en', sa.String(length=1000), server_default='', nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('options', sa.Text(), server_default='', nullable=False),
    sa.Column('required', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('removed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint(
        "kind IN ('text', 'textarea', 'choice', 'multichoice', 'checkbox', 'number', 'date')",
        name=op.f('ck_questions_kind'),
    ),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_questions_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questions'))
    )
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.create_index('ix_questions_event_position', ['event_id', 'position'], unique=False)

    op.create_table('answers',
    sa.Column('id', BigId, autoincrement=True, nullable=False),
    sa.Column('registration_id', BigId, nullable=False),
    sa.Column('question_id', BigId, nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name=op.f('fk_answers_question_id_questions'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['registration_id'], ['registrations.id'], name=op.f('fk_answers_registration_id_registrations'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_answers')),
    sa.UniqueConstraint('registration_id', 'question_id', name='uq_answers_registration_question')
    )
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.create_index('ix_answers_question', ['question_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('answers', schema=None) as batch_op:
        batch_op.drop_index('ix_answers_question')

    op.drop_table('answers')
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.drop_index('ix_questions_event_position')

    op.drop_table('questions')
