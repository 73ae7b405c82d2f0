"""A club member's journey in real browsers: sign up with the club, order, told it is ready, points.

What is real: Debian's Chromium running the PWA and its service worker, the staff app in a
second browser context, the server (uvicorn over SQLite) with its background sender, and
the Web Push the server encrypts and POSTs to the subscription's endpoint. What stands in:
headless Chromium has no push service (``pushManager.subscribe`` fails there), so the test
holds the subscription's keys (as a browser would), registers it for the phone's session
with ``pushSubscribe``, runs the push endpoint as a local HTTP server, decrypts what
arrives with ``http_ece``, and hands the decrypted message to the phone's service worker
through the DevTools protocol (``ServiceWorker.deliverPushMessage``, what a push service
would do); the service worker's own ``push`` handler then shows the notification, read
back with ``getNotifications()``.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import http_ece
import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.browser.conftest import TABLET, WAIT_MS, Shop, running_shop, screenshot
from tests.browser.test_screens import COCA_COLA, NUTELLA, add_to_cart, choose_store

pytestmark = pytest.mark.browser

PUSH_SUBSCRIBE = """
mutation Sub($input: PushSubscribeInput!) { pushSubscribe(input: $input) { subscribed } }
"""
ORDER_TOTAL = """
query T($id: ID!) { order(id: $id) { total { amount } } me { membership { points } } }
"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shop]:
    """The shop, in debug mode so that it pushes to an http:// endpoint on loopback."""
    with running_shop(tmp_path_factory, OMNICART_DEBUG="true") as running:
        yield running


class PushService:
    """A local HTTP server taking Web Push deliveries, and the subscription's private half."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        self.received: list[bytes] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                received.append(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(201)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}/push/phone"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def keys(self) -> dict[str, str]:
        raw = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "p256dh": base64.urlsafe_b64encode(raw).decode().rstrip("="),
            "auth": base64.urlsafe_b64encode(self.auth).decode().rstrip("="),
        }

    def message_titled(self, pattern: str) -> dict[str, Any]:
        """Wait for a pushed message whose title matches; return it decrypted."""
        deadline = time.monotonic() + WAIT_MS / 1000
        while time.monotonic() < deadline:
            for body in list(self.received):
                plain = http_ece.decrypt(body, private_key=self.key, auth_secret=self.auth)
                message: dict[str, Any] = json.loads(plain)
                if re.search(pattern, message["title"]):
                    return message
            time.sleep(0.1)
        raise AssertionError(f"no push titled {pattern!r} arrived")


@pytest.fixture
def push_service() -> Iterator[PushService]:
    service = PushService()
    try:
        yield service
    finally:
        service.server.shutdown()
        service.server.server_close()


def sign_up_with_the_club(page: Any, email: str) -> None:
    """Create an account on the account screen, joining the club with the offers by SMS."""
    page.goto("/#/account?next=/account")
    page.locator("#signup-name").fill("Kari Nordmann")
    page.locator("#signup-email").fill(email)
    page.locator("#signup-phone").fill("+47 912 34 567")
    page.locator("#signup-password").fill("correct horse battery")
    page.get_by_label("Join the club and accept its terms").check()
    page.get_by_label("Send me offers by SMS").first.check()
    page.get_by_role("button", name="Create account").click()


def notifications_shown(page: Any, seconds: float = WAIT_MS / 1000) -> list[dict[str, str]]:
    """Wait up to `seconds` for the service worker to show a notification; return those shown."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        shown: list[dict[str, str]] = page.evaluate(
            """async () => (await (await navigator.serviceWorker.ready).getNotifications())
                .map(n => ({title: n.title, body: n.body, url: n.data.url}))"""
        )
        if shown:
            return shown
        time.sleep(0.1)
    return []


def staff_app(new_context: Any, shop: Shop) -> Any:
    staff = new_context(TABLET).new_page()
    staff.goto("/staff")
    staff.get_by_label("Email").fill(shop.staff_email)
    staff.get_by_label("Password").fill(shop.staff_password)
    staff.get_by_role("button", name="Sign in").click()
    return staff


