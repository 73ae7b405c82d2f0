"""The order lifecycle over GraphQL: every transition, its stock effect, and who may do it."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from schema.ids import decode_id, encode_id
from server.db import Database
from server.models import Order, OutboxEvent, StaffAuditEntry, StockReservation, utcnow
from server.orders import expire_overdue
from server.outbox import INDEXED_TOPICS
from tests.clients import (
    client_for,
    collect_at,
    graphql,
    hand_over,
    place_order,
    sign_up,
    staff_sign_in,
)
from tests.documents import CART_CREATE, CHECKOUT
from tests.rows import (
    add_device,
    add_online_warehouse,
    add_product,
    add_staff,
    add_store,
    fresh_ean13,
    stock_figures,
)

ORDER = """
query Order($id: ID!) {
  order(id: $id) {
    id status version pickupDeadline customer { email }
    lines { quantity returnedQuantity }
    history { fromStatus toStatus actor note }
  }
}
"""
STORE_ORDERS = """
query StoreOrders($storeId: ID, $status: [OrderStatus!], $first: Int, $after: String) {
  storeOrders(storeId: $storeId, status: $status, first: $first, after: $after) {
    edges { cursor node { number status } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
RETURN = """
mutation Return($input: OrderReturnInput!) {
  orderReturn(input: $input) {
    order { id status version lines { quantity returnedQuantity } } errors { code field message }
  }
}
"""


def act_document(mutation: str) -> str:
    return f"""
mutation Act($input: OrderActionInput!) {{
  {mutation}(input: $input) {{ order {{ id status version }} errors {{ code field message }} }}
}}
"""


async def act(
    client: httpx.AsyncClient,
    mutation: str,
    order_id: str,
    headers: dict[str, str],
    note: str | None = None,
) -> dict:  # type: ignore[type-arg]
    body = await graphql(
        client, act_document(mutation), {"input": {"orderId": order_id, "note": note}}, headers
    )
    assert "errors" not in body, body
    return body["data"][mutation]  # type: ignore[index,no-any-return]


DELIVER = {"delivery": {"address": "Storgata 1, Oslo"}}


class Shop:
    """Two stores (OSL, BGO), the online warehouse, one product, and staff of each kind."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def build(self) -> Shop:
        self.online = await add_online_warehouse(self.db)
        self.osl, self.osl_location = await add_store(self.db, "OSL")
        self.bgo, self.bgo_location = await add_store(self.db, "BGO")
        self.code = fresh_ean13()
        self.product = await add_product(
            self.db,
            gtins=[self.code],
            stock={self.online: (20, 0), self.osl_location: (10, 0), self.bgo_location: (10, 0)},
        )
        await add_staff(self.db, "osl@shop.no", store_code="OSL", name="Ola Oslo")
        await add_staff(self.db, "bgo@shop.no", store_code="BGO", name="Berit Bergen")
        await add_staff(self.db, "admin@shop.no", role="admin", name="Anne Admin")
        self.osl_device = {"Authorization": f"Bearer {await add_device(self.db, 'OSL', 'staff')}"}
        self.kiosk = {"Authorization": f"Bearer {await add_device(self.db, 'OSL', 'kiosk')}"}
        return self

    async def sign_in(self, client: httpx.AsyncClient, *who: str) -> tuple[dict[str, str], ...]:
        """Sign staff in by their email's first part (osl, bgo, admin); return their headers."""
        return tuple([await staff_sign_in(client, f"{name}@shop.no") for name in who])

    async def order(
        self,
        client: httpx.AsyncClient,
        quantity: int = 1,
        fulfilment: dict[str, object] | None = None,
        customer: dict[str, str] | None = None,
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """Place an order of the product, collected in Oslo unless ``fulfilment`` says else.

        Return the order and the headers that reach it (as ``place_order``).
        """
        where = fulfilment if fulfilment is not None else collect_at(self.osl)
        return await place_order(client, [(self.code, quantity)], where, customer)


@pytest.fixture
async def shop(db: Database) -> Shop:
    return await Shop(db).build()


async def test_click_and_collect_ready_then_collected_turns_the_reservation_into_a_sale(
    db: Database, tmp_path: Path, shop: Shop
) -> None:
    async with client_for(db, tmp_path) as client:
        (osl,) = await shop.sign_in(client, "osl")
        order, phone = await shop.order(client, 3)
        placed_stock = await stock_figures(db, shop.osl_location, shop.product)
        ready = await act(client, "orderMarkReady", order["id"], osl)
        ready_stock = await stock_figures(db, shop.osl_location, shop.product)
        collected = await act(client, "orderMarkCollected", order["id"], osl)
        seen = await graphql(client, ORDER, {"id": order["id"]}, phone)
    assert placed_stock == (10, 3, 3)
    assert ready["errors"] == [] and ready["order"]["status"] == "READY_FOR_PICKUP"
    assert ready["order"]["version"] == 2
    assert ready_stock == (10, 3, 3)
    assert collected["errors"] == [] and collected["order"]["status"] == "COLLECTED"
    assert await stock_figures(db, shop.osl_location, shop.product) == (7, 0, 0)
    history = seen["data"]["order"]["history"]
    assert [(h["fromStatus"], h["toStatus"], h["actor"]) for h in history] == [
        (None, "PLACED", "guest"),
        ("PLACED", "READY_FOR_PICKUP", "staff"),
        ("READY_FOR_PICKUP", "COLLECTED", "staff"),
    ]
    async with db.transaction(write=False) as session:
        statuses = (await session.execute(select(StockReservation.status))).scalars().all()
        audit = (
            await session.execute(
                select(StaffAuditEntry.action, StaffAuditEntry.subject_id).order_by(
                    StaffAuditEntry.id
                )
            )
        ).all()
    assert statuses == ["consumed"]
    order_pk = decode_id(order["id"], "Order")
    assert [a for a, _ in audit] == ["order.mark_ready", "order.mark_collected"]
    assert {s for _, s in audit} == {order_pk}


async def test_illegal_transitions_are_refused_and_change_nothing(
    db: Database, tmp_path: Path, shop: Shop
) -> None:
    async with client_for(db, tmp_path) as client:
        osl, admin = await shop.sign_in(client, "osl", "admin")
        order, _ = await shop.order(client, 1)
        too_early = await act(client, "orderMarkCollected", order["id"], osl)
        not_shipped = await act(client, "orderMarkShipped", order["id"], admin)
        await act(client, "orderMarkReady", order["id"], osl)
        ready_again = await act(client, "orderMarkReady", order["id"], osl)
        await act(client, "orderMarkCollected", order["id"], osl)
        cancel_late = await act(client, "orderCancel", order["id"], osl)
        delivery, _ = await shop.order(client, 1, DELIVER)
        delivered_early = await act(client, "orderMarkDelivered", delivery["id"], admin)
        ready_delivery = await act(client, "orderMarkReady", delivery["id"], admin)
        not_back = await graphql(client, RETURN, {"input": {"orderId": delivery["id"]}}, osl)
    assert too_early["errors"] == [
        {
            "code": "INVALID_TRANSITION",
            "field": None,
            "message": "The order is placed; it cannot be marked collected now.",
        }
    ]
    assert too_early["order"] == {"id": order["id"], "status": "PLACED", "version": 1}
    assert not_shipped["errors"][0]["message"] == (
        "A click and collect order cannot be marked shipped."
    )
    assert ready_again["errors"][0]["code"] == "INVALID_TRANSITION"
    assert cancel_late["errors"][0]["code"] == "INVALID_TRANSITION"
    assert cancel_late["order"]["status"] == "COLLECTED"
    assert delivered_early["errors"][0]["code"] == "INVALID_TRANSITION"
    assert ready_delivery["errors"][0]["code"] == "INVALID_TRANSITION"
    assert not_back["data"]["orderReturn"]["errors"][0]["code"] == "INVALID_TRANSITION"
    assert await stock_figures(db, shop.osl_location, shop.product) == (9, 0, 0)
    assert await stock_figures(db, shop.online, shop.product) == (20, 1, 1)


@pytest.mark.parametrize("first", ["placed", "ready"])
async def test_cancelling_releases_the_reservation(
    db: Database, tmp_path: Path, shop: Shop, first: str
) -> None:
    async with client_for(db, tmp_path) as client:
        (osl,) = await shop.sign_in(client, "osl")
        order, _ = await shop.order(client, 4)
        if first == "ready":
            await act(client, "orderMarkReady", order["id"], osl)
        cancelled = await act(client, "orderCancel", order["id"], osl, note="Shopper called")
        seen = await graphql(client, ORDER, {"id": order["id"]}, osl)
    assert cancelled["errors"] == [] and cancelled["order"]["status"] == "CANCELLED"
    assert seen["data"]["order"]["history"][-1]["note"] == "Shopper called"
    assert await stock_figures(db, shop.osl_location, shop.product) == (10, 0, 0)


async def test_delivery_shipped_delivered_and_returned_in_a_store(
    db: Database, tmp_path: Path, shop: Shop
) -> None:
    async with client_for(db, tmp_path) as client:
        admin, bgo = await shop.sign_in(client, "admin", "bgo")
        customer = await sign_up(client, "home@example.com")
        order, _ = await shop.order(client, 3, DELIVER, customer)
        by_store_staff = await act(client, "orderMarkShipped", order["id"], bgo)
        shipped = await act(client, "orderMarkShipped", order["id"], admin)
        shipped_stock = await stock_figures(db, shop.online, shop.product)
        delivered = await act(client, "orderMarkDelivered", order["id"], admin)
        line = order["lines"][0]["id"]
        partly = await graphql(
            client,
            RETURN,
            {"input": {"orderId": order["id"], "lines": [{"lineId": line, "quantity": 1}]}},
            bgo,
        )
        too_many = await graphql(
            client,
            RETURN,
            {"input": {"orderId": order["id"], "lines": [{"lineId": line, "quantity": 3}]}},
            bgo,
        )
        admin_needs_store = await graphql(
            client, RETURN, {"input": {"orderId": order["id"]}}, admin
        )
        rest = await graphql(
            client,
            RETURN,
            {"input": {"orderId": order["id"], "storeId": encode_id("Store", shop.osl)}},
            admin,
        )
        seen = await graphql(client, ORDER, {"id": order["id"]}, customer)
    assert [e["code"] for e in by_store_staff["errors"]] == ["UNAUTHORIZED"]
    assert shipped["order"]["status"] == "SHIPPED"
    assert shipped_stock == (17, 0, 0)
    assert delivered["order"]["status"] == "DELIVERED"
    partly = partly["data"]["orderReturn"]
    assert partly["errors"] == [] and partly["order"]["status"] == "DELIVERED"
    assert partly["order"]["lines"] == [{"quantity": 3, "returnedQuantity": 1}]
    assert [(e["code"], e["field"]) for e in too_many["data"]["orderReturn"]["errors"]] == [
        ("INVALID_QUANTITY", "lines[0].quantity")
    ]
    assert [
        (e["code"], e["field"]) for e in admin_needs_store["data"]["orderReturn"]["errors"]
    ] == [("INVALID_INPUT", "storeId")]
    rest = rest["data"]["orderReturn"]
    assert rest["errors"] == [] and rest["order"]["status"] == "RETURNED"
    # The returned units went on hand where they were brought back.
    assert await stock_figures(db, shop.bgo_location, shop.product) == (11, 0, 0)
    assert await stock_figures(db, shop.osl_location, shop.product) == (12, 0, 0)
    assert await stock_figures(db, shop.online, shop.product) == (17, 0, 0)
    history = seen["data"]["order"]["history"]
    assert [h["toStatus"] for h in history] == [
        "PLACED",
        "SHIPPED",
        "DELIVERED",
        "DELIVERED",
        "RETURNED",
    ]
    assert seen["data"]["order"]["customer"] == {"email": "home@example.com"}


async def test_a_return_into_a_store_without_a_row_for_the_product_creates_it(
    db: Database, tmp_path: Path
) -> None:
    online = await add_online_warehouse(db)
    await add_store(db, "TRD")
    _, trd_location = await add_store(db, "TRD2")
    code = fresh_ean13()
    pid = await add_product(db, gtins=[code], stock={online: (5, 0)})
    await add_staff(db, "trd@shop.no", store_code="TRD2")
    await add_staff(db, "admin@shop.no", role="admin")
    async with client_for(db, tmp_path) as client:
        admin = await staff_sign_in(client, "admin@shop.no")
        trd = await staff_sign_in(client, "trd@shop.no")
        order, _ = await place_order(client, [(code, 2)], DELIVER)
        await act(client, "orderMarkShipped", order["id"], admin)
        await act(client, "orderMarkDelivered", order["id"], admin)
        back = await graphql(client, RETURN, {"input": {"orderId": order["id"]}}, trd)
    assert back["data"]["orderReturn"]["order"]["status"] == "RETURNED"
    assert await stock_figures(db, trd_location, pid) == (2, 0, 0)


async def test_admins_cancel_delivery_orders_and_release_online_stock(
    db: Database, tmp_path: Path, shop: Shop
) -> None:
    async with client_for(db, tmp_path) as client:
        admin, osl = await shop.sign_in(client, "admin", "osl")
        order, _ = await shop.order(client, 2, DELIVER)
        by_store = await act(client, "orderCancel", order["id"], osl)
        by_admin = await act(client, "orderCancel", order["id"], admin)
    assert [e["code"] for e in by_store["errors"]] == ["UNAUTHORIZED"]
    assert by_admin["order"]["status"] == "CANCELLED"
    assert await stock_figures(db, shop.online, shop.product) == (20, 0, 0)


async def test_shoppers_kiosks_and_strangers_cannot_act_and_learn_nothing(
    db: Database, tmp_path: Path, shop: Shop
) -> None:
    missing = encode_id("Order", 999)
    async with client_for(db, tmp_path) as client:
        customer = await sign_up(client, "me@example.com")
        order, phone = await shop.order(client, 1, customer=customer)
        for headers in (customer, shop.kiosk, {}, {"Authorization": "Bearer ss_forged"}):
            for mutation in ("orderMarkReady", "orderMarkCollected", "orderCancel"):
                for target in (order["id"], missing):
                    refused = await act(client, mutation, target, headers)
                    assert refused == {
                        "order": None,
                        "errors": [
                            {
                                "code": "UNAUTHORIZED",
                                "field": None,
                                "message": "Only staff can do this.",
                            }
                        ],
                    }
            listing = await graphql(client, STORE_ORDERS, {}, headers)
            assert listing["data"] is None
            assert listing["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"
        seen = await graphql(client, ORDER, {"id": order["id"]}, phone)
    assert seen["data"]["order"]["status"] == "PLACED"
    assert await stock_figures(db, shop.osl_location, shop.product) == (10, 1, 1)


async def test_staff_act_only_on_their_own_stores_orders(
    db: Database, tmp_path: Path, shop: Shop
) -> None:
    async with client_for(db, tmp_path) as client:
        bgo, osl, admin = await shop.sign_in(client, "bgo", "osl", "admin")
        order, _ = await shop.order(client, 1)
        other_store = await act(client, "orderMarkReady", order["id"], bgo)
        hidden = await graphql(client, ORDER, {"id": order["id"]}, bgo)
        shown = await graphql(client, ORDER, {"id": order["id"]}, osl)
        by_device = await act(client, "orderMarkReady", order["id"], shop.osl_device)
        by_admin = await act(client, "orderMarkCollected", order["id"], admin)
    assert other_store == {
        "order": None,
        "errors": [{"code": "NOT_FOUND", "field": "orderId", "message": "There is no such order."}],
    }
    assert hidden == {"data": {"order": None}}
    assert shown["data"]["order"]["status"] == "PLACED"
    assert by_device["errors"] == [] and by_device["order"]["status"] == "READY_FOR_PICKUP"
    assert by_admin["order"]["status"] == "COLLECTED"
    async with db.transaction(write=False) as session:
        audit = (
            await session.execute(
                select(
                    StaffAuditEntry.action, StaffAuditEntry.staff_user_id, StaffAuditEntry.device_id
                ).order_by(StaffAuditEntry.id)
            )
        ).all()
    assert [(a, s is None, d is None) for a, s, d in audit] == [
        ("order.mark_ready", True, False),
        ("order.mark_collected", False, True),
    ]


async def test_staff_of_the_kiosks_store_see_an_order_collected_elsewhere_but_cannot_act(
    db: Database, tmp_path: Path, shop: Shop
) -> None:
    async with client_for(db, tmp_path) as client:
        (osl,) = await shop.sign_in(client, "osl")
        cart = await graphql(
            client, CART_CREATE, {"input": {"lines": [{"gtin": shop.code, "quantity": 1}]}}
        )
        created = cart["data"]["cartCreate"]
        phone = {"X-Cart-Token": created["cartToken"]}
        await hand_over(client, created["cart"]["id"], phone, shop.kiosk)
        placed = await graphql(
            client,
            CHECKOUT,
            {
                "input": {
                    "cartId": created["cart"]["id"],
                    "expectedVersion": created["cart"]["version"],
                    "fulfilment": collect_at(shop.bgo),
                }
            },
            shop.kiosk,
        )
        order_id = placed["data"]["checkout"]["order"]["id"]
        seen = await graphql(client, ORDER, {"id": order_id}, osl)
        refused = await act(client, "orderMarkReady", order_id, osl)
    assert seen["data"]["order"]["status"] == "PLACED"
    assert [e["code"] for e in refused["errors"]] == ["UNAUTHORIZED"]


async def test_store_orders_include_a_delivery_order_placed_at_the_stores_kiosk(
    db: Database, tmp_path: Path, shop: Shop
) -> None:
    async with client_for(db, tmp_path) as client:
        osl, bgo = await shop.sign_in(client, "osl", "bgo")
        cart = await graphql(
            client, CART_CREATE, {"input": {"lines": [{"gtin": shop.code, "quantity": 1}]}}
        )
        created = cart["data"]["cartCreate"]
        await hand_over(
            client, created["cart"]["id"], {"X-Cart-Token": created["cartToken"]}, shop.kiosk
        )
        placed = await graphql(
            client,
            CHECKOUT,
            {
                "input": {
                    "cartId": created["cart"]["id"],
                    "expectedVersion": created["cart"]["version"],
                    "fulfilment": DELIVER,
                }
            },
            shop.kiosk,
        )
        number = placed["data"]["checkout"]["order"]["number"]
        await shop.order(client, 1, collect_at(shop.bgo))
        at_osl = await graphql(client, STORE_ORDERS, {"first": 50}, osl)
        at_bgo = await graphql(client, STORE_ORDERS, {"first": 50}, bgo)
    assert [e["node"]["number"] for e in at_osl["data"]["storeOrders"]["edges"]] == [number]
    assert number not in [e["node"]["number"] for e in at_bgo["data"]["storeOrders"]["edges"]]


async def test_two_staff_collecting_at_once_one_wins(
    db: Database, tmp_path: Path, shop: Shop
) -> None:
    async with client_for(db, tmp_path) as client:
        (osl,) = await shop.sign_in(client, "osl")
        order, _ = await shop.order(client, 2)
        await act(client, "orderMarkReady", order["id"], osl)
        results = await asyncio.gather(
            act(client, "orderMarkCollected", order["id"], osl),
            act(client, "orderMarkCollected", order["id"], shop.osl_device),
        )
    codes = sorted(r["errors"][0]["code"] if r["errors"] else "OK" for r in results)
    assert codes == ["INVALID_TRANSITION", "OK"]
    assert await stock_figures(db, shop.osl_location, shop.product) == (8, 0, 0)


async def test_store_orders_list_by_status_with_paging(
    db: Database, tmp_path: Path, shop: Shop
) -> None:
    async with client_for(db, tmp_path) as client:
        osl, admin = await shop.sign_in(client, "osl", "admin")
        numbers = []
        for _ in range(5):
            order, _ = await shop.order(client, 1)
            numbers.append((order["id"], order["number"]))
        await shop.order(client, 1, collect_at(shop.bgo))
        await act(client, "orderMarkReady", numbers[1][0], osl)
        first = await graphql(client, STORE_ORDERS, {"status": ["PLACED"], "first": 2}, osl)
        page = first["data"]["storeOrders"]
        second = await graphql(
            client,
            STORE_ORDERS,
            {"status": ["PLACED"], "first": 2, "after": page["pageInfo"]["endCursor"]},
            osl,
        )
        ready = await graphql(client, STORE_ORDERS, {"status": ["READY_FOR_PICKUP"]}, osl)
        other = await graphql(client, STORE_ORDERS, {"storeId": encode_id("Store", shop.bgo)}, osl)
        everything = await graphql(client, STORE_ORDERS, {"first": 50}, admin)
        bgo_for_admin = await graphql(
            client, STORE_ORDERS, {"storeId": encode_id("Store", shop.bgo)}, admin
        )
    placed = [n for i, (_, n) in enumerate(numbers) if i != 1][::-1]
    assert [e["node"]["number"] for e in page["edges"]] == placed[:2]
    assert page["pageInfo"]["hasNextPage"] is True
    rest = second["data"]["storeOrders"]
    assert [e["node"]["number"] for e in rest["edges"]] == placed[2:4]
    assert rest["pageInfo"]["hasNextPage"] is False
    assert [e["node"]["number"] for e in ready["data"]["storeOrders"]["edges"]] == [numbers[1][1]]
    assert other["errors"][0]["extensions"]["code"] == "UNAUTHORIZED"
    assert len(everything["data"]["storeOrders"]["edges"]) == 6
    assert len(bgo_for_admin["data"]["storeOrders"]["edges"]) == 1


async def test_uncollected_orders_expire_once_and_release_their_stock(
    db: Database, tmp_path: Path, shop: Shop
) -> None:
    async with client_for(db, tmp_path, order_pickup_days=3) as client:
        (osl,) = await shop.sign_in(client, "osl")
        waiting, _ = await shop.order(client, 2)
        ready, _ = await shop.order(client, 1)
        delivery, _ = await shop.order(client, 1, DELIVER)
        # The ready one was made ready two days later: its three days start again then.
        async with db.transaction() as session:
            rows = (await session.execute(select(Order.id, Order.pickup_deadline))).all()
            for order_id, deadline in rows:
                await session.execute(
                    update(Order)
                    .where(Order.id == order_id)
                    .values(
                        created_at=utcnow() - timedelta(days=2),
                        pickup_deadline=deadline - timedelta(days=2) if deadline else None,
                    )
                )
        await act(client, "orderMarkReady", ready["id"], osl)
        seen = await graphql(client, ORDER, {"id": ready["id"]}, osl)
    deadline = seen["data"]["order"]["pickupDeadline"]
    async with db.transaction() as session:
        early = await expire_overdue(session, now=utcnow() + timedelta(days=1, hours=1))
    async with db.transaction() as session:
        later = await expire_overdue(session, now=utcnow() + timedelta(days=3, hours=1))
    async with db.transaction() as session:
        again = await expire_overdue(session, now=utcnow() + timedelta(days=30))
    assert datetime.fromisoformat(deadline) > utcnow() + timedelta(days=2, hours=23)
    assert [(e.order.number, e.order.status, e.units_released) for e in early] == [
        (waiting["number"], "expired", 2)
    ]
    assert [(e.order.number, e.units_released) for e in later] == [(ready["number"], 1)]
    assert again == []
    assert delivery["status"] == "PLACED"
    assert await stock_figures(db, shop.osl_location, shop.product) == (10, 0, 0)
    assert await stock_figures(db, shop.online, shop.product) == (20, 1, 1)


async def test_every_stock_change_notes_the_product_in_the_outbox(
    db: Database, tmp_path: Path, shop: Shop
) -> None:
    async def notes() -> int:
        async with db.transaction(write=False) as session:
            count = await session.scalar(
                select(func.count())
                .select_from(OutboxEvent)
                # Product notes only (data or stock): a placed order's own row names the order.
                .where(OutboxEvent.topic.in_(INDEXED_TOPICS), OutboxEvent.entity_id == shop.product)
            )
        return int(count or 0)

    seen = [await notes()]
    async with client_for(db, tmp_path) as client:
        osl, admin = await shop.sign_in(client, "osl", "admin")
        collect, _ = await shop.order(client, 1)
        seen.append(await notes())  # reserved
        await act(client, "orderMarkReady", collect["id"], osl)
        seen.append(await notes())  # no stock change
        await act(client, "orderMarkCollected", collect["id"], osl)
        seen.append(await notes())  # consumed
        cancel, _ = await shop.order(client, 1)
        await act(client, "orderCancel", cancel["id"], osl)
        seen.append(await notes())  # reserved and released
        delivery, _ = await shop.order(client, 1, DELIVER)
        await act(client, "orderMarkShipped", delivery["id"], admin)
        await act(client, "orderMarkDelivered", delivery["id"], admin)
        await graphql(client, RETURN, {"input": {"orderId": delivery["id"]}}, osl)
        seen.append(await notes())  # reserved, consumed, restocked
    assert [b - a for a, b in zip(seen, seen[1:], strict=False)] == [1, 0, 1, 2, 3]
