"""Shared pieces of the stock tests: the record mutation, movement builders, level reads."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select

from schema.ids import encode_id
from server.db import Database
from server.models import StockLevel
from tests.clients import graphql

RECORD = """
mutation Record($input: StockMovementsRecordInput!) {
  stockMovementsRecord(input: $input) {
    applied replayed
    shortfalls { index movementId kind requested applied unknownUnits reservedUnits
                 product { gtin } store { code } }
    rejected { index movementId code field message }
    errors { code field message }
  }
}
"""
_ids = itertools.count(1)


def movement_id() -> str:
    """Return a movement id no other call returns in this run."""
    return f"mv-{next(_ids):06d}"


def ago(minutes: float) -> str:
    """Return an ISO time ``minutes`` before now, in UTC."""
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


def movement(
    gtin: str, store_id: int | None, kind: str, quantity: int, **extra: Any
) -> dict[str, Any]:
    """Return a StockMovementInput with a fresh id, happening a minute ago unless told."""
    return {
        "movementId": extra.pop("movementId", None) or movement_id(),
        "gtin": gtin,
        "storeId": encode_id("Store", store_id) if store_id is not None else None,
        "kind": kind,
        "quantity": quantity,
        "occurredAt": extra.pop("occurredAt", None) or ago(1),
        **extra,
    }


async def record(
    client: httpx.AsyncClient, token: str, movements: list[dict[str, Any]]
) -> dict[str, Any]:
    """Send movements as a device; return the payload."""
    body = await graphql(
        client, RECORD, {"input": {"movements": movements}}, {"Authorization": f"Bearer {token}"}
    )
    assert "errors" not in body, body
    return body["data"]["stockMovementsRecord"]  # type: ignore[index,no-any-return]


async def level(db: Database, location_id: int, product_id: int) -> tuple[int, int]:
    """Return (on hand, reserved) of a product at a location."""
    async with db.transaction(write=False) as session:
        row = (
            await session.execute(
                select(StockLevel.on_hand, StockLevel.reserved).where(
                    StockLevel.location_id == location_id, StockLevel.product_id == product_id
                )
            )
        ).one()
    return int(row[0]), int(row[1])
