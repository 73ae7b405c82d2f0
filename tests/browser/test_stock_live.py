"""An open product page follows the shelf: a till's sale turns "In stock" into "Out of stock
here" without a reload."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.browser.conftest import STORE_CODE, Shop, screenshot

pytestmark = pytest.mark.browser

NUTELLA = "3017620422003"  # in stock everywhere in the demo
HERE = """
query Here($gtin: String!) {
  stores { id code }
  product(gtin: $gtin) { availability { stores { available store { code } } } }
}
"""
RECORD = """
mutation Record($input: StockMovementsRecordInput!) {
  stockMovementsRecord(input: $input) { applied errors { code } }
}
"""


def sell_everything_here(shop: Shop, gtin: str) -> int:
    """Record, as the store's till, a sale of every unit of ``gtin`` available there."""
    with httpx.Client(base_url=shop.url, timeout=10) as client:
        data = client.post("/graphql", json={"query": HERE, "variables": {"gtin": gtin}}).json()
        store_id = next(s["id"] for s in data["data"]["stores"] if s["code"] == STORE_CODE)
        levels = data["data"]["product"]["availability"]["stores"]
        units = next(lv["available"] for lv in levels if lv["store"]["code"] == STORE_CODE)
        sale = {
            "movementId": f"browser-{uuid.uuid4().hex}",
            "gtin": gtin,
            "storeId": store_id,
            "kind": "SALE",
            "quantity": units,
            "occurredAt": datetime.now(UTC).isoformat(),
        }
        answer = client.post(
            "/graphql",
            json={"query": RECORD, "variables": {"input": {"movements": [sale]}}},
            headers={"Authorization": f"Bearer {shop.pos_token}"},
        ).json()
    assert answer["data"]["stockMovementsRecord"] == {"applied": 1, "errors": []}
    return int(units)


def test_the_product_page_turns_out_of_stock_here_when_the_till_sells_the_last_units(
    new_context: Any, shop: Shop
) -> None:
    page = new_context().new_page()
    page.goto("/")
    page.locator(f"[data-store-code={STORE_CODE}]").click()
    page.locator("section.screen-front").wait_for()
    page.goto(f"/#/product/{NUTELLA}")
    page.locator(f'article.screen-product[data-gtin="{NUTELLA}"]').wait_for()
    here = page.get_by_test_id("stock-here")
    assert here.inner_text() == "In stock"
    sold = sell_everything_here(shop, NUTELLA)
    assert sold > 3
    page.locator("[data-testid=stock-here] .pill-out-of-stock").wait_for()
    assert here.inner_text() == "Out of stock here"
    assert page.url.endswith(f"#/product/{NUTELLA}")  # no navigation, no reload
    screenshot(page, "shopper-product-sold-out-live")


COCA_COLA = "5449000000996"


def test_the_kiosk_moves_a_line_from_the_shelf_to_ordering_when_the_shelf_sells_out(
    new_context: Any, shop: Shop
) -> None:
    from tests.browser.conftest import KIOSK
    from tests.browser.test_screens import add_to_cart, choose_store

    phone = new_context().new_page()
    choose_store(phone)
    add_to_cart(phone, COCA_COLA)
    phone.goto("/#/cart")
    phone.get_by_test_id("continue-at-kiosk").click()
    code = phone.get_by_test_id("handoff-code").inner_text()

    kiosk = new_context(KIOSK).new_page()
    kiosk.goto(f"/kiosk#device={shop.kiosk_token}&store={STORE_CODE}")
    kiosk.get_by_test_id("kiosk-code").fill(code)
    kiosk.get_by_role("button", name="Open cart").click()
    line = kiosk.locator(f'[data-testid=kiosk-lines] li[data-gtin="{COCA_COLA}"]')
    line.wait_for()
    assert line.get_attribute("data-where") == "shelf"
    sell_everything_here(shop, COCA_COLA)
    kiosk.locator(
        f'[data-testid=kiosk-lines] li[data-gtin="{COCA_COLA}"][data-where=order]'
    ).wait_for()
    assert (
        "Order the item not on the shelf here"
        in kiosk.get_by_test_id("kiosk-order-rest").inner_text()
    )
    screenshot(kiosk, "kiosk-line-sold-out-live")
