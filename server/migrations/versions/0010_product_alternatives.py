"""product alternatives: each product's candidates ranked at index time

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01 11:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "product_alternatives",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("candidate_id", sa.Integer(), nullable=False),
        sa.Column("tier", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_product_alternatives_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["candidate_id"],
            ["products.id"],
            name=op.f("fk_product_alternatives_candidate_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("product_id", "position", name=op.f("pk_product_alternatives")),
    )
    op.create_index(
        "ix_product_alternatives_candidate_id", "product_alternatives", ["candidate_id"]
    )
    # The lists are built by the indexer with the pages: every page is built again (reads
    # use the catalog tables meanwhile, as before 0007) and so every list built once.
    op.execute("DELETE FROM product_pages")
    empty = "'{}'::jsonb" if op.get_bind().dialect.name == "postgresql" else "'{}'"
    op.execute(
        "INSERT INTO outbox_events (topic, entity_id, payload, created_at) "
        f"SELECT 'product', id, {empty}, CURRENT_TIMESTAMP FROM products"
    )


def downgrade() -> None:
    op.drop_index("ix_product_alternatives_candidate_id", table_name="product_alternatives")
    op.drop_table("product_alternatives")
