"""The whole in-store journey over HTTP and WebSocket against a real uvicorn on loopback.

Phone scans and adds, the desktop signs in and sees the merged cart, the kiosk picks the
cart up with the handoff code, leaves the shelf items in the cart and orders the rest for
click-and-collect at another store; that store's staff mark it ready (the phone hears it
live) and collected. Stock is checked after every step.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from schema.ids import encode_id
from server.db import Database
from tests.clients import graphql, settings_for, staff_sign_in
from tests.documents import ADD_LINES, CART_CREATE, HANDOFF_CLAIM, HANDOFF_CREATE, SIGN_UP
from tests.live import GraphQLWebSocket, serve_in_thread
from tests.rows import (
    add_device,
    add_online_warehouse,
    add_product,
    add_staff,
    add_store,
    fresh_ean13,
    stock_figures,
)

PASSWORD = "correct horse battery"
SCAN = """
mutation Scan($input: ScanInput!, $storeId: ID) {
  scan(input: $input) {
    product { name availability(storeId: $storeId) { here { available } } } errors { code }
  }
}
"""
SIGN_IN = """
mutation SignIn($input: CustomerSignInInput!) {
  customerSignIn(input: $input) {
    token cart { id version lines { quantity product { name } } } errors { code }
  }
}
"""
ME = "{ me { cart { id version lines { quantity product { name } } } } }"
KIOSK_CART = """
query KioskCart($id: ID!, $storeId: ID!) {
  cart(id: $id) {
    version
    lines {
      id quantity product { name }
      fulfilmentOptions(storeId: $storeId) { onShelfHere recommended collectAt { code } }
    }
  }
}
"""
CHECKOUT = """
mutation Checkout($input: CheckoutInput!) {
  checkout(input: $input) {
    order { id number status channel store { code } pickupStore { code } lines { name quantity } }
    cart { id version lines { quantity product { name } } }
    errors { code message }
  }
}
"""
ORDER_UPDATED = """
subscription Follow($orderId: ID!) { orderUpdated(orderId: $orderId) { id status version } }
"""
MARK = """
mutation Mark($input: OrderActionInput!, $ready: Boolean!) {
  ready: orderMarkReady(input: $input) @include(if: $ready) { order { status } errors { code } }
  collected: orderMarkCollected(input: $input) @skip(if: $ready) {
    order { status } errors { code }
  }
}
"""
AVAILABLE = """
query Page($gtin: String!) {
  product(gtin: $gtin) { availability { stores { store { code } available } } }
}
"""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def order_of(message: dict[str, Any]) -> dict[str, Any]:
    assert message["type"] == "next", message
    assert "errors" not in message["payload"], message
    return message["payload"]["data"]["orderUpdated"]  # type: ignore[no-any-return]


async def available_per_store(client: httpx.AsyncClient, gtin: str) -> dict[str, int]:
    body = await graphql(client, AVAILABLE, {"gtin": gtin})
    stores = body["data"]["product"]["availability"]["stores"]  # type: ignore[index]
    return {level["store"]["code"]: level["available"] for level in stores}


async def test_scan_merge_kiosk_split_collect_elsewhere_and_live_order_updates(
    db: Database, tmp_path: Path
) -> None:
    online = await add_online_warehouse(db)
    osl_id, osl = await add_store(db, "OSL", "Oslo Storo")
    bgo_id, bgo = await add_store(db, "BGO", "Bergen Lagunen")
    cheese, coffee, milk = fresh_ean13(), fresh_ean13(), fresh_ean13()
    cheese_id = await add_product(db, gtins=[cheese], name="Brunost", stock={osl: (6, 0)})
    coffee_id = await add_product(
        db, gtins=[coffee], name="Kaffe", stock={osl: (0, 0), bgo: (4, 0), online: (1, 0)}
    )
    await add_product(db, gtins=[milk], name="Melk", stock={osl: (30, 0)})
    kiosk = bearer(await add_device(db, "OSL", "kiosk"))
    await add_staff(db, "berit@shop.no", store_code="BGO", name="Berit")
    osl_gid, bgo_gid = encode_id("Store", osl_id), encode_id("Store", bgo_id)

    with serve_in_thread(settings_for(db, tmp_path, index_on_start=False)) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=20) as http:
            # The shopper has an account from before.
            signed_up = await graphql(
                http, SIGN_UP, {"input": {"email": "kari@example.com", "password": PASSWORD}}
            )
            assert signed_up["data"]["customerSignUp"]["errors"] == []

            # Phone, not signed in yet: scans two products in Oslo and adds them.
            created = (await graphql(http, CART_CREATE))["data"]["cartCreate"]
            cart_id, phone = created["cart"]["id"], {"X-Cart-Token": created["cartToken"]}
            for code, quantity in ((cheese, 1), (coffee, 2)):
                scanned = await graphql(
                    http,
                    SCAN,
                    {"input": {"code": code, "storeId": osl_gid}, "storeId": osl_gid},
                    phone,
                )
                assert scanned["data"]["scan"]["errors"] == []
                variables = {
                    "input": {"cartId": cart_id, "lines": [{"gtin": code, "quantity": quantity}]}
                }
                assert (await graphql(http, ADD_LINES, variables, phone))["data"]["cartLinesAdd"][
                    "errors"
                ] == []
            assert scanned["data"]["scan"]["product"]["availability"]["here"] == {"available": 0}

            # The phone signs in: its guest cart becomes the customer's cart.
            phone_in = (
                await graphql(
                    http,
                    SIGN_IN,
                    {
                        "input": {
                            "email": "kari@example.com",
                            "password": PASSWORD,
                            "cartId": cart_id,
                        }
                    },
                    phone,
                )
            )["data"]["customerSignIn"]
            assert phone_in["errors"] == [] and phone_in["cart"]["id"] == cart_id
            phone = bearer(phone_in["token"])

            # The desktop had a guest cart with milk; signing in merges it in.
            desk = (await graphql(http, CART_CREATE))["data"]["cartCreate"]
            desk_reach = {"X-Cart-Token": desk["cartToken"]}
            variables = {
                "input": {"cartId": desk["cart"]["id"], "lines": [{"gtin": milk, "quantity": 2}]}
            }
            await graphql(http, ADD_LINES, variables, desk_reach)
            desk_in = (
                await graphql(
                    http,
                    SIGN_IN,
                    {
                        "input": {
                            "email": "kari@example.com",
                            "password": PASSWORD,
                            "cartId": desk["cart"]["id"],
                        }
                    },
                    desk_reach,
                )
            )["data"]["customerSignIn"]
            desktop = bearer(desk_in["token"])
            merged = (await graphql(http, ME, headers=desktop))["data"]["me"]["cart"]
            assert merged["id"] == cart_id
            assert [(line["product"]["name"], line["quantity"]) for line in merged["lines"]] == [
                ("Brunost", 1),
                ("Kaffe", 2),
                ("Melk", 2),
            ]
            assert (await graphql(http, ME, headers=phone))["data"]["me"]["cart"] == merged

            # At the kiosk in Oslo: the phone shows a code, the kiosk picks the cart up.
            code = (await graphql(http, HANDOFF_CREATE, {"input": {"cartId": cart_id}}, phone))[
                "data"
            ]["cartHandoffCreate"]["code"]
            claimed = (await graphql(http, HANDOFF_CLAIM, {"input": {"code": code}}, kiosk))[
                "data"
            ]["cartHandoffClaim"]
            assert claimed["errors"] == []
            view = (await graphql(http, KIOSK_CART, {"id": cart_id, "storeId": osl_gid}, kiosk))[
                "data"
            ]["cart"]
            where = {line["product"]["name"]: line["fulfilmentOptions"] for line in view["lines"]}
            assert where == {
                "Brunost": {"onShelfHere": True, "recommended": "SHELF_HERE", "collectAt": []},
                "Kaffe": {
                    "onShelfHere": False,
                    "recommended": "COLLECT_ELSEWHERE",
                    "collectAt": [{"code": "BGO"}],
                },
                "Melk": {"onShelfHere": True, "recommended": "SHELF_HERE", "collectAt": []},
            }
            to_order = [
                line["id"] for line in view["lines"] if not line["fulfilmentOptions"]["onShelfHere"]
            ]

            # The kiosk orders what the shelf lacks, for collection in Bergen.
            placed = (
                await graphql(
                    http,
                    CHECKOUT,
                    {
                        "input": {
                            "cartId": cart_id,
                            "expectedVersion": view["version"],
                            "lineIds": to_order,
                            "fulfilment": {"clickAndCollect": {"storeId": bgo_gid}},
                        }
                    },
                    kiosk,
                )
            )["data"]["checkout"]
            assert placed["errors"] == []
            order = placed["order"]
            assert (order["status"], order["channel"], order["store"], order["pickupStore"]) == (
                "PLACED",
                "KIOSK",
                {"code": "OSL"},
                {"code": "BGO"},
            )
            assert order["lines"] == [{"name": "Kaffe", "quantity": 2}]
            shelf = [
                (line["product"]["name"], line["quantity"]) for line in placed["cart"]["lines"]
            ]
            assert shelf == [("Brunost", 1), ("Melk", 2)]
            assert (await graphql(http, ME, headers=phone))["data"]["me"]["cart"]["lines"] == (
                placed["cart"]["lines"]
            )
            assert await stock_figures(db, bgo, coffee_id) == (4, 2, 2)
            assert await stock_figures(db, osl, cheese_id) == (6, 0, 0)
            assert await available_per_store(http, coffee) == {"BGO": 2, "OSL": 0}

            async with GraphQLWebSocket.connect(
                base_url, {"authorization": phone["Authorization"]}
            ) as phone_ws:
                follow = await phone_ws.subscribe(ORDER_UPDATED, {"orderId": order["id"]})
                # Subscribing answers the order as it is now.
                assert order_of(await phone_ws.next(follow)) == {
                    "id": order["id"],
                    "status": "PLACED",
                    "version": 1,
                }

                # Staff in Bergen pick the order and put it at the counter.
                staff = await staff_sign_in(http, "berit@shop.no")
                marked = await graphql(
                    http, MARK, {"input": {"orderId": order["id"]}, "ready": True}, staff
                )
                assert marked["data"]["ready"] == {
                    "order": {"status": "READY_FOR_PICKUP"},
                    "errors": [],
                }
                assert order_of(await phone_ws.next(follow))["status"] == "READY_FOR_PICKUP"
                assert await stock_figures(db, bgo, coffee_id) == (4, 2, 2)

                # The shopper collects it.
                marked = await graphql(
                    http, MARK, {"input": {"orderId": order["id"]}, "ready": False}, staff
                )
                assert marked["data"]["collected"]["order"] == {"status": "COLLECTED"}
                assert order_of(await phone_ws.next(follow)) == {
                    "id": order["id"],
                    "status": "COLLECTED",
                    "version": 3,
                }
            assert await stock_figures(db, bgo, coffee_id) == (2, 0, 0)
            assert await stock_figures(db, online, coffee_id) == (1, 0, 0)
            assert await available_per_store(http, coffee) == {"BGO": 2, "OSL": 0}


async def test_order_updates_reach_only_those_who_may_see_the_order(
    db: Database, tmp_path: Path
) -> None:
    osl_id, osl = await add_store(db, "OSL")
    await add_store(db, "BGO")
    code = fresh_ean13()
    await add_product(db, gtins=[code], stock={osl: (5, 0)})
    await add_staff(db, "osl@shop.no", store_code="OSL")
    await add_staff(db, "bgo@shop.no", store_code="BGO")
    with serve_in_thread(settings_for(db, tmp_path, index_on_start=False)) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=20) as http:
            created = (await graphql(http, CART_CREATE))["data"]["cartCreate"]
            guest = {"X-Cart-Token": created["cartToken"]}
            variables = {
                "input": {"cartId": created["cart"]["id"], "lines": [{"gtin": code, "quantity": 1}]}
            }
            version = (await graphql(http, ADD_LINES, variables, guest))["data"]["cartLinesAdd"][
                "cart"
            ]["version"]
            placed = await graphql(
                http,
                CHECKOUT,
                {
                    "input": {
                        "cartId": created["cart"]["id"],
                        "expectedVersion": version,
                        "fulfilment": {"clickAndCollect": {"storeId": encode_id("Store", osl_id)}},
                    }
                },
                guest,
            )
            order_id = placed["data"]["checkout"]["order"]["id"]
            osl_staff = await staff_sign_in(http, "osl@shop.no")
            bgo_staff = await staff_sign_in(http, "bgo@shop.no")
        allowed = [
            {"cartToken": guest["X-Cart-Token"]},
            {"authorization": osl_staff["Authorization"]},
        ]
        for params in allowed:
            async with GraphQLWebSocket.connect(base_url, params) as ws:
                op = await ws.subscribe(ORDER_UPDATED, {"orderId": order_id})
                assert order_of(await ws.next(op))["status"] == "PLACED"
        refused = [{}, {"authorization": bgo_staff["Authorization"]}, {"cartToken": "ct_wrong"}]
        for params in refused:
            async with GraphQLWebSocket.connect(base_url, params) as ws:
                op = await ws.subscribe(ORDER_UPDATED, {"orderId": order_id})
                message = await ws.next(op)
                assert message["type"] in ("next", "error"), message
                errors = (
                    message["payload"]["errors"]
                    if message["type"] == "next"
                    else message["payload"]
                )
                assert errors[0]["extensions"]["code"] == "NOT_FOUND"
