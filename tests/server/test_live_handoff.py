"""The phone follows its handoff code over a real socket: a kiosk's claim reaches it at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from server.db import Database
from tests.clients import graphql, new_cart, settings_for
from tests.live import GraphQLWebSocket, serve_in_thread
from tests.rows import add_device, add_store

HANDOFF_UPDATED = """
subscription Handoff($cartId: ID!) {
  cartHandoffUpdated(cartId: $cartId) { expiresAt claimedAt claimedAtStore { code name } }
}
"""
CREATE = """
mutation Handoff($input: CartHandoffCreateInput!) {
  cartHandoffCreate(input: $input) { code expiresAt errors { code } }
}
"""
CLAIM = """
mutation Claim($input: CartHandoffClaimInput!) {
  cartHandoffClaim(input: $input) { cart { id } errors { code } }
}
"""


def status_of(message: dict[str, Any]) -> dict[str, Any]:
    assert message["type"] == "next", message
    assert "errors" not in message["payload"], message
    return message["payload"]["data"]["cartHandoffUpdated"]  # type: ignore[no-any-return]


async def test_the_phone_hears_when_a_kiosk_claims_its_code(db: Database, tmp_path: Path) -> None:
    await add_store(db, "OSL", name="Oslo Storo")
    kiosk = {"Authorization": f"Bearer {await add_device(db, 'OSL', 'kiosk')}"}
    with serve_in_thread(settings_for(db, tmp_path)) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as client:
            cart_id, reach = await new_cart(client)
            issued = (await graphql(client, CREATE, {"input": {"cartId": cart_id}}, reach))["data"][
                "cartHandoffCreate"
            ]
            params = {"cartToken": reach["X-Cart-Token"]}
            async with GraphQLWebSocket.connect(base_url, params) as ws:
                op = await ws.subscribe(HANDOFF_UPDATED, {"cartId": cart_id})
                now = status_of(await ws.next(op))
                claimed = await graphql(client, CLAIM, {"input": {"code": issued["code"]}}, kiosk)
                assert claimed["data"]["cartHandoffClaim"]["errors"] == []
                after = status_of(await ws.next(op))
    assert now == {"expiresAt": issued["expiresAt"], "claimedAt": None, "claimedAtStore": None}
    assert after["expiresAt"] == issued["expiresAt"]
    assert after["claimedAt"] is not None
    assert after["claimedAtStore"] == {"code": "OSL", "name": "Oslo Storo"}


async def test_only_the_carts_holder_follows_its_code(db: Database, tmp_path: Path) -> None:
    await add_store(db, "OSL")
    kiosk_token = await add_device(db, "OSL", "kiosk")
    with serve_in_thread(settings_for(db, tmp_path)) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as client:
            cart_id, reach = await new_cart(client)
            without_code = cart_id
            other_id, other = await new_cart(client)
            await graphql(client, CREATE, {"input": {"cartId": other_id}}, other)
        attempts = [
            ({"cartToken": reach["X-Cart-Token"]}, without_code),
            ({"cartToken": "ct_wrong"}, other_id),
            ({"authorization": f"Bearer {kiosk_token}"}, other_id),
        ]
        for params, target in attempts:
            async with GraphQLWebSocket.connect(base_url, params) as ws:
                op = await ws.subscribe(HANDOFF_UPDATED, {"cartId": target})
                refused = await ws.next(op)
                assert refused["payload"]["data"] is None, params
                codes = [e["extensions"]["code"] for e in refused["payload"]["errors"]]
                assert codes == ["NOT_FOUND"]
