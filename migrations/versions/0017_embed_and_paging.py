"""embed origins and paging registrations: the sites allowed to frame an event's form; an index for the API's pages

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 22:40:00.000000

One event column with a server default (SPEC §14, webinar/events/embed.py): every existing event gets '' — its embed
page is framed nowhere until an organiser lists a site. And `ix_registrations_event_id` (event_id, id): a page of
`GET /api/v1/events/{id}/registrations` (`WHERE event_id = … AND id > … ORDER BY id LIMIT n`) is then a range scan
from the cursor, instead of reading every registration of the event and sorting them for each page.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("embed_origins", sa.Text(), server_default="", nullable=False))
    op.create_index("ix_registrations_event_id", "registrations", ["event_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_registrations_event_id", table_name="registrations")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("embed_origins")
