"""The per-process publisher: notices go out after commit from a background task, coalesced."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from schema.ids import decode_id
from server.db import Database
from server.events import Message, RedisBroker, cart_topic
from tests.clients import client_of, graphql, new_cart, runtime_for
from tests.documents import ADD_LINES
from tests.rows import add_product, add_store, fresh_ean13


async def test_a_burst_of_50_changes_publishes_the_newest_version_last_and_never_goes_back(
    db: Database, tmp_path: Path
) -> None:
    _store, location = await add_store(db, "OSL")
    code = fresh_ean13()
    await add_product(db, gtins=[code], stock={location: (20, 0)})
    runtime = runtime_for(db, tmp_path, index_on_start=False)
    async with client_of(runtime) as client:
        cart_id, reach = await new_cart(client)
        raw_id = int(decode_id(cart_id, "Cart"))
        variables = {"input": {"cartId": cart_id, "lines": [{"gtin": code, "quantity": 1}]}}
        async with runtime.events.subscribe(cart_topic(raw_id)) as notices:
            bodies = await asyncio.gather(
                *(graphql(client, ADD_LINES, variables, reach) for _ in range(50))
            )
            await runtime.publisher.flush()
            heard: list[Message] = []
            while True:
                try:
                    heard.append(await asyncio.wait_for(anext(notices), 0.05))
                except TimeoutError:
                    break
    versions = [body["data"]["cartLinesAdd"]["cart"]["version"] for body in bodies]  # type: ignore[index]
    assert sorted(versions) == list(range(2, 52))
    published = [notice["version"] for notice in heard]
    assert published[-1] == 51
    assert published == sorted(set(published))
    assert all(notice["id"] == raw_id for notice in heard)
    await runtime.close()


async def test_a_failed_publish_does_not_fail_the_change_and_later_notices_still_go_out(
    sqlite_db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = sqlite_db
    _store, location = await add_store(db, "OSL")
    code = fresh_ean13()
    await add_product(db, gtins=[code], stock={location: (20, 0)})
    runtime = runtime_for(db, tmp_path, index_on_start=False)
    # Nothing listens on port 1: every publish raises a connection error.
    runtime.events = RedisBroker("redis://127.0.0.1:1/0")
    caplog.set_level(logging.WARNING, "omnicart.events")
    async with client_of(runtime) as client:
        cart_id, reach = await new_cart(client)
        # Each notice goes out before the next change (else they coalesce into one).
        await runtime.publisher.flush()
        variables = {"input": {"cartId": cart_id, "lines": [{"gtin": code, "quantity": 2}]}}
        first = await graphql(client, ADD_LINES, variables, reach)
        await runtime.publisher.flush()
        second = await graphql(client, ADD_LINES, variables, reach)
        await runtime.publisher.flush()
    assert first["data"]["cartLinesAdd"]["errors"] == []  # type: ignore[index]
    assert first["data"]["cartLinesAdd"]["cart"]["version"] == 2  # type: ignore[index]
    assert second["data"]["cartLinesAdd"]["cart"]["lines"][0]["quantity"] == 4  # type: ignore[index]
    # The created cart's notice and both changes' were tried (the task outlived each failure).
    topic = cart_topic(int(decode_id(cart_id, "Cart")))
    failed = [r.getMessage() for r in caplog.records if r.name == "omnicart.events"]
    assert [message.split(": Error")[0] for message in failed] == [
        f"publishing on {topic} failed"
    ] * 3
    await runtime.close()
