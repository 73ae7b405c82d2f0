"""Honest states (issue 15, item 7): what the PWA says when something is missing or off.

A camera that fails leaves no dead viewfinder; the scan screen's example is a real product
and counts in no report; offline, nothing claims to be live and checkout says why it is
off; the kiosk's setup checks its token with the server and takes the store from it; the
staff's looked-up order is not drawn over by an older refresh of the whole list.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.browser.conftest import KIOSK, STORE_CODE, TABLET, Shop
from tests.browser.test_screens import NUTELLA, OUT_HERE, add_to_cart, choose_store
from tests.clients import place_order

# A device without a camera: getUserMedia rejects as Chromium does when none is found.
NO_CAMERA = """
const noCamera = async () => {
  throw new DOMException("Requested device not found", "NotFoundError");
};
if (navigator.mediaDevices) navigator.mediaDevices.getUserMedia = noCamera;
else Object.defineProperty(navigator, "mediaDevices", { value: { getUserMedia: noCamera } });
"""
SIGN_IN = """mutation($input: StaffSignInInput!) {
  staffSignIn(input: $input) { token errors { code } }
}"""
REPORT = """query($storeId: ID!, $since: DateTime!) {
  scanReport(storeId: $storeId, since: $since) {
    totalScans missedDemand(first: 50) { gtin outOfStockScans }
  }
}"""


def scan_report(shop: Shop, since: datetime) -> dict[str, Any]:
    """The test store's scan report since ``since``, read as its staff member."""
    with httpx.Client(base_url=shop.url, timeout=10) as client:
        signed = client.post(
            "/graphql",
            json={
                "query": SIGN_IN,
                "variables": {
                    "input": {"email": shop.staff_email, "password": shop.staff_password}
                },
            },
        ).json()["data"]["staffSignIn"]
        stores = client.post("/graphql", json={"query": "{ stores { id code } }"}).json()["data"][
            "stores"
        ]
        store_id = next(s["id"] for s in stores if s["code"] == STORE_CODE)
        body = client.post(
            "/graphql",
            json={"query": REPORT, "variables": {"storeId": store_id, "since": since.isoformat()}},
            headers={"Authorization": f"Bearer {signed['token']}"},
        ).json()
    assert "errors" not in body, body
    return body["data"]["scanReport"]  # type: ignore[no-any-return]


def missed(report: dict[str, Any], gtin: str) -> int:
    return sum(p["outOfStockScans"] for p in report["missedDemand"] if p["gtin"] == gtin)


def test_a_failed_camera_leaves_no_viewfinder_and_focuses_manual_entry(new_context: Any) -> None:
    context = new_context()
    context.add_init_script(NO_CAMERA)
    page = context.new_page()
    choose_store(page)
    page.get_by_test_id("start-camera").click()
    alert = page.locator(".scan-feedback [role=alert]")
    alert.wait_for()
    assert "No camera was found" in alert.inner_text()
    assert page.locator(".scanner").count() == 0
    assert page.get_by_role("button", name="Stop camera").count() == 0
    assert page.evaluate("document.activeElement.id") == "manual-code"
    assert page.get_by_test_id("start-camera").inner_text() == "Try the camera again"


def test_the_example_code_opens_a_real_product_and_is_no_missed_demand(
    new_context: Any, shop: Shop
) -> None:
    since = datetime.now(UTC) - timedelta(minutes=5)
    before = scan_report(shop, since)
    page = new_context().new_page()
    choose_store(page)
    example = page.get_by_test_id("scan-example")
    assert OUT_HERE in example.inner_text()
    assert OUT_HERE in (page.locator("#manual-code").get_attribute("placeholder") or "")
    example.click()
    page.locator(f'article.screen-product[data-gtin="{OUT_HERE}"]').wait_for()
    after_example = scan_report(shop, since)
    # The same code typed for real is a scan of a product out of stock here: missed demand.
    page.goto("/#/scan")
    page.locator("#manual-code").fill(OUT_HERE)
    page.keyboard.press("Enter")
    page.locator(f'article.screen-product[data-gtin="{OUT_HERE}"]').wait_for()
    after_scan = scan_report(shop, since)
    assert after_example["totalScans"] == before["totalScans"]
    assert missed(after_example, OUT_HERE) == missed(before, OUT_HERE)
    assert missed(after_scan, OUT_HERE) == missed(before, OUT_HERE) + 1


