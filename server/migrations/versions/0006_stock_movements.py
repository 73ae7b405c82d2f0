"""stock movements: the stock ledger, and tills and warehouse systems as devices

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_OLD_KINDS = "kind IN ('kiosk', 'staff')"
_NEW_KINDS = "kind IN ('kiosk', 'staff', 'pos', 'warehouse')"


def _device_kinds(old: str, new: str) -> None:
    """Change the devices' kind CHECK in place.

    PostgreSQL drops and adds the constraint. SQLite cannot alter a CHECK, and rebuilding
    ``devices`` (batch mode) would drop the old table under ``foreign_keys=ON``, which
    cascades to cart claims and nulls audit rows. So the table's stored SQL is edited
    instead, the procedure SQLite documents for changing CHECK constraints ("Making Other
    Kinds Of Table Schema Changes", https://sqlite.org/lang_altertable.html): safe here as
    widening the check leaves every stored row valid. (The downgrade narrows it back only
    when no row uses the new kinds.)
    """
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint(op.f("ck_devices_known_kind"), "devices", type_="check")
        op.create_check_constraint(op.f("ck_devices_known_kind"), "devices", new)
        return
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema=ON")
    bind.execute(
        sa.text(
            "UPDATE sqlite_master SET sql = replace(sql, :old, :new) "
            "WHERE type = 'table' AND name = 'devices'"
        ),
        {"old": old, "new": new},
    )
    bind.exec_driver_sql(f"PRAGMA schema_version={int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema=OFF")


def upgrade() -> None:
    _device_kinds(_OLD_KINDS, _NEW_KINDS)
    op.create_table(
        "stock_movements",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("movement_id", sa.String(length=100), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("location_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("transfer_id", sa.String(length=100), nullable=True),
        sa.Column("receipt_number", sa.String(length=64), nullable=True),
        sa.Column("customer_phone", sa.String(length=40), nullable=True),
        sa.Column("applied", sa.Integer(), nullable=False),
        sa.Column("on_hand_after", sa.Integer(), nullable=False),
        sa.Column("unknown_units", sa.Integer(), nullable=False),
        sa.Column("reserved_units", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('SALE', 'RETURN', 'RECEIPT', 'COUNT', 'ADJUSTMENT', 'TRANSFER_OUT', "
            "'TRANSFER_IN')",
            name=op.f("ck_stock_movements_known_kind"),
        ),
        sa.CheckConstraint(
            "source IN ('DEVICE', 'FILE', 'ORDER', 'CATALOG', 'CHECK', 'OPENING')",
            name=op.f("ck_stock_movements_known_source"),
        ),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["devices.id"],
            name=op.f("fk_stock_movements_device_id_devices"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_stock_movements_order_id_orders"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["location_id"],
            ["stock_locations.id"],
            name=op.f("fk_stock_movements_location_id_stock_locations"),
        ),
        sa.ForeignKeyConstraint(
            ["product_id"],
            ["products.id"],
            name=op.f("fk_stock_movements_product_id_products"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stock_movements")),
        sa.UniqueConstraint("movement_id", name=op.f("uq_stock_movements_movement_id")),
    )
    op.create_index(
        "ix_stock_movements_history",
        "stock_movements",
        ["location_id", "product_id", "occurred_at"],
    )
    op.create_index("ix_stock_movements_transfer", "stock_movements", ["transfer_id"])


def downgrade() -> None:
    op.drop_index("ix_stock_movements_transfer", table_name="stock_movements")
    op.drop_index("ix_stock_movements_history", table_name="stock_movements")
    op.drop_table("stock_movements")
    op.execute("DELETE FROM devices WHERE kind IN ('pos', 'warehouse')")
    _device_kinds(_NEW_KINDS, _OLD_KINDS)