def test_a_member_signs_up_orders_is_told_it_is_ready_and_earns_points(
    new_context: Any, shop: Shop, push_service: PushService
) -> None:
    context = new_context()
    context.grant_permissions(["notifications"], origin=shop.url)
    phone = context.new_page()
    devtools = context.new_cdp_session(phone)
    workers: list[dict[str, Any]] = []
    devtools.on(
        "ServiceWorker.workerRegistrationUpdated", lambda e: workers.extend(e["registrations"])
    )
    devtools.send("ServiceWorker.enable")

    choose_store(phone)
    sign_up_with_the_club(phone, f"member-{uuid.uuid4().hex[:8]}@example.com")
    card = phone.get_by_test_id("member-card")
    card.wait_for()
    assert re.fullmatch(r"\d{10}", phone.get_by_test_id("member-number").inner_text())
    assert phone.get_by_test_id("member-points").inner_text() == "0"
    screenshot(phone, "club-journey-card")

    token = phone.evaluate("JSON.parse(localStorage.getItem('omnicart.shopper')).authToken")
    member = {"Authorization": f"Bearer {token}"}
    sub = {"input": {"endpoint": push_service.endpoint, "keys": push_service.keys()}}
    answer = httpx.post(
        f"{shop.url}/graphql", json={"query": PUSH_SUBSCRIBE, "variables": sub}, headers=member
    ).json()
    assert answer["data"]["pushSubscribe"] == {"subscribed": True}

    add_to_cart(phone, NUTELLA)
    add_to_cart(phone, COCA_COLA)
    phone.goto("/#/checkout")
    assert phone.get_by_label("Click and collect").is_checked()
    phone.get_by_test_id("place-order").click()
    phone.locator("[data-testid=order-status][data-status=PLACED]").wait_for()
    number = phone.locator("h1").inner_text().removeprefix("Order ")
    order_id = phone.evaluate("decodeURIComponent(location.hash.split('/').pop())")

    staff = staff_app(new_context, shop)
    order_card = staff.locator(f'[data-testid=staff-orders] [data-order-number="{number}"]')
    order_card.get_by_role("button", name="Mark ready").click()

    # In the app: the order page follows the order live.
    phone.locator("[data-testid=order-status][data-status=READY_FOR_PICKUP]").wait_for()
    assert "Ready for pickup" in phone.get_by_test_id("order-status").inner_text()
    # On the phone: the server's push, handed to the service worker, becomes a notification.
    pushed = push_service.message_titled(f"^Order {number} is ready for pickup$")
    assert pushed["url"] == f"/#/orders/{order_id}"
    assert "Oslo" in pushed["body"] and number in pushed["body"]
    assert pushed.get("tag"), pushed  # a repeat replaces the notification shown
    phone.evaluate("navigator.serviceWorker.ready.then(() => true)")
    (registration,) = {w["registrationId"] for w in workers if not w["isDeleted"]}
    shown: list[dict[str, str]] = []
    for _ in range(3):
        # A worker still starting (a loaded machine) may miss a delivery: hand it over again,
        # as a push service retries; the tag keeps it one notification.
        devtools.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": shop.url, "registrationId": registration, "data": json.dumps(pushed)},
        )
        shown = notifications_shown(phone, seconds=WAIT_MS / 3000)
        if shown:
            break
    assert shown == [{"title": pushed["title"], "body": pushed["body"], "url": pushed["url"]}]
    screenshot(phone, "club-journey-ready")

    staff.get_by_role("button", name="Ready for pickup").click()
    ready = staff.locator(f'[data-order-number="{number}"][data-status=READY_FOR_PICKUP]')
    ready.get_by_role("button", name="Mark collected").click()
    phone.locator("[data-testid=order-status][data-status=COLLECTED]").wait_for()

    # The points the collected order earned: 1 point per 10 kr paid (the default rate).
    body = httpx.post(
        f"{shop.url}/graphql",
        json={"query": ORDER_TOTAL, "variables": {"id": order_id}},
        headers=member,
    ).json()["data"]
    earned = body["order"]["total"]["amount"] // 1000
    assert earned > 0 and body["me"]["membership"]["points"] == earned
    points = phone.get_by_test_id("order-points")
    points.wait_for()
    assert points.inner_text() == f"Collected. You now have {earned} club points."
    screenshot(phone, "club-journey-points")
    phone.goto("/#/account")
    card.wait_for()
    assert phone.get_by_test_id("member-points").inner_text() == str(earned)
