"""The product page helps: out of stock here leads with what to do; alternatives and
complements in stock here, told apart; comparison prices; images that never stay blank.

The module seeds its own product family ("Testgryn", category "Produkttest") next to the demo
catalog before the server starts, so what the page must show is known:

==========  ==============================  ===========================================
product     brand, size                     stock
==========  ==============================  ===========================================
MAIN        Møllerens, 500 g, 29,90 kr      none in Oslo Storo (the shopper's) or Bergen;
                                            4 Trondheim, 9 Stavanger, 7 online; its image
                                            is on a host that accepts and never answers
ALT_KG      Møllerens, 1 kg                 5 here
ALT_KG_TWIN Møllerens, 1 kg (another code)  5 here: the same label as ALT_KG
ALT_AXA     Axa, 500 g                      3 here
ALT_GONE    Axa, 750 g                      none here, 6 in Bergen
ALT_PACK    (no brand), "1 pakke"           2 here: no certain size, so no unit price
==========  ==============================  ===========================================

Complements: MAIN was bought with RAISINS, BERRIES (both here) and JUICE (none here).
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.conftest import (
    PHONE,
    SERVER_PASSWORD_HASHING,
    STORE_CODE,
    WAIT_MS,
    Shop,
    _prepare_database,
    chromium_available,
    screenshot,
)
from tests.browser.test_screens import choose_store, open_product, sign_up

pytestmark = pytest.mark.browser
DESKTOP = {"width": 1280, "height": 800}

MAIN, ALT_KG, ALT_KG_TWIN, ALT_AXA, ALT_GONE, ALT_PACK = (
    "7039999000015",
    "7039999000022",
    "7039999000039",
    "7039999000046",
    "7039999000053",
    "7039999000060",
)
RAISINS, BERRIES, JUICE = "7039999000077", "7039999000084", "7039999000091"
CATEGORY = ["Produkttest", "Testgryn"]
# name, brand, quantity, price, stock per store code ("online" for the warehouse)
PRODUCTS: dict[str, tuple[str, str | None, str, int, dict[str, int]]] = {
    MAIN: (
        "Testgryn",
        "Møllerens",
        "500 g",
        2990,
        {"TRD-SOLSIDEN": 4, "SVG-KVADRAT": 9, "online": 7},
    ),
    ALT_KG: ("Testgryn", "Møllerens", "1 kg", 4990, {STORE_CODE: 5}),
    ALT_KG_TWIN: ("Testgryn", "Møllerens", "1 kg", 4990, {STORE_CODE: 5}),
    ALT_AXA: ("Testgryn", "Axa", "500 g", 2790, {STORE_CODE: 3}),
    ALT_GONE: ("Testgryn", "Axa", "750 g", 3490, {"BGO-LAGUNEN": 6}),
    ALT_PACK: ("Testgryn lett", None, "1 pakke", 1990, {STORE_CODE: 2}),
    RAISINS: ("Testrosiner", "Sunmaid", "250 g", 2490, {STORE_CODE: 8}),
    BERRIES: ("Testblåbær", "Findus", "300 g", 3990, {STORE_CODE: 8}),
    JUICE: ("Testjuice", "Sunniva", "1 l", 2990, {"BGO-LAGUNEN": 8}),
}
ALTERNATIVES = """query Alts($gtin: String!, $storeId: ID) {
  product(gtin: $gtin) { alternatives(storeId: $storeId, first: 12) { gtin } }
}"""
RECORD = """mutation Record($input: StockMovementsRecordInput!) {
  stockMovementsRecord(input: $input) { applied errors { code } }
}"""
HERE = """query Here($gtins: [String!]!, $storeId: ID) {
  products(gtins: $gtins) { gtin availability(storeId: $storeId) { here { available } } }
}"""


class HangingHost:
    """A TCP server that accepts connections and never answers (a hanging image host)."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self.listener.close()
        for conn in self.accepted:
            conn.close()


@dataclass(frozen=True)
class ProductShop:
    shop: Shop
    database: Path
    hanging: HangingHost


