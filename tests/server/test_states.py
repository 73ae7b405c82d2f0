"""The state enums are the one spelling of each state: the database CHECKs are built from them."""

from __future__ import annotations

import pytest
from sqlalchemy import CheckConstraint, text
from sqlalchemy.exc import IntegrityError

from server.db import Database
from server.models import Base, Cart
from server.states import CartStatus, OrderStatus, one_of

# (table, constraint) of every CHECK built from a state enum.
ENUM_CHECKS = {
    ("carts", "ck_carts_known_status"),
    ("orders", "ck_orders_known_status"),
    ("orders", "ck_orders_known_fulfilment"),
    ("orders", "ck_orders_known_channel"),
    ("orders", "ck_orders_fulfilment_target"),
    ("stock_reservations", "ck_stock_reservations_known_status"),
}


def test_one_of_writes_the_values_as_sql_strings() -> None:
    assert one_of("status", CartStatus) == "status IN ('active', 'merged', 'closed')"
    assert one_of("status", [OrderStatus.PLACED, OrderStatus.SHIPPED]) == (
        "status IN ('placed', 'shipped')"
    )


async def test_the_models_checks_are_the_migrated_ones_word_for_word(sqlite_db: Database) -> None:
    """Alembic sees no drift: the migrations wrote exactly the SQL the enums build."""
    async with sqlite_db.transaction(write=False) as session:
        rows = await session.execute(text("SELECT name, sql FROM sqlite_master WHERE type='table'"))
        migrated = {name: sql for name, sql in rows}
    found = set()
    for table in Base.metadata.sorted_tables:
        for constraint in table.constraints:
            if (
                isinstance(constraint, CheckConstraint)
                and (table.name, constraint.name) in ENUM_CHECKS
            ):
                found.add((table.name, constraint.name))
                expected = f"CONSTRAINT {constraint.name} CHECK ({constraint.sqltext})"
                assert expected in migrated[table.name]
    assert found == ENUM_CHECKS


async def test_the_database_refuses_a_state_no_enum_has(db: Database) -> None:
    with pytest.raises(IntegrityError, match="ck_carts_known_status"):
        async with db.transaction() as session:
            session.add(Cart(status="lost"))
            await session.flush()
    async with db.transaction() as session:
        session.add(Cart(status=CartStatus.MERGED))
        await session.flush()
        stored = await session.scalar(text("SELECT status FROM carts"))
    assert stored == "merged"
