"""Notifications against a real SMTP server (aiosmtpd) and a real HTTP server (SMS, Web Push).

The test holds the push subscription's private key and auth secret, as a browser would, and
decrypts what the server pushed with ``http_ece``; the SMS gateway checks the signature.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from pathlib import Path
from typing import Any

import http_ece
import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import func, insert, select

from schema.ids import decode_id, encode_id
from server.config import Settings
from server.db import Database
from server.models import BackInStockRequest, Notification, OutboxEvent, utcnow
from server.notifications.channels import SIGNATURE_HEADER, sign
from server.notifications.complements import record_basket
from server.notifications.sender import Sender, sender_from_settings
from server.orders.placed import ORDER_PLACED, follow_all, follow_placed_orders
from tests.clients import client_for, collect_at, graphql, place_order, sign_up, staff_sign_in
from tests.rows import add_device, add_product, add_staff, add_store, store_with_product
from tests.server.test_write_statements import statements_of
from tests.stock_helpers import movement, record

SECRET = "test secret key for signing sms"
CREATE = """
mutation Create($input: CartCreateInput) {
  cartCreate(input: $input) { cart { id version } cartToken errors { code } }
}
"""
CHECKOUT = """
mutation Checkout($input: CheckoutInput!) {
  checkout(input: $input) { order { id number } errors { code field message } }
}
"""
SUBSCRIBE = """
mutation Sub($input: PushSubscribeInput!) {
  pushSubscribe(input: $input) { subscribed errors { code field } }
}
"""
MARK_READY = """
mutation Ready($input: OrderActionInput!) {
  orderMarkReady(input: $input) { order { status } errors { code } }
}
"""
ASK = """
mutation Ask($input: BackInStockRequestInput!) {
  backInStockRequest(input: $input) { request { channel notifiedAt } errors { code field } }
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Inbox:
    """An aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@dataclass
class SmtpServer:
    """A real SMTP server on loopback that can be stopped and started on the same port."""

    port: int
    inbox: Inbox = field(default_factory=Inbox)
    controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        assert self.controller is not None
        self.controller.stop()
        self.controller = None


@dataclass
class Gateway:
    """What the local HTTP server received: SMS posts and push deliveries."""

    sms: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    pushes: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)


@dataclass
class Browser:
    """A push subscription's private half, as a browser holds it."""

    key: ec.EllipticCurvePrivateKey
    auth: bytes

    @property
    def p256dh(self) -> str:
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def read(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth)
        decoded = json.loads(plain)
        assert isinstance(decoded, dict)
        return decoded


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer(free_port())
    server.start()
    yield server
    if server.controller is not None:
        server.stop()


@pytest.fixture
async def gateway() -> AsyncIterator[tuple[Gateway, str]]:
    seen = Gateway()

    async def sms(request: web.Request) -> web.Response:
        body = await request.read()
        seen.sms.append((json.loads(body), request.headers[SIGNATURE_HEADER]))
        assert request.headers[SIGNATURE_HEADER] == sign(body, SECRET)
        return web.json_response({"ok": True})

    async def push(request: web.Request) -> web.Response:
        seen.pushes.append((await request.read(), dict(request.headers)))
        return web.Response(status=201)

    app = web.Application()
    app.router.add_post("/sms", sms)
    app.router.add_post("/push/{id}", push)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield seen, f"http://127.0.0.1:{port}"
    await runner.cleanup()


def settings_with(db: Database, tmp_path: Path, smtp: SmtpServer, base: str) -> dict[str, Any]:
    return {
        "smtp_url": f"smtp://127.0.0.1:{smtp.port}",
        "mail_from": "butikk@omnicart.test",
        "sms_webhook_url": f"{base}/sms",
        "secret_key": SECRET,
        "debug": True,
        "notify_retry_seconds": 0.2,
        "notify_retry_max_seconds": 0.5,
        "public_url": "https://shop.omnicart.test",
    }


async def guest_order(
    client: Any,
    gtin: str,
    store_id: int,
    *,
    contact: dict[str, str],
    browser: Browser | None = None,
    endpoint: str = "",
) -> tuple[dict[str, Any], dict[str, str]]:
    """Fill a guest cart, subscribe its browser to push, and check out in English."""
    variables = {"input": {"lines": [{"gtin": gtin, "quantity": 1}]}}
    created = (await graphql(client, CREATE, variables))["data"]["cartCreate"]
    reach = {"X-Cart-Token": created["cartToken"], "Accept-Language": "en-GB,en;q=0.9"}
    if browser is not None:
        keys = {"p256dh": browser.p256dh, "auth": base64.urlsafe_b64encode(browser.auth).decode()}
        sub = {"input": {"endpoint": endpoint, "keys": keys}}
        answer = (await graphql(client, SUBSCRIBE, sub, reach))["data"]["pushSubscribe"]
        assert answer == {"subscribed": True, "errors": []}
    cart = created["cart"]
    request = {
        "cartId": cart["id"],
        "expectedVersion": cart["version"],
        "fulfilment": collect_at(store_id),
        "contact": contact,
    }
    payload = (await graphql(client, CHECKOUT, {"input": request}, reach))["data"]["checkout"]
    assert payload["errors"] == [], payload
    return payload["order"], reach


async def drain(sender: Sender) -> int:
    """Send until nothing is due (bounded)."""
    sent = 0
    for _ in range(10):
        done = await sender.send_due()
        sent += done
        if not done:
            return sent
    raise AssertionError("the outbox did not drain in 10 passes")


async def statuses(db: Database) -> list[tuple[str, str, str, int]]:
    async with db.transaction(write=False) as session:
        rows = await session.execute(
            select(
                Notification.kind, Notification.channel, Notification.status, Notification.attempts
            ).order_by(Notification.id)
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


async def test_order_ready_sends_one_mail_one_sms_and_one_push(
    db: Database, tmp_path: Path, smtp: SmtpServer, gateway: tuple[Gateway, str]
) -> None:
    seen, base = gateway
    options = settings_with(db, tmp_path, smtp, base)
    store_id, _, gtin, _ = await store_with_product(db, "BGO", on_hand=3, name="Brunost")
    await add_staff(db, "kasse@omnicart.test", store_code="BGO")
    browser = Browser(ec.generate_private_key(ec.SECP256R1()), os.urandom(16))
    sender = sender_from_settings(db, Settings(data_dir=tmp_path, database_url=db.url, **options))
    async with client_for(db, tmp_path, **options) as client:
        order, _ = await guest_order(
            client,
            gtin,
            store_id,
            contact={"email": "Kari@Example.com", "phone": "+47 912 34 567"},
            browser=browser,
            endpoint=f"{base}/push/browser-1",
        )
        # What every server process does in the background right after the commit.
        assert await follow_all(db) == 1
        assert await drain(sender) == 3  # order placed: mail, SMS, push
        staff = await staff_sign_in(client, "kasse@omnicart.test")
        body = await graphql(client, MARK_READY, {"input": {"orderId": order["id"]}}, staff)
        assert body["data"]["orderMarkReady"] == {
            "order": {"status": "READY_FOR_PICKUP"},
            "errors": [],
        }
    assert await drain(sender) == 3
    assert await drain(sender) == 0

    ready_mail = [m for m in smtp.inbox.messages if "ready" in m["Subject"]]
    assert len(smtp.inbox.messages) == 2 and len(ready_mail) == 1
    mail = ready_mail[0]
    assert mail["To"] == "kari@example.com"
    assert mail["From"] == "butikk@omnicart.test"
    assert mail["Subject"] == f"Order {order['number']} is ready for pickup"
    order_pk = decode_id(order["id"], "Order", field="id")
    assert mail["Message-ID"] == f"<order.{order_pk}.order_ready.email@omnicart.test>"
    text = mail.get_payload(decode=True).decode()
    assert f"Order {order['number']} is ready for pickup at Store BGO." in text
    assert "See the order: https://shop.omnicart.test/#/orders/" in text

    assert [s["to"] for s, _ in seen.sms] == ["+4791234567", "+4791234567"]
    ready_sms = seen.sms[1][0]
    assert ready_sms["message"].startswith(
        f"Order {order['number']} is ready for pickup at Store BGO. Collect it by "
    )
    assert ready_sms["id"].endswith(":order_ready:sms")

    assert len(seen.pushes) == 2
    body, headers = seen.pushes[1]
    assert headers["Content-Encoding"] == "aes128gcm"
    assert headers["Authorization"].startswith("vapid t=")
    pushed = browser.read(body)
    assert pushed["title"] == f"Order {order['number']} is ready for pickup"
    assert "at Store BGO" in pushed["body"]
    assert pushed["url"] == f"/#/orders/{order['id']}"
    assert pushed["tag"].endswith(":order_ready:push:1")
    assert [s[2] for s in await statuses(db)] == ["sent"] * 6


async def test_the_ready_mail_lists_five_complements_in_stock_at_the_pickup_store(
    db: Database, tmp_path: Path, smtp: SmtpServer, gateway: tuple[Gateway, str]
) -> None:
    _, base = gateway
    options = settings_with(db, tmp_path, smtp, base)
    store_id, location, gtin, taco = await store_with_product(db, "BGO", on_hand=3, name="Taco")
    _, elsewhere = await add_store(db, "TRD")
    names = ["Salsa", "Rømme", "Lomper", "Mais", "Ost", "Guacamole", "Nachos"]
    others = []
    for name in names:
        # Rømme is in stock in the other store only.
        stock = {elsewhere: (9, 0)} if name == "Rømme" else {location: (9, 0)}
        others.append(await add_product(db, name=name, stock=stock))
    async with db.transaction() as session:
        # Salsa bought with Taco 7 times, Rømme 6, … Nachos once.
        for n in range(len(others), 0, -1):
            await record_basket(session, [taco, *others[:n]])
    await add_staff(db, "kasse@omnicart.test", store_code="BGO")
    sender = sender_from_settings(db, Settings(data_dir=tmp_path, database_url=db.url, **options))
    async with client_for(db, tmp_path, **options) as client:
        order, _ = await guest_order(client, gtin, store_id, contact={"email": "kari@example.com"})
        staff = await staff_sign_in(client, "kasse@omnicart.test")
        body = await graphql(client, MARK_READY, {"input": {"orderId": order["id"]}}, staff)
        assert body["data"]["orderMarkReady"]["errors"] == []
    await follow_all(db)  # the background follow-up writes the "placed" message
    assert await drain(sender) == 2  # placed, ready: one mail each
    placed, ready = sorted(
        smtp.inbox.messages, key=lambda m: "Goes well with" in m.get_payload(decode=True).decode()
    )
    assert "Goes well with" not in placed.get_payload(decode=True).decode()
    text = ready.get_payload(decode=True).decode().replace("\r\n", "\n")
    assert "Goes well with:\n- Salsa\n- Lomper\n- Mais\n- Ost\n- Guacamole\n\n" in text


async def test_following_all_stops_at_a_short_batch_without_an_empty_round(
    db: Database, tmp_path: Path, smtp: SmtpServer, gateway: tuple[Gateway, str]
) -> None:
    _, base = gateway
    store_id, _, gtin, _ = await store_with_product(db, "TRD", on_hand=9, name="Brunost")
    async with client_for(db, tmp_path, **settings_with(db, tmp_path, smtp, base)) as client:
        for _ in range(3):
            await guest_order(client, gtin, store_id, contact={})
        with statements_of(db) as sent:
            # A full batch of two, then a short one of one: two rounds, no third to find none.
            assert await follow_all(db, batch=2) == 3
    taking = [s for s in sent if s.startswith("DELETE FROM outbox_events")]
    assert len(taking) == 2, "\n".join(sent)


async def test_one_follow_up_writes_the_placed_messages_of_a_batch_of_orders(
    db: Database, tmp_path: Path, smtp: SmtpServer, gateway: tuple[Gateway, str]
) -> None:
    _, base = gateway
    store_id, _, gtin, _ = await store_with_product(db, "BGO", on_hand=9, name="Brunost")
    browser = Browser(ec.generate_private_key(ec.SECP256R1()), os.urandom(16))
    async with client_for(db, tmp_path, **settings_with(db, tmp_path, smtp, base)) as client:
        mailed, _ = await guest_order(client, gtin, store_id, contact={"phone": "+47 912 34 567"})
        pushed, _ = await guest_order(
            client, gtin, store_id, contact={}, browser=browser, endpoint=f"{base}/push/b"
        )
        silent, _ = await guest_order(client, gtin, store_id, contact={})
        customer = await sign_up(client, "ola@example.com")
        theirs, _ = await place_order(client, [(gtin, 1)], collect_at(store_id), customer)
        with statements_of(db) as sent:
            assert await follow_placed_orders(db) == 4
    async with db.transaction(write=False) as session:
        rows = await session.execute(
            select(
                Notification.order_id,
                Notification.key,
                Notification.channel,
                Notification.recipient,
                Notification.payload["store"].as_string(),
            ).order_by(Notification.id)
        )
        written = {tuple(row) for row in rows}
    mailed_pk, pushed_pk, silent_pk, theirs_pk = (
        decode_id(o["id"], "Order", field="id") for o in (mailed, pushed, silent, theirs)
    )
    assert silent_pk not in {row[0] for row in written}
    assert written == {
        (mailed_pk, f"order:{mailed_pk}:order_placed:sms", "sms", "+4791234567", "Store BGO"),
        (pushed_pk, f"order:{pushed_pk}:order_placed:push:1", "push", "", "Store BGO"),
        (
            theirs_pk,
            f"order:{theirs_pk}:order_placed:email",
            "email",
            "ola@example.com",
            "Store BGO",
        ),
    }
    # The batch's statements do not grow with its orders: (SQLite's BEGIN,) the outbox rows
    # taken, the orders, their lines (one product each: no pairs to count); then the
    # accounts, the push subscriptions, the stores and one INSERT of every message.
    assert len(sent) == {"sqlite": 8, "postgresql": 7}[db.engine.dialect.name], "\n".join(sent)


async def test_mail_waits_for_a_stopped_smtp_server_and_arrives_once(
    db: Database, tmp_path: Path, smtp: SmtpServer, gateway: tuple[Gateway, str]
) -> None:
    _, base = gateway
    options = settings_with(db, tmp_path, smtp, base)
    store_id, _, gtin, _ = await store_with_product(db, "TRD", on_hand=2)
    smtp.stop()
    async with client_for(db, tmp_path, **options) as client:
        # The shop goes on while mail cannot leave.
        order, _ = await guest_order(client, gtin, store_id, contact={"email": "ola@example.com"})
    assert await follow_all(db) == 1  # the server's background follow-up of the order
    sender = sender_from_settings(db, Settings(data_dir=tmp_path, database_url=db.url, **options))
    running = asyncio.create_task(sender.run_forever(interval=0.05))
    try:
        for _ in range(200):
            if (await statuses(db))[0][3] >= 2:
                break
            await asyncio.sleep(0.05)
        kind, channel, status, attempts = (await statuses(db))[0]
        assert (kind, channel, status) == ("order_placed", "email", "pending")
        assert attempts >= 2
        assert smtp.inbox.messages == []
        smtp.start()
        for _ in range(200):
            if smtp.inbox.messages:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(1.0)  # several more passes: nothing is sent twice
    finally:
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
    assert [m["Subject"] for m in smtp.inbox.messages] == [f"Order {order['number']} is placed"]
    assert (await statuses(db))[0][2] == "sent"


async def test_back_in_stock_request_fires_once_when_stock_comes_in(
    db: Database, tmp_path: Path, smtp: SmtpServer, gateway: tuple[Gateway, str]
) -> None:
    _, base = gateway
    options = settings_with(db, tmp_path, smtp, base)
    store_id, location, gtin, product_id = await store_with_product(
        db, "SVG", on_hand=0, name="Multekrem"
    )
    ask = {"gtin": gtin, "storeId": encode_id("Store", store_id), "channel": "EMAIL"}
    async with client_for(db, tmp_path, **options) as client:
        anonymous = await graphql(client, ASK, {"input": ask})
        assert anonymous["data"]["backInStockRequest"] == {
            "request": None,
            "errors": [{"code": "UNAUTHORIZED", "field": "channel"}],
        }
        member = await sign_up(client, "siri@example.com")
        first = await graphql(client, ASK, {"input": ask}, member)
        again = await graphql(client, ASK, {"input": ask}, member)
        for body in (first, again):
            assert body["data"]["backInStockRequest"] == {
                "request": {"channel": "EMAIL", "notifiedAt": None},
                "errors": [],
            }
        sms = await graphql(client, ASK, {"input": ask | {"channel": "SMS"}}, member)
        assert sms["data"]["backInStockRequest"]["errors"] == [
            {"code": "INVALID_INPUT", "field": "channel"}
        ]
    till = await add_device(db, "SVG", "pos")
    async with client_for(db, tmp_path, **options) as client:
        for _ in range(2):  # a delivery (RECEIPT) lands at the store, then another
            landed = await record(client, till, [movement(gtin, store_id, "RECEIPT", 4)])
            assert (landed["applied"], landed["errors"]) == (1, [])
    sender = sender_from_settings(db, Settings(data_dir=tmp_path, database_url=db.url, **options))
    assert await drain(sender) == 1
    assert [m["Subject"] for m in smtp.inbox.messages] == ["Multekrem er tilbake"]
    assert [m["To"] for m in smtp.inbox.messages] == ["siri@example.com"]
    async with db.transaction(write=False) as session:
        closed = (await session.execute(select(BackInStockRequest.notified_at))).scalars().all()
    assert len(closed) == 1 and closed[0] is not None
    async with client_for(db, tmp_path, **options) as client:
        member = await sign_up(client, "per@example.com")
        in_stock = await graphql(client, ASK, {"input": ask}, member)
    assert in_stock["data"]["backInStockRequest"]["errors"] == [
        {"code": "CONFLICT", "field": "gtin"}
    ]


@pytest.mark.parametrize("db", ["postgres"], indirect=True)
async def test_a_follower_takes_the_next_orders_while_another_worker_holds_the_oldest(
    db: Database,
) -> None:
    now = utcnow()
    async with db.transaction() as session:
        await session.execute(
            insert(OutboxEvent),
            [
                {"topic": ORDER_PLACED, "entity_id": n, "payload": {}, "created_at": now}
                for n in (1, 2)
            ],
        )
    async with db.transaction() as held:  # another worker's follower, mid-transaction
        first = (
            await held.execute(
                select(OutboxEvent.id)
                .where(OutboxEvent.topic == ORDER_PLACED)
                .order_by(OutboxEvent.id)
                .limit(1)
                .with_for_update()
            )
        ).scalar_one()
        # Without SKIP LOCKED this one would wait for the other to end (the time-out says so).
        assert await asyncio.wait_for(follow_placed_orders(db, batch=1), 10) == 1
    async with db.transaction(write=False) as session:
        left = await session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.id == first)
        )
    assert left == 1  # the held one is still there for its own follower
