"""Stock movements of orders (``server.orders.stock``), below HTTP: after every reserve,
release, consume and restock, a level's ``reserved`` is the sum of its held reservations and
never more than is on hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from server.carts import AddLine, create_cart
from server.db import Database
from server.models import StockLevel, StockReservation
from server.orders import (
    CheckoutRequest,
    ClickAndCollect,
    OrderView,
    ReturnLine,
    checkout,
    expire_overdue,
    take_return,
    transition,
)
from server.orders.stock import Shortfall, reserve, restock
from server.staff import StaffActor
from server.states import ReservationStatus
from server.tokens import token_hash
from server.viewer import Viewer
from tests.rows import add_product, add_staff, add_store, stock_figures

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


async def reservations_add_up(db: Database) -> list[tuple[int, int, int]]:
    """Assert every level's reserved is its held units, within on hand; return the levels."""
    held = (
        select(func.coalesce(func.sum(StockReservation.quantity), 0))
        .where(
            StockReservation.location_id == StockLevel.location_id,
            StockReservation.product_id == StockLevel.product_id,
            StockReservation.status == ReservationStatus.HELD,
        )
        .scalar_subquery()
    )
    async with db.transaction(write=False) as session:
        rows = (
            await session.execute(
                select(StockLevel.on_hand, StockLevel.reserved, held).order_by(
                    StockLevel.location_id, StockLevel.product_id
                )
            )
        ).all()
    for on_hand, reserved, units in rows:
        assert reserved == units and 0 <= reserved <= on_hand, rows
    return [tuple(row) for row in rows]  # type: ignore[misc]


class Store:
    """One store with one product on its shelf, and a staff member of the store."""

    async def build(self, db: Database, on_hand: int = 10) -> Store:
        self.db = db
        self.id, self.location = await add_store(db, "OSL")
        self.product = await add_product(db, stock={self.location: (on_hand, 0)})
        staff_id = await add_staff(db, "osl@shop.no", store_code="OSL")
        self.staff = StaffActor("staff", self.id, staff_user_id=staff_id)
        return self

    async def order(self, units: int) -> OrderView:
        """Place a guest's click-and-collect order of ``units`` of the product here."""
        async with self.db.transaction() as session:
            created, change = await create_cart(
                session, Viewer(), NOW, lines=[AddLine(units, product_id=self.product)]
            )
            assert created.token is not None and change is not None
            holder = Viewer(cart_token_hash=token_hash(created.token))
            request = CheckoutRequest(change.cart.id, change.cart.version, ClickAndCollect(self.id))
            placed = await checkout(
                session, holder, request, now=NOW, currency="NOK", pickup_days=7
            )
        return placed.order

    async def act(self, order: OrderView, action: str) -> OrderView:
        async with self.db.transaction() as session:
            return await transition(
                session,
                self.staff,
                order.id,
                action,
                now=NOW,
                points_per_10_kr=10,
                pickup_days=7,  # type: ignore[arg-type]
            )

    async def figures(self) -> tuple[int, int, int]:
        return await stock_figures(self.db, self.location, self.product)


async def test_reserving_is_all_or_nothing_and_names_every_shortfall(db: Database) -> None:
    _, location = await add_store(db, "OSL")
    ok = await add_product(db, stock={location: (5, 0)})
    short = await add_product(db, stock={location: (2, 1)})
    missing = await add_product(db)
    async with db.transaction() as session:
        async with session.begin_nested() as attempt:
            shortfalls = await reserve(session, location, {ok: 3, short: 2, missing: 1}, NOW)
            await attempt.rollback()
        fits = await reserve(session, location, {ok: 5}, NOW)
    assert shortfalls == [Shortfall(short, 2, 1), Shortfall(missing, 1, 0)]
    assert fits == []
    assert await stock_figures(db, location, ok) == (5, 5, 0)
    assert await stock_figures(db, location, short) == (2, 1, 0)


async def test_a_placed_order_holds_what_it_reserved(db: Database) -> None:
    store = await Store().build(db)
    await store.order(3)
    await store.order(2)
    assert await store.figures() == (10, 5, 5)
    assert await reservations_add_up(db) == [(10, 5, 5)]


async def test_a_cancelled_order_releases_its_units(db: Database) -> None:
    store = await Store().build(db)
    kept, cancelled = await store.order(3), await store.order(4)
    await store.act(cancelled, "cancel")
    assert await store.figures() == (10, 3, 3)
    await store.act(kept, "mark_ready")
    assert await store.figures() == (10, 3, 3)
    await reservations_add_up(db)


async def test_a_collected_order_consumes_its_units(db: Database) -> None:
    store = await Store().build(db)
    order = await store.order(3)
    await store.order(1)
    await store.act(order, "mark_ready")
    await store.act(order, "mark_collected")
    assert await store.figures() == (7, 1, 1)
    await reservations_add_up(db)


async def test_a_return_restocks_on_hand_and_leaves_reservations_alone(db: Database) -> None:
    store = await Store().build(db)
    order = await store.order(3)
    await store.order(2)
    await store.act(order, "mark_ready")
    await store.act(order, "mark_collected")
    async with db.transaction() as session:
        line = await session.scalar(
            select(StockReservation.order_line_id).where(StockReservation.order_id == order.id)
        )
        assert line is not None
        back = [ReturnLine(line, 2)]
        await take_return(
            session,
            store.staff,
            order.id,
            store_id=None,
            lines=back,
            now=NOW,
            points_per_10_kr=10,
        )
    assert await store.figures() == (9, 2, 2)
    await reservations_add_up(db)


async def test_restocking_a_product_without_a_level_creates_one(db: Database) -> None:
    _, location = await add_store(db, "OSL")
    product = await add_product(db)
    async with db.transaction() as session:
        await restock(session, location, {product: 2}, NOW)
        await restock(session, location, {product: 1}, NOW)
    assert await stock_figures(db, location, product) == (3, 0, 0)


async def test_an_overdue_order_expires_and_releases_its_units(db: Database) -> None:
    store = await Store().build(db)
    await store.order(4)
    async with db.transaction() as session:
        early = await expire_overdue(session, now=NOW + timedelta(days=6))
        expired = await expire_overdue(session, now=NOW + timedelta(days=8))
        again = await expire_overdue(session, now=NOW + timedelta(days=9))
    assert (early, [e.units_released for e in expired], again) == ([], [4], [])
    assert await store.figures() == (10, 0, 0)
    await reservations_add_up(db)
