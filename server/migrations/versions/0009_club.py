"""the customer club: memberships, consents, points ledger, till receipts, preferences

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

_TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=2), nullable=True))
        batch_op.add_column(sa.Column("favourite_store_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_customers_favourite_store_id_stores"),
            "stores",
            ["favourite_store_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.create_check_constraint(
            op.f("ck_customers_known_language"), "language IN ('nb', 'en')"
        )
    with op.batch_alter_table("campaigns") as batch_op:
        batch_op.add_column(
            sa.Column("members_only", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    op.create_table(
        "memberships",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("joined_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_memberships_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_memberships")),
        sa.UniqueConstraint("number", name=op.f("uq_memberships_number")),
    )
    op.create_table(
        "club_consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("given_at", _TS, nullable=True),
        sa.Column("withdrawn_at", _TS, nullable=True),
        sa.CheckConstraint(
            "kind IN ('club_terms', 'marketing_email', 'marketing_sms')",
            name=op.f("ck_club_consents_known_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_club_consents_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_club_consents")),
        sa.UniqueConstraint("customer_id", "kind", name=op.f("uq_club_consents_customer_id_kind")),
    )
    op.create_table(
        "receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("store_id", sa.Integer(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("total", sa.BigInteger(), nullable=False),
        sa.Column("sold_at", _TS, nullable=False),
        sa.Column("created_at", _TS, nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_receipts_customer_id_customers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["store_id"], ["stores.id"], name=op.f("fk_receipts_store_id_stores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipts")),
        sa.UniqueConstraint("number", name=op.f("uq_receipts_number")),
    )
    op.create_index("ix_receipts_customer", "receipts", ["customer_id", "id"])
    op.create_table(
        "receipt_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("receipt_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("unit_price", sa.BigInteger(), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("line_total", sa.BigInteger(), nullable=False),
        sa.Column("returned_quantity", sa.Integer(), nullable=False),
        sa.CheckConstraint("quantity >= 1", name=op.f("ck_receipt_lines_quantity_positive")),
        sa.CheckConstraint(
            "returned_quantity >= 0 AND returned_quantity <= quantity",
            name=op.f("ck_receipt_lines_returned_within"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"], ["products.id"], name=op.f("fk_receipt_lines_product_id_products")
        ),
        sa.ForeignKeyConstraint(
            ["receipt_id"],
            ["receipts.id"],
            name=op.f("fk_receipt_lines_receipt_id_receipts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipt_lines")),
    )
    op.create_index("ix_receipt_lines_receipt", "receipt_lines", ["receipt_id", "position"])
    op.create_table(
        "point_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("points", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("receipt_id", sa.Integer(), nullable=True),
        sa.Column("at", _TS, nullable=False),
        sa.CheckConstraint(
            "kind IN ('earned', 'held', 'spent', 'released', 'revoked', 'refunded')",
            name=op.f("ck_point_entries_known_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customers.id"],
            name=op.f("fk_point_entries_customer_id_customers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_point_entries_order_id_orders"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["receipt_id"],
            ["receipts.id"],
            name=op.f("fk_point_entries_receipt_id_receipts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_point_entries")),
    )
    op.create_index("ix_point_entries_customer", "point_entries", ["customer_id", "id"])
    op.create_index("ix_point_entries_order", "point_entries", ["order_id"])
    op.create_index("ix_point_entries_receipt", "point_entries", ["receipt_id"])


def downgrade() -> None:
    op.drop_table("point_entries")
    op.drop_table("receipt_lines")
    op.drop_table("receipts")
    op.drop_table("club_consents")
    op.drop_table("memberships")
    with op.batch_alter_table("campaigns") as batch_op:
        batch_op.drop_column("members_only")
    with op.batch_alter_table("customers") as batch_op:
        batch_op.drop_constraint(op.f("ck_customers_known_language"), type_="check")
        batch_op.drop_constraint(op.f("fk_customers_favourite_store_id_stores"), type_="foreignkey")
        batch_op.drop_column("favourite_store_id")
        batch_op.drop_column("language")
