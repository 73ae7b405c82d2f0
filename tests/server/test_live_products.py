"""``productUpdated`` over real sockets: a product page follows the stock while it is open."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from schema.ids import encode_id
from server.db import Database
from tests.clients import settings_for
from tests.conftest import REDIS_URL, require_service
from tests.live import GraphQLWebSocket, serve_in_process, serve_in_thread
from tests.rows import add_device, store_with_product
from tests.stock_helpers import movement, record

UPDATED = """
subscription Follow($gtin: String!, $storeId: ID) {
  productUpdated(gtin: $gtin, storeId: $storeId) {
    gtin availability { here { available status } }
  }
}
"""
# Within a second, as the issue asks of an open page.
WITHIN = 1.0


def here_of(message: dict[str, Any]) -> dict[str, Any]:
    assert message["type"] == "next", message
    assert "errors" not in message["payload"], message
    return message["payload"]["data"]["productUpdated"]["availability"]["here"]  # type: ignore[no-any-return]


async def test_an_open_subscription_sees_a_till_sale_within_a_second(
    db: Database, tmp_path: Path
) -> None:
    store_id, _, code, _ = await store_with_product(db, "OSL", on_hand=5)
    till = await add_device(db, "OSL", "pos")
    settings = settings_for(db, tmp_path, index_on_start=False, low_stock_threshold=3)
    variables = {"gtin": code, "storeId": encode_id("Store", store_id)}
    with serve_in_thread(settings) as url:
        async with GraphQLWebSocket.connect(url) as ws:
            op = await ws.subscribe(UPDATED, variables)
            assert here_of(await ws.next(op)) == {"available": 5, "status": "IN_STOCK"}
            async with httpx.AsyncClient(base_url=url, timeout=10) as client:
                await record(client, till, [movement(code, store_id, "SALE", 4)])
                assert here_of(await ws.next(op, WITHIN)) == {"available": 1, "status": "LOW_STOCK"}
                await record(client, till, [movement(code, store_id, "SALE", 1)])
                assert here_of(await ws.next(op, WITHIN)) == {
                    "available": 0,
                    "status": "OUT_OF_STOCK",
                }


async def test_an_unknown_or_malformed_barcode_ends_the_subscription_with_its_code(
    db: Database, tmp_path: Path
) -> None:
    settings = settings_for(db, tmp_path, index_on_start=False)
    with serve_in_thread(settings) as url:
        async with GraphQLWebSocket.connect(url) as ws:
            unknown = await ws.next(await ws.subscribe(UPDATED, {"gtin": "7038010009457"}))
            malformed = await ws.next(await ws.subscribe(UPDATED, {"gtin": "7038010009458"}))
    for message, code in ((unknown, "NOT_FOUND"), (malformed, "INVALID_GTIN")):
        assert (message["type"], message["payload"]["data"]) == ("next", None)
        assert [e["extensions"]["code"] for e in message["payload"]["errors"]] == [code]


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_sale_on_one_worker_reaches_a_subscriber_on_another_through_redis(
    shared_postgres: Database, tmp_path: Path
) -> None:
    if not REDIS_URL:
        require_service("Redis", "OMNICART_TEST_REDIS_URL")
    store_id, _, code, _ = await store_with_product(shared_postgres, "OSL", on_hand=2)
    till = await add_device(shared_postgres, "OSL", "pos")
    env = {
        "OMNICART_DATABASE_URL": shared_postgres.url,
        "OMNICART_BROKER_URL": REDIS_URL,
        "OMNICART_SECRET_KEY": uuid.uuid4().hex,
        "OMNICART_DATA_DIR": str(tmp_path / "data"),
        "OMNICART_INDEX_ON_START": "false",
    }
    variables = {"gtin": code, "storeId": encode_id("Store", store_id)}
    with serve_in_process(env) as first, serve_in_process(env) as second:
        async with GraphQLWebSocket.connect(second) as ws:
            op = await ws.subscribe(UPDATED, variables)
            assert here_of(await ws.next(op)) == {"available": 2, "status": "LOW_STOCK"}
            async with httpx.AsyncClient(base_url=first, timeout=10) as client:
                await record(client, till, [movement(code, store_id, "SALE", 2)])
            assert here_of(await ws.next(op, WITHIN)) == {"available": 0, "status": "OUT_OF_STOCK"}