async def _add_family(url: str, image_url: str) -> None:
    """Add the Testgryn family, its stock and its co-purchases to the seeded shop."""
    from sqlalchemy import select, update

    from server.db import Database
    from server.models import Product, StockLocation, Store
    from server.notifications.complements import record_basket
    from tests.rows import add_product

    db = Database(url)
    try:
        async with db.transaction(write=False) as session:
            rows = await session.execute(
                select(StockLocation.id, Store.code, StockLocation.online).outerjoin(
                    Store, Store.id == StockLocation.store_id
                )
            )
            locations = {("online" if online else code): lid for lid, code, online in rows}
        ids = {}
        for gtin, (name, brand, quantity, price, stock) in PRODUCTS.items():
            levels = {locations[where]: (units, 0) for where, units in stock.items()}
            # Every store gets a row, so "none" is a 0 on the shelf, not a missing row.
            levels |= {lid: (0, 0) for lid in locations.values() if lid not in levels}
            ids[gtin] = await add_product(
                db,
                gtins=[gtin],
                name=name,
                brand=brand,
                categories=CATEGORY,
                price=price,
                stock=levels,
                quantity=quantity,
            )
        async with db.transaction() as session:
            await session.execute(
                update(Product).where(Product.id == ids[MAIN]).values(image_url=image_url)
            )
            await record_basket(session, [ids[MAIN], ids[RAISINS], ids[BERRIES], ids[JUICE]])
    finally:
        await db.dispose()


def _wait_until_indexed(base_url: str) -> None:
    """Wait for the indexer to take in the family (alternatives come from the search index)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = httpx.post(
            f"{base_url}/graphql", json={"query": ALTERNATIVES, "variables": {"gtin": MAIN}}
        ).json()
        found = {
            a["gtin"] for a in (body.get("data") or {}).get("product", {}).get("alternatives", [])
        }
        if {ALT_KG, ALT_AXA, ALT_PACK} <= found:
            return
        time.sleep(0.2)
    raise AssertionError("the search index never took in the test products")


@pytest.fixture(scope="module")
def product_shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ProductShop]:
    chromium_available()
    from tests.live import serve_in_process

    hanging = HangingHost()
    data_dir = tmp_path_factory.mktemp("product-shop")

    async def prepare() -> tuple[str, str, str, str]:
        prepared = await _prepare_database(data_dir)
        await _add_family(prepared[0], hanging.url(f"/images/{MAIN}.jpg"))
        return prepared

    with ThreadPoolExecutor(max_workers=1) as pool:
        url, kiosk, staff, pos = pool.submit(lambda: asyncio.run(prepare())).result()
    env = {
        "OMNICART_DATA_DIR": str(data_dir),
        "OMNICART_DATABASE_URL": url,
        "OMNICART_LOG_LEVEL": "WARNING",
        **SERVER_PASSWORD_HASHING,
    }
    try:
        with serve_in_process(env) as base_url:
            _wait_until_indexed(base_url)
            shop = Shop(url=base_url, kiosk_token=kiosk, staff_device_token=staff, pos_token=pos)
            yield ProductShop(shop, data_dir / "omnicart.db", hanging)
    finally:
        hanging.close()


@pytest.fixture(scope="module")
def shop(product_shop: ProductShop) -> Shop:
    """The conftest fixtures (new_context) run against this module's shop."""
    return product_shop.shop


def requests_for(database: Path, gtin: str) -> list[tuple[str, int | None, str | None]]:
    """The back-in-stock requests of a product at Oslo Storo: (channel, customer, notified)."""
    with sqlite3.connect(database) as conn:
        return conn.execute(
            "SELECT r.channel, r.customer_id, r.notified_at FROM back_in_stock_requests r"
            " JOIN product_barcodes b ON b.product_id = r.product_id"
            " JOIN stores s ON s.id = r.store_id"
            " WHERE b.gtin = ? AND s.code = ?",
            (gtin.zfill(14), STORE_CODE),
        ).fetchall()


def receive_here(shop: Shop, page: Any, gtin: str, units: int) -> None:
    """Record, as the store's till, a delivery of ``units`` of ``gtin`` at the shopper's store."""
    store_id = page.evaluate("JSON.parse(localStorage.getItem('omnicart.shopper')).store.id")
    receipt = {
        "movementId": f"browser-{uuid.uuid4().hex}",
        "gtin": gtin,
        "storeId": store_id,
        "kind": "RECEIPT",
        "quantity": units,
        "occurredAt": datetime.now(UTC).isoformat(),
    }
    answer = httpx.post(
        f"{shop.url}/graphql",
        json={"query": RECORD, "variables": {"input": {"movements": [receipt]}}},
        headers={"Authorization": f"Bearer {shop.pos_token}"},
    ).json()
    assert answer["data"]["stockMovementsRecord"] == {"applied": 1, "errors": []}


