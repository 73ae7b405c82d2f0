"""product pages: the scan path's read model

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "product_pages",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_pages_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", name=op.f("pk_product_pages")),
    )
    op.create_index("ix_outbox_events_entity", "outbox_events", ["topic", "entity_id"])
    # Every existing product gets its page from the indexer: one outbox row each, so an
    # upgraded database serves pages from the read model once the indexer has drained them
    # (until then a page is read from the catalog tables, as before).
    empty = "'{}'::jsonb" if op.get_bind().dialect.name == "postgresql" else "'{}'"
    op.execute(
        "INSERT INTO outbox_events (topic, entity_id, payload, created_at) "
        f"SELECT 'product', id, {empty}, CURRENT_TIMESTAMP FROM products"
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_events_entity", table_name="outbox_events")
    op.drop_table("product_pages")
