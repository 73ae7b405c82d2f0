"""product pages remember the stock flags the search engine last got

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 03:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Empty until the indexer next sends a product: unknown flags are always sent.
    op.add_column("product_pages", sa.Column("search_stock", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("product_pages", "search_stock")
