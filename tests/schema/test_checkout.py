"""Checkout over GraphQL: snapshots and prices, reservations, carts afterwards, retries, errors."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from schema.ids import encode_id
from server.db import Database
from server.models import Cart, OutboxEvent, utcnow
from tests.clients import (
    add_lines,
    client_for,
    collect_at,
    filled_cart,
    graphql,
    hand_over,
    new_cart,
    sign_up,
)
from tests.documents import CART
from tests.rows import (
    add_campaign,
    add_device,
    add_online_warehouse,
    add_product,
    add_store,
    fresh_ean13,
    stock_figures,
    store_with_product,
)

ORDER_FIELDS = """
  id number status fulfilment channel version
  subtotal { amount currency } total { amount currency }
  pickupStore { code } store { code } deliveryAddress pickupDeadline createdAt
  lines {
    name gtin quantity unitPrice { amount } regularUnitPrice { amount }
    campaignName lineTotal { amount } product { name }
  }
  history { fromStatus toStatus actor }
"""
CHECKOUT = f"""
mutation Checkout($input: CheckoutInput!) {{
  checkout(input: $input) {{
    order {{ {ORDER_FIELDS} }}
    cart {{ id version lines {{ id quantity product {{ name }} }} }}
    replayed
    unavailableLines {{ lineId productId requested available }}
    errors {{ code field message }}
  }}
}}
"""
ORDER = f"query Order($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}"
BY_NUMBER = "query ByNumber($n: String!) { orderByNumber(number: $n) { id number } }"
MY_ORDERS = "{ orders(first: 10) { edges { node { number status } } pageInfo { hasNextPage } } }"
NUMBER = re.compile(r"^OC-\d{2}-\d{6}-\d$")


async def checkout(client, reach, **input):  # type: ignore[no-untyped-def]
    body = await graphql(client, CHECKOUT, {"input": input}, reach)
    assert "errors" not in body, body
    return body["data"]["checkout"]


async def collect(client, reach, cart, store_id, **input):  # type: ignore[no-untyped-def]
    """Check ``cart`` out at the version it shows, to collect at a store."""
    return await checkout(
        client,
        reach,
        cartId=cart["id"],
        expectedVersion=cart["version"],
        fulfilment=collect_at(store_id),
        **input,
    )


async def test_click_and_collect_reserves_at_the_store_and_snapshots_the_lines(
    db: Database, tmp_path: Path
) -> None:
    store_id, location = await add_store(db, "OSL", "Oslo Storo")
    milk, nuts = fresh_ean13(), fresh_ean13()
    milk_id = await add_product(db, gtins=[milk], name="Melk", price=2490, stock={location: (5, 1)})
    nuts_id = await add_product(
        db, gtins=[nuts], name="Nøtter", price=4990, stock={location: (2, 0)}
    )
    await add_campaign(
        db, nuts_id, 3990, name="Ukens tilbud", starts_at=utcnow() - timedelta(days=1), ends_at=None
    )
    async with client_for(db, tmp_path) as client:
        cart, reach = await filled_cart(client, [(milk, 3), (nuts, 2)])
        placed = await collect(client, reach, cart, store_id)
        cart_after = await graphql(client, CART, {"id": cart["id"]}, reach)
        shown = await graphql(client, ORDER, {"id": placed["order"]["id"]}, reach)
    assert placed["errors"] == [] and placed["replayed"] is False
    order = placed["order"]
    assert NUMBER.match(order["number"]), order["number"]
    assert (order["status"], order["fulfilment"], order["channel"]) == (
        "PLACED",
        "CLICK_AND_COLLECT",
        "WEB",
    )
    assert order["pickupStore"] == {"code": "OSL"} and order["store"] is None
    assert order["lines"] == [
        {
            "name": "Melk",
            "gtin": milk,
            "quantity": 3,
            "unitPrice": {"amount": 2490},
            "regularUnitPrice": {"amount": 2490},
            "campaignName": None,
            "lineTotal": {"amount": 7470},
            "product": {"name": "Melk"},
        },
        {
            "name": "Nøtter",
            "gtin": nuts,
            "quantity": 2,
            "unitPrice": {"amount": 3990},
            "regularUnitPrice": {"amount": 4990},
            "campaignName": "Ukens tilbud",
            "lineTotal": {"amount": 7980},
            "product": {"name": "Nøtter"},
        },
    ]
    assert order["subtotal"] == order["total"] == {"amount": 7470 + 7980, "currency": "NOK"}
    assert order["history"] == [{"fromStatus": None, "toStatus": "PLACED", "actor": "guest"}]
    # A guest's whole cart became the order: the cart is closed, the token reaches the order.
    assert placed["cart"] is None
    assert cart_after == {"data": {"cart": None}}
    assert shown["data"]["order"] == order
    assert await stock_figures(db, location, milk_id) == (5, 1 + 3, 3)
    assert await stock_figures(db, location, nuts_id) == (2, 2, 2)
    async with db.transaction(write=False) as session:
        status = await session.scalar(select(Cart.status))
        noted = set(
            (
                await session.execute(select(OutboxEvent.entity_id).where(OutboxEvent.id > 2))
            ).scalars()
        )
    assert status == "closed"
    assert {milk_id, nuts_id} <= noted


async def test_delivery_reserves_online_and_a_customer_gets_a_fresh_cart(
    db: Database, tmp_path: Path
) -> None:
    online = await add_online_warehouse(db)
    _, store_location = await add_store(db, "OSL")
    code = fresh_ean13()
    pid = await add_product(db, gtins=[code], stock={online: (4, 0), store_location: (9, 0)})
    async with client_for(db, tmp_path) as client:
        session = await sign_up(client, "kari@example.com")
        cart, _ = await filled_cart(client, [(code, 4)], session)
        placed = await checkout(
            client,
            session,
            cartId=cart["id"],
            expectedVersion=cart["version"],
            fulfilment={"delivery": {"address": "  Storgata 1,\n 0155 Oslo "}},
            channel="APP",
        )
        me = await graphql(
            client, "{ me { cart { id version lines { quantity } } } }", headers=session
        )
        mine = await graphql(client, MY_ORDERS, headers=session)
        stranger = await graphql(client, MY_ORDERS, headers=await sign_up(client, "x@example.com"))
    assert placed["errors"] == []
    order = placed["order"]
    assert (order["fulfilment"], order["channel"], order["deliveryAddress"]) == (
        "DELIVERY",
        "APP",
        "Storgata 1, 0155 Oslo",
    )
    assert order["pickupStore"] is None and order["pickupDeadline"] is None
    fresh = placed["cart"]
    assert fresh["id"] != cart["id"] and fresh["version"] == 1 and fresh["lines"] == []
    assert me["data"]["me"]["cart"] == {"id": fresh["id"], "version": 1, "lines": []}
    assert mine["data"]["orders"]["edges"] == [
        {"node": {"number": order["number"], "status": "PLACED"}}
    ]
    assert stranger["data"]["orders"]["edges"] == []
    assert await stock_figures(db, online, pid) == (4, 4, 4)
    assert await stock_figures(db, store_location, pid) == (9, 0, 0)


async def test_not_enough_stock_names_every_short_line_and_reserves_nothing(
    db: Database, tmp_path: Path
) -> None:
    store_id, location = await add_store(db, "OSL", "Oslo Storo")
    plenty, few, none = fresh_ean13(), fresh_ean13(), fresh_ean13()
    plenty_id = await add_product(db, gtins=[plenty], name="Plenty", stock={location: (50, 0)})
    few_id = await add_product(db, gtins=[few], name="Few", stock={location: (3, 1)})
    none_id = await add_product(db, gtins=[none], name="None", stock={})
    async with client_for(db, tmp_path) as client:
        cart, reach = await filled_cart(client, [(plenty, 5), (few, 3), (none, 1)])
        refused = await collect(client, reach, cart, store_id)
        still = await graphql(client, CART, {"id": cart["id"]}, reach)
    line_ids = [line["id"] for line in cart["lines"]]
    assert refused["order"] is None
    assert [(e["code"], e["field"]) for e in refused["errors"]] == [("INSUFFICIENT_STOCK", None)]
    assert refused["errors"][0]["message"] == (
        "Not enough stock at Oslo Storo. Few: 3 asked, 2 available; None: 1 asked, 0 available."
    )
    assert refused["unavailableLines"] == [
        {
            "lineId": line_ids[1],
            "productId": encode_id("Product", few_id),
            "requested": 3,
            "available": 2,
        },
        {
            "lineId": line_ids[2],
            "productId": encode_id("Product", none_id),
            "requested": 1,
            "available": 0,
        },
    ]
    # Nothing changed: not the stock, not the cart.
    assert await stock_figures(db, location, plenty_id) == (50, 0, 0)
    assert await stock_figures(db, location, few_id) == (3, 1, 0)
    assert still["data"]["cart"]["version"] == cart["version"]


async def test_a_stale_version_conflicts_with_the_current_cart(
    db: Database, tmp_path: Path
) -> None:
    store_id, location, code, pid = await store_with_product(db)
    async with client_for(db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        seen = await add_lines(client, cart_id, reach, [(code, 1)])
        now = await add_lines(client, cart_id, reach, [(code, 1)])
        stale = await checkout(
            client,
            reach,
            cartId=cart_id,
            expectedVersion=seen["version"],
            fulfilment=collect_at(store_id),
        )
    assert [(e["code"], e["field"]) for e in stale["errors"]] == [
        ("VERSION_CONFLICT", "expectedVersion")
    ]
    assert stale["cart"]["version"] == now["version"] and stale["order"] is None
    assert await stock_figures(db, location, pid) == (5, 0, 0)


async def test_a_retry_with_the_same_key_answers_the_order_already_placed(
    db: Database, tmp_path: Path
) -> None:
    store_id, location, code, pid = await store_with_product(db)
    async with client_for(db, tmp_path) as client:
        session = await sign_up(client, "retry@example.com")
        cart, _ = await filled_cart(client, [(code, 2)], session)
        request = {
            "cartId": cart["id"],
            "expectedVersion": cart["version"],
            "fulfilment": collect_at(store_id),
            "idempotencyKey": "checkout-1",
        }
        first = await checkout(client, session, **request)
        retry = await checkout(client, session, **request)
        other = await checkout(client, session, **{**request, "channel": "APP"})
        stranger = await checkout(client, await sign_up(client, "s@example.com"), **request)
    assert first["errors"] == [] and first["replayed"] is False
    assert retry["errors"] == [] and retry["replayed"] is True
    assert retry["order"] == first["order"]
    assert retry["cart"] == first["cart"]
    assert [(e["code"], e["field"]) for e in other["errors"]] == [
        ("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")
    ]
    assert [e["code"] for e in stranger["errors"]] == ["NOT_FOUND"]
    assert await stock_figures(db, location, pid) == (5, 2, 2)


async def test_nobody_else_reaches_the_cart_or_the_order(db: Database, tmp_path: Path) -> None:
    store_id, _, code, _ = await store_with_product(db)
    async with client_for(db, tmp_path) as client:
        cart, reach = await filled_cart(client, [(code, 1)])
        other_id, other_reach = await new_cart(client)
        theirs = await collect(client, other_reach, cart, store_id)
        placed = await collect(client, reach, cart, store_id)
        order_id, number = placed["order"]["id"], placed["order"]["number"]
        seen_by_other = await graphql(client, ORDER, {"id": order_id}, other_reach)
        by_number = await graphql(client, BY_NUMBER, {"n": number.replace("-", " ")}, reach)
        typo = await graphql(
            client, BY_NUMBER, {"n": number[:-1] + str((int(number[-1]) + 1) % 10)}, reach
        )
        node = await graphql(
            client, "query N($id: ID!) { node(id: $id) { id } }", {"id": order_id}, reach
        )
    assert [e["code"] for e in theirs["errors"]] == ["NOT_FOUND"]
    assert other_id != cart["id"]
    assert seen_by_other == {"data": {"order": None}}
    assert by_number == {"data": {"orderByNumber": {"id": order_id, "number": number}}}
    assert typo == {"data": {"orderByNumber": None}}
    assert node == {"data": {"node": {"id": order_id}}}


async def test_bad_fulfilment_and_channel_are_refused(db: Database, tmp_path: Path) -> None:
    store_id, _, code, _ = await store_with_product(db)
    async with client_for(db, tmp_path) as client:
        cart, reach = await filled_cart(client, [(code, 1)])
        base = {"cartId": cart["id"], "expectedVersion": cart["version"]}
        both = await checkout(
            client,
            reach,
            **base,
            fulfilment={**collect_at(store_id), "delivery": {"address": "x"}},
        )
        neither = await checkout(client, reach, **base, fulfilment={})
        blank = await checkout(client, reach, **base, fulfilment={"delivery": {"address": " "}})
        no_store = await checkout(client, reach, **base, fulfilment=collect_at(999))
        no_warehouse = await checkout(
            client, reach, **base, fulfilment={"delivery": {"address": "a"}}
        )
        kiosk = await checkout(
            client, reach, **base, fulfilment=collect_at(store_id), channel="KIOSK"
        )
        empty_cart, empty_reach = await new_cart(client)
        empty = await checkout(
            client,
            empty_reach,
            cartId=empty_cart,
            expectedVersion=1,
            fulfilment=collect_at(store_id),
        )
    assert [(e["code"], e["field"]) for e in both["errors"]] == [("INVALID_INPUT", "fulfilment")]
    assert [(e["code"], e["field"]) for e in neither["errors"]] == [("INVALID_INPUT", "fulfilment")]
    assert [(e["code"], e["field"]) for e in blank["errors"]] == [
        ("INVALID_INPUT", "fulfilment.delivery.address")
    ]
    assert [(e["code"], e["field"]) for e in no_store["errors"]] == [
        ("NOT_FOUND", "fulfilment.clickAndCollect.storeId")
    ]
    assert [(e["code"], e["field"]) for e in no_warehouse["errors"]] == [
        ("NOT_FOUND", "fulfilment")
    ]
    assert [(e["code"], e["field"]) for e in kiosk["errors"]] == [("INVALID_INPUT", "channel")]
    assert [(e["code"], e["field"]) for e in empty["errors"]] == [("INVALID_INPUT", "cartId")]


KIOSK_CART = """
query KioskCart($id: ID!, $storeId: ID!) {
  cart(id: $id) {
    version
    lines {
      id quantity product { name }
      fulfilmentOptions(storeId: $storeId) {
        availableHere onShelfHere collectHere delivery availableOnline recommended
        collectAt { code }
      }
    }
  }
}
"""


ORDERED_LINES = """
query Ordered($id: ID!) {
  cart(id: $id) { orderedLines { orderId orderNumber orderStatus fulfilment name gtin quantity } }
}
"""


async def test_a_kiosk_splits_the_cart_into_shelf_lines_and_an_order(
    db: Database, tmp_path: Path
) -> None:
    online = await add_online_warehouse(db)
    here_id, here = await add_store(db, "OSL")
    there_id, there = await add_store(db, "BGO")
    shelf, elsewhere, web = fresh_ean13(), fresh_ean13(), fresh_ean13()
    await add_product(db, gtins=[shelf], name="Shelf", stock={here: (10, 0), online: (5, 0)})
    elsewhere_id = await add_product(
        db, gtins=[elsewhere], name="Elsewhere", stock={here: (1, 0), there: (6, 0)}
    )
    await add_product(db, gtins=[web], name="Web", stock={online: (8, 0)})
    kiosk = {"Authorization": f"Bearer {await add_device(db, 'OSL', 'kiosk')}"}
    async with client_for(db, tmp_path) as client:
        session = await sign_up(client, "split@example.com")
        cart_id, _ = await new_cart(client, session)
        await add_lines(client, cart_id, session, [(shelf, 2), (elsewhere, 2), (web, 1)])
        await hand_over(client, cart_id, session, kiosk)
        view = await graphql(
            client, KIOSK_CART, {"id": cart_id, "storeId": encode_id("Store", here_id)}, kiosk
        )
        lines = view["data"]["cart"]["lines"]
        to_order = [line["id"] for line in lines if not line["fulfilmentOptions"]["onShelfHere"]]
        placed = await checkout(
            client,
            kiosk,
            cartId=cart_id,
            expectedVersion=view["data"]["cart"]["version"],
            fulfilment=collect_at(there_id),
            lineIds=to_order[:1],
        )
        phone = await graphql(client, CART, {"id": cart_id}, session)
        ordered = await graphql(client, ORDERED_LINES, {"id": cart_id}, session)
    options = {line["product"]["name"]: line["fulfilmentOptions"] for line in lines}
    assert options == {
        "Shelf": {
            "availableHere": 10,
            "onShelfHere": True,
            "collectHere": True,
            "delivery": True,
            "availableOnline": 5,
            "recommended": "SHELF_HERE",
            "collectAt": [],
        },
        "Elsewhere": {
            "availableHere": 1,
            "onShelfHere": False,
            "collectHere": False,
            "delivery": False,
            "availableOnline": 0,
            "recommended": "COLLECT_ELSEWHERE",
            "collectAt": [{"code": "BGO"}],
        },
        "Web": {
            "availableHere": 0,
            "onShelfHere": False,
            "collectHere": False,
            "delivery": True,
            "availableOnline": 8,
            "recommended": "DELIVERY",
            "collectAt": [],
        },
    }
    assert placed["errors"] == []
    order = placed["order"]
    assert (order["channel"], order["store"], order["pickupStore"]) == (
        "KIOSK",
        {"code": "OSL"},
        {"code": "BGO"},
    )
    assert [(line["name"], line["quantity"]) for line in order["lines"]] == [("Elsewhere", 2)]
    assert order["history"][0]["actor"] == "kiosk"
    # The rest stays in the shopper's cart, one version on; the kiosk still works on it.
    assert [line["product"]["name"] for line in placed["cart"]["lines"]] == ["Shelf", "Web"]
    assert phone["data"]["cart"]["version"] == placed["cart"]["version"]
    assert phone["data"]["cart"]["lines"] == [{"quantity": 2}, {"quantity": 1}]
    # The phone shows the line that left as ordered, with its order's number.
    assert ordered["data"]["cart"]["orderedLines"] == [
        {
            "orderId": order["id"],
            "orderNumber": order["number"],
            "orderStatus": "PLACED",
            "fulfilment": "CLICK_AND_COLLECT",
            "name": "Elsewhere",
            "gtin": elsewhere,
            "quantity": 2,
        }
    ]
    assert await stock_figures(db, there, elsewhere_id) == (6, 2, 2)
    assert await stock_figures(db, here, elsewhere_id) == (1, 0, 0)


async def test_line_ids_must_be_lines_of_the_cart(db: Database, tmp_path: Path) -> None:
    store_id, _, code, _ = await store_with_product(db)
    async with client_for(db, tmp_path) as client:
        cart, reach = await filled_cart(client, [(code, 1)])
        line = cart["lines"][0]["id"]
        base = {
            "cartId": cart["id"],
            "expectedVersion": cart["version"],
            "fulfilment": collect_at(store_id),
        }
        stranger = await checkout(client, reach, **base, lineIds=[encode_id("CartLine", 999)])
        twice = await checkout(client, reach, **base, lineIds=[line, line])
        none = await checkout(client, reach, **base, lineIds=[])
    assert [(e["code"], e["field"]) for e in stranger["errors"]] == [("NOT_FOUND", "lineIds[0]")]
    assert [(e["code"], e["field"]) for e in twice["errors"]] == [("INVALID_INPUT", "lineIds[1]")]
    assert [(e["code"], e["field"]) for e in none["errors"]] == [("INVALID_INPUT", "lineIds")]


async def test_prices_are_those_in_force_at_checkout(db: Database, tmp_path: Path) -> None:
    store_id, _, code, pid = await store_with_product(db, price=5000, on_hand=9)
    now = utcnow()
    await add_campaign(db, pid, 3000, name="Over", starts_at=now - timedelta(days=3), ends_at=now)
    await add_campaign(
        db, pid, 2000, name="Later", starts_at=now + timedelta(hours=1), ends_at=None
    )
    await add_campaign(db, pid, 4500, name="Now", starts_at=now - timedelta(hours=1), ends_at=None)
    async with client_for(db, tmp_path) as client:
        cart, reach = await filled_cart(client, [(code, 2)])
        placed = await collect(client, reach, cart, store_id)
    line = placed["order"]["lines"][0]
    assert (line["unitPrice"], line["campaignName"], line["lineTotal"]) == (
        {"amount": 4500},
        "Now",
        {"amount": 9000},
    )


async def test_order_numbers_are_unique_and_carry_a_check_digit(
    db: Database, tmp_path: Path
) -> None:
    from server.orders import normalise_order_number

    store_id, _, code, _ = await store_with_product(db, on_hand=50)
    numbers = []
    async with client_for(db, tmp_path) as client:
        for _ in range(5):
            cart, reach = await filled_cart(client, [(code, 1)])
            placed = await collect(client, reach, cart, store_id)
            numbers.append(placed["order"]["number"])
    assert len(set(numbers)) == 5
    for number in numbers:
        assert normalise_order_number(number.lower().replace("-", "")) == number
        digits = list(number)
        digits[7] = str((int(digits[7]) + 1) % 10)
        assert normalise_order_number("".join(digits)) is None
    async with db.transaction(write=False) as session:
        assert await session.scalar(select(func.count()).select_from(Cart)) == 5


async def test_a_staff_tablet_orders_for_a_shopper_with_channel_staff(
    db: Database, tmp_path: Path
) -> None:
    store_id, _, code, _ = await store_with_product(db)
    tablet = {"Authorization": f"Bearer {await add_device(db, 'OSL', 'staff')}"}
    async with client_for(db, tmp_path) as client:
        cart, phone = await filled_cart(client, [(code, 1)])
        await hand_over(client, cart["id"], phone, tablet)
        placed = await collect(client, tablet, cart, store_id, channel="WEB")
        seen_by_phone = await graphql(client, ORDER, {"id": placed["order"]["id"]}, phone)
    assert (placed["order"]["channel"], placed["order"]["store"]) == ("STAFF", {"code": "OSL"})
    assert placed["order"]["history"][0]["actor"] == "device"
    assert seen_by_phone["data"]["order"]["channel"] == "STAFF"