def back_in_stock_messages(database: Path) -> list[tuple[str, str]]:
    """The notifications written for back-in-stock requests: (channel, recipient)."""
    with sqlite3.connect(database) as conn:
        return conn.execute(
            "SELECT channel, recipient FROM notifications WHERE kind = 'back_in_stock'"
        ).fetchall()


def in_stock_here(shop: Shop, page: Any, gtins: list[str]) -> dict[str, int]:
    """Units available at the shopper's store, read from the API."""
    store_id = page.evaluate("JSON.parse(localStorage.getItem('omnicart.shopper')).store.id")
    body = httpx.post(
        f"{shop.url}/graphql",
        json={"query": HERE, "variables": {"gtins": gtins, "storeId": store_id}},
    ).json()
    return {p["gtin"]: p["availability"]["here"]["available"] for p in body["data"]["products"]}


def test_out_of_stock_here_leads_with_the_store_that_has_it_delivery_and_tell_me(
    new_context: Any, product_shop: ProductShop
) -> None:
    page = new_context().new_page()
    choose_store(page)
    email = f"havre-{uuid.uuid4().hex[:8]}@example.test"
    sign_up(page, email)
    open_product(page, MAIN)

    lead = page.get_by_test_id("out-of-stock-here")
    assert lead.locator("h2").inner_text() == "Not in stock at Oslo Storo right now"
    # Nothing in Oslo but Storo, so "nearest" is the store with the most: Stavanger (9).
    assert (
        lead.get_by_test_id("nearest-store")
        .inner_text()
        .startswith("Stavanger Kvadrat has it 9 available")
    )
    assert "Deliver it 7 available online" in lead.get_by_test_id("deliver").inner_text()
    # The lead comes before where-to-get-it and add-to-cart.
    order = page.evaluate(
        "[...document.querySelectorAll('article.screen-product > *')].map(e => e.className)"
    )
    assert order.index("out-here") < order.index("availability")
    # The comparison price from "500 g" at 29,90 kr.
    assert page.locator(".product-head [data-testid=unit-price]").inner_text() == "NOK\xa059.80/kg"

    assert requests_for(product_shop.database, MAIN) == []
    page.get_by_test_id("notify-me").click()
    confirmed = page.get_by_test_id("notify-confirmed")
    assert confirmed.inner_text() == "We'll tell you when it's back at Oslo Storo. By email."
    assert page.get_by_test_id("notify-me").count() == 0
    screenshot(page, "shopper-product-out-of-stock-here")
    page.set_viewport_size(DESKTOP)
    screenshot(page, "shopper-product-out-of-stock-here-desktop")
    page.set_viewport_size(PHONE)
    # Asking again (after a reload) answers the open request: still exactly one.
    page.reload()
    page.get_by_test_id("notify-me").click()
    confirmed.wait_for()
    requests = requests_for(product_shop.database, MAIN)
    assert len(requests) == 1 and requests[0][0] == "email" and requests[0][1] is not None
    assert requests[0][2] is None  # open

    # Another shopper (a guest) chooses the nearest store: in stock there, no lead.
    guest = new_context().new_page()
    choose_store(guest)
    open_product(guest, MAIN)
    guest.get_by_test_id("nearest-store").get_by_role("button").click()
    guest.locator("[data-testid=stock-here] .pill-in-stock").wait_for()
    assert guest.get_by_test_id("out-of-stock-here").count() == 0
    assert guest.locator("#availability-heading + dl dt").first.inner_text() == (
        "Here, Stavanger Kvadrat"
    )

    # The till receives it here: the open page drops the lead (no reload), the request is
    # fulfilled and exactly one message is written to the shopper's address.
    receive_here(product_shop.shop, page, MAIN, 6)
    page.locator("[data-testid=stock-here] .pill-in-stock").wait_for()
    assert page.get_by_test_id("out-of-stock-here").count() == 0
    assert requests_for(product_shop.database, MAIN)[0][2] is not None
    assert back_in_stock_messages(product_shop.database) == [("email", email)]