def test_offline_nothing_is_live_and_checkout_says_why_it_is_off(new_context: Any) -> None:
    context = new_context()
    page = context.new_page()
    choose_store(page)
    add_to_cart(page, NUTELLA)
    page.goto("/#/cart")
    page.locator(".live-dot.is-live").wait_for()
    page.goto("/#/checkout")
    place = page.get_by_test_id("place-order")
    place.wait_for()
    assert place.is_enabled()
    context.set_offline(True)
    reason = page.get_by_test_id("checkout-offline")
    reason.wait_for()
    assert "You are offline" in reason.inner_text()
    assert place.is_disabled()
    page.goto("/#/cart")
    status = page.get_by_test_id("live-status")
    status.wait_for()
    assert "Offline" in status.inner_text()
    assert page.locator(".live-dot.is-live").count() == 0
    context.set_offline(False)
    page.goto("/#/checkout")
    page.wait_for_function(
        "document.querySelector('[data-testid=place-order]')?.disabled === false"
    )
    assert page.get_by_test_id("checkout-offline").is_hidden()


def test_kiosk_setup_refuses_a_bad_token_and_takes_the_store_from_a_good_one(
    new_context: Any, shop: Shop
) -> None:
    kiosk = new_context(KIOSK).new_page()
    kiosk.goto("/kiosk#device=dv_not-a-real-token")
    alert = kiosk.get_by_role("alert")
    alert.wait_for()
    assert "does not know this token" in alert.inner_text()
    assert "dv_" not in kiosk.url
    # No store to pick: the token names it.
    assert kiosk.locator("#view select").count() == 0
    kiosk.get_by_label("Device token").fill("dv_still-wrong")
    kiosk.get_by_role("button", name="Start the order station").click()
    kiosk.get_by_text("does not know this token").wait_for()
    kiosk.get_by_label("Device token").fill(shop.kiosk_token)
    kiosk.get_by_role("button", name="Start the order station").click()
    kiosk.get_by_test_id("kiosk-code").wait_for()
    assert kiosk.locator("#kiosk-store").inner_text() == "Oslo Storo"


def store_id_of(shop: Shop, code: str) -> str:
    with httpx.Client(base_url=shop.url, timeout=10) as client:
        stores = client.post("/graphql", json={"query": "{ stores { id code } }"}).json()
    return next(s["id"] for s in stores["data"]["stores"] if s["code"] == code)  # type: ignore[no-any-return]


def test_a_looked_up_order_stays_alone_when_an_older_list_refresh_answers_late(
    new_context: Any, shop: Shop
) -> None:
    """The orders screen refreshes on a timer; a lookup made while a refresh of the whole
    list is under way must not be drawn over by that refresh's late answer."""
    collect = {"clickAndCollect": {"storeId": store_id_of(shop, STORE_CODE)}}

    async def two_orders() -> list[str]:
        async with httpx.AsyncClient(base_url=shop.url, timeout=10) as client:
            return [(await place_order(client, [(NUTELLA, 1)], collect))[0]["number"] for _ in "ab"]

    # Playwright's sync API may hold this thread's event loop: place the orders on another.
    with ThreadPoolExecutor(max_workers=1) as pool:
        first, _second = pool.submit(lambda: asyncio.run(two_orders())).result()

    # Requests a service worker answers never reach page.route: keep it out of this one.
    page = new_context(TABLET, service_workers="block").new_page()
    page.clock.install()
    page.goto("/staff")
    page.locator("#staff-email").fill(shop.staff_email)
    page.locator("#staff-password").fill(shop.staff_password)
    page.locator("form:has(#staff-email) [type=submit]").click()
    cards = page.locator("[data-testid=staff-orders] li.order-card")
    cards.nth(1).wait_for()  # the whole list: more than one order

    held: list[Any] = []

    def hold_list_refreshes(route: Any) -> None:
        if '"StoreOrders"' in (route.request.post_data or ""):
            held.append(route)
        else:
            route.continue_()

    page.route("**/graphql", hold_list_refreshes)
    for _ in range(20):  # the screen's refresh timer asks for the whole list
        page.clock.fast_forward(10_000)
        page.wait_for_timeout(50)
        if held:
            break
    assert held, "the orders screen did not refresh its list on its timer"

    page.locator("#order-number").fill(first)
    page.locator("#order-number").press("Enter")
    page.locator(f'li.order-card[data-order-number="{first}"]').wait_for()
    page.get_by_role("button", name="Show all orders").wait_for()
    assert cards.count() == 1

    with page.expect_response(lambda r: '"StoreOrders"' in (r.request.post_data or "")):
        for route in held:
            route.continue_()
    page.evaluate("() => new Promise((done) => setTimeout(done, 300))")
    assert cards.count() == 1, "the late list answer replaced the looked-up order"
    assert page.get_by_role("button", name="Show all orders").is_visible()
