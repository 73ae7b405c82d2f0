"""restricted codes: the stores a product's own code is limited to

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "product_barcode_stores",
        sa.Column("barcode_id", sa.Integer(), nullable=False),
        sa.Column("store_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["barcode_id"],
            ["product_barcodes.id"],
            name=op.f("fk_product_barcode_stores_barcode_id_product_barcodes"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"],
            ["stores.id"],
            name=op.f("fk_product_barcode_stores_store_id_stores"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("barcode_id", "store_id", name=op.f("pk_product_barcode_stores")),
    )
    op.create_index(
        op.f("ix_product_barcode_stores_store_id"), "product_barcode_stores", ["store_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_product_barcode_stores_store_id"), table_name="product_barcode_stores")
    op.drop_table("product_barcode_stores")