def test_alternatives_and_complements_are_in_stock_here_and_told_apart(
    new_context: Any, shop: Shop
) -> None:
    page = new_context().new_page()
    choose_store(page)
    open_product(page, MAIN)
    cards = page.locator(".alternatives .product-card")
    cards.first.wait_for()
    assert page.locator(".alternatives h2").inner_text() == "Alternatives in stock at Oslo Storo"
    shown = [c.get_attribute("data-gtin") for c in cards.all()]
    labels = [
        f"{c.locator('.card-title').inner_text()} · {c.get_by_test_id('card-meta').inner_text()}"
        for c in cards.all()
    ]
    assert len(set(labels)) == len(labels), labels
    assert all(units > 0 for units in in_stock_here(shop, page, shown).values()), shown
    assert ALT_GONE not in shown
    assert ALT_AXA in shown and ALT_PACK in shown
    assert len({ALT_KG, ALT_KG_TWIN} & set(shown)) == 1  # the same label, shown once
    assert "Testgryn · Møllerens · 1 kg" in labels and "Testgryn · Axa · 500 g" in labels
    # Unit price on a certain size, none on "1 pakke".
    axa = page.locator(f'.alternatives .product-card[data-gtin="{ALT_AXA}"]')
    assert axa.get_by_test_id("unit-price").inner_text() == "NOK\xa055.80/kg"
    pack = page.locator(f'.alternatives .product-card[data-gtin="{ALT_PACK}"]')
    assert pack.get_by_test_id("unit-price").count() == 0

    goes_with = page.get_by_test_id("complements")
    assert goes_with.locator("h2").inner_text() == "Goes well with"
    together = [c.get_attribute("data-gtin") for c in goes_with.locator(".product-card").all()]
    assert not set(together) & set(shown)  # each product in one list only
    assert together in (
        [RAISINS, BERRIES],
        [BERRIES, RAISINS],
    )

    open_product(page, ALT_PACK)
    page.locator(".product-head [data-testid=price]").wait_for()
    assert page.locator(".product-head [data-testid=unit-price]").count() == 0
    assert page.get_by_test_id("out-of-stock-here").count() == 0


def test_a_hanging_image_host_leaves_the_placeholder_not_a_blank_box(
    new_context: Any, product_shop: ProductShop
) -> None:
    page = new_context().new_page()
    choose_store(page)
    open_product(page, MAIN)
    frame = page.locator(".product-hero [data-testid=product-image]")
    # While the host hangs the box shows the pack drawing, and keeps it after the timeout.
    assert frame.locator(".product-frame-graphic").is_visible()
    page.locator('.product-hero [data-testid=product-image][data-state="placeholder"]').wait_for(
        timeout=WAIT_MS
    )
    # The browser reached the host, which never answers (stuck connections of earlier pages
    # may hold this one back in the queue: a hang all the same).
    assert product_shop.hanging.accepted
    assert frame.locator("img").count() == 0
    assert frame.locator(".product-frame-graphic").is_visible()
    assert frame.get_attribute("aria-label") == "Testgryn"
    box = frame.bounding_box()
    assert box is not None and box["width"] > 100 and box["height"] > 50
    # The regular price, during a campaign, is announced by its visually hidden text.
    open_product(page, "3017620422003")  # Nutella, in "Ukens tilbud"
    regular = page.locator(".product-head [data-testid=price-regular]")
    assert regular.locator(".visually-hidden").inner_text().startswith("Regular price NOK\xa0")
    assert regular.locator("s").get_attribute("aria-hidden") == "true"


def test_in_norwegian_the_page_speaks_bokmal_with_norwegian_money(browser: Any, shop: Shop) -> None:
    context = browser.new_context(base_url=shop.url, locale="nb-NO", viewport=PHONE)
    context.set_default_timeout(WAIT_MS)
    try:
        page = context.new_page()
        untranslated: list[str] = []
        page.on(
            "console", lambda m: untranslated.append(m.text) if "untranslated" in m.text else None
        )
        choose_store(page)
        open_product(page, ALT_AXA)
        assert page.evaluate("document.documentElement.lang") == "nb"
        head = page.locator(".product-head")
        assert head.get_by_test_id("price").inner_text() == "27,90\xa0kr"
        assert head.get_by_test_id("unit-price").inner_text() == "55,80\xa0kr/kg"
        page.locator(".alternatives h2").wait_for()
        assert (
            page.locator(".alternatives h2").inner_text() == "Alternativer på lager hos Oslo Storo"
        )
        assert page.locator("#availability-heading").inner_text() == "Hvor du får den"
        assert page.get_by_test_id("add-to-cart").inner_text() == "Legg i handlekurven"
        assert untranslated == []
    finally:
        context.close()
