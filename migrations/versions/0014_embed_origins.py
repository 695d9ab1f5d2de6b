"""embed origins: the sites allowed to frame an event's registration form

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 22:40:00.000000

One event column with a server default (SPEC §14, webinar/events/embed.py): every existing event gets '' — its embed
page is framed nowhere until an organiser lists a site.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("embed_origins", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("embed_origins")
