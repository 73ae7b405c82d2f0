"""The shop front: the start page once a store is chosen (issue 15, item 5).

Against the seeded demo shop: the front lists the chosen store's campaign offers (a running
campaign, on the shelf there), categories with counts and an "in stock here" filter that
follows a till's sale, opens the search screen filtered by a category, remembers a scanned
product, and at desktop width lays out a grid with one cart link. Screenshots at 390×844,
1280×800 and 1080×1920 (and the phone in Norwegian) go to artifacts/screenshots.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from server.gtin import parse_gtin
from server.importer import category_label
from server.seed import DEMO_PRODUCTS, DEMO_STORES, campaign_slot, demo_stock
from tests.browser.conftest import KIOSK, OTHER_STORE_CODE, PHONE, STORE_CODE, Shop, screenshot
from tests.browser.test_screens import UNLABELLED_CONTROLS
from tests.browser.test_stock_live import sell_everything_here

pytestmark = pytest.mark.browser

NUTELLA = "3017620422003"  # "Ukens tilbud" runs; in stock everywhere
COCA_COLA = "5449000000996"  # its campaign starts next month; in stock everywhere
DESKTOP = {"width": 1280, "height": 800}
OFFERS = "[data-testid=front-offers]"
CATEGORIES = "[data-testid=front-categories]"
CATEGORIES_OF = "query Of($gtin: String!) { product(gtin: $gtin) { name categories } }"
VISIBLE_CART_LINKS = """() => [...document.querySelectorAll('a[href^="#/cart"]')]
  .filter((a) => a.getClientRects().length && getComputedStyle(a).visibility !== "hidden").length"""


def on_offer_out_here_only() -> str:
    """A demo product on the running campaign with no stock in STORE_CODE but some in the other."""
    codes = [store.code for store in DEMO_STORES]
    seen: set[str] = set()
    with DEMO_PRODUCTS.open(encoding="utf-8") as lines:
        for line in lines:
            display = parse_gtin(str(json.loads(line)["code"])).display
            if display in seen:
                continue
            seen.add(display)
            stock = demo_stock(display, codes)
            if (
                campaign_slot(display) == "current"
                and stock[STORE_CODE] == 0
                and stock[OTHER_STORE_CODE] > 0
            ):
                return display
    raise AssertionError("the demo has no product on offer that only the other store has")


def plain_product_here() -> str:
    """A demo product with a category, stock in STORE_CODE and no running campaign."""
    codes = [store.code for store in DEMO_STORES]
    with DEMO_PRODUCTS.open(encoding="utf-8") as lines:
        for line in lines:
            row = json.loads(line)
            display = parse_gtin(str(row["code"])).display
            labelled = [
                label for label in map(category_label, row.get("categories") or []) if label
            ]
            if (
                labelled
                and demo_stock(display, codes)[STORE_CODE] > 0
                and not campaign_slot(display)
            ):
                if display not in (NUTELLA, COCA_COLA):
                    return display
    raise AssertionError("the demo has no plain product in stock here")


def open_front(page: Any, store_code: str = STORE_CODE) -> None:
    """A new device: the store chooser, then the shop front of that store."""
    page.goto("/")
    page.locator(f"[data-store-code={store_code}]").click()
    page.locator("section.screen-front").wait_for()
    page.locator(f"{OFFERS} .offer-card").first.wait_for()
    page.locator(f"{CATEGORIES} .category-link").first.wait_for()


def every_offer(page: Any) -> list[str]:
    """Page through the offers with "Show more offers"; return the barcodes shown, in order."""
    more = page.get_by_role("button", name="Show more offers")
    while more.is_visible():
        shown = page.locator(f"{OFFERS} .offer-card").count()
        more.click()
        page.wait_for_function(
            "([s, n]) => document.querySelectorAll(s).length > n",
            arg=[f"{OFFERS} .offer-card", shown],
        )
    return page.locator(f"{OFFERS} .offer-card").evaluate_all(
        "(cards) => cards.map((card) => card.dataset.gtin)"
    )


def category_count(page: Any, name: str) -> int:
    """The product count the front shows for a category, once the list has settled."""
    page.wait_for_function(f"!document.querySelector('{CATEGORIES}').hasAttribute('aria-busy')")
    link = page.locator(f"{CATEGORIES} .category-link").filter(has_text=name).first
    return int(link.locator(".category-count").inner_text().split()[0])


def top_category(shop: Shop, gtin: str) -> tuple[str, str]:
    """The product's name and the label that opens its category path, from the API."""
    with httpx.Client(base_url=shop.url, timeout=10) as client:
        body = client.post("/graphql", json={"query": CATEGORIES_OF, "variables": {"gtin": gtin}})
    product = body.json()["data"]["product"]
    return product["name"], product["categories"][0]


def test_the_front_shows_the_offers_of_the_chosen_store(new_context: Any) -> None:
    only_there = on_offer_out_here_only()
    page = new_context(PHONE).new_page()
    open_front(page)
    assert page.locator("main h1").inner_text() == "Shopping at Oslo Storo"
    nutella = page.locator(f'{OFFERS} .offer-card[data-gtin="{NUTELLA}"]')
    screenshot(page, "front-phone-390x844")
    here = every_offer(page)
    assert NUTELLA in here
    assert COCA_COLA not in here  # in stock, but its campaign has not started
    assert only_there not in here  # on the campaign, but not on this store's shelf
    assert nutella.locator(".card-title").inner_text() == "Nutella"
    assert nutella.locator(".campaign-name").inner_text() == "Ukens tilbud"
    assert nutella.get_by_test_id("offer-price").inner_text() == "NOK\xa039.90"
    assert "NOK" in nutella.locator(".price-regular").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.evaluate(UNLABELLED_CONTROLS) == []
    assert page.evaluate(VISIBLE_CART_LINKS) == 1  # the header's; the tab bar has none

    page.locator("#store-chip").click()
    page.locator(f"[data-store-code={OTHER_STORE_CODE}]").click()
    page.locator("section.screen-front h1").filter(has_text="Bergen").wait_for()
    page.locator(f"{OFFERS} .offer-card").first.wait_for()
    assert only_there in every_offer(page)


def test_categories_count_stock_here_and_open_the_search(new_context: Any, shop: Shop) -> None:
    product = plain_product_here()
    _, category = top_category(shop, product)
    page = new_context(PHONE).new_page()
    open_front(page)
    everywhere = category_count(page, category)
    page.get_by_label("Only what Oslo Storo has in stock").check()
    assert page.url.endswith("#/?stock=1")
    stocked = category_count(page, category)
    assert 0 < stocked <= everywhere

    sell_everything_here(shop, product)
    page.reload()
    page.locator(f"{CATEGORIES} .category-link").first.wait_for()
    assert page.get_by_label("Only what Oslo Storo has in stock").is_checked()
    assert category_count(page, category) == stocked - 1  # the till sold the last units
    page.get_by_label("Only what Oslo Storo has in stock").uncheck()
    assert category_count(page, category) == everywhere

    page.locator(f"{CATEGORIES} .category-link").filter(has_text=category).first.click()
    page.locator("[data-testid=search-results] .product-card").first.wait_for()
    assert "#/search?category=" in page.url
    chips = page.get_by_test_id("active-filters")
    assert chips.inner_text().startswith(f"Category: {category}")
    expected = f"{everywhere} product{'' if everywhere == 1 else 's'}"
    page.locator(".result-count").filter(has_text=expected).wait_for()


def test_a_scanned_product_is_under_recently_viewed(new_context: Any, shop: Shop) -> None:
    name, _ = top_category(shop, COCA_COLA)
    page = new_context(PHONE).new_page()
    open_front(page)
    assert page.get_by_test_id("front-recent").count() == 0
    page.locator('.tabbar [data-tab="scan"]').click()
    page.get_by_label("Barcode number").fill(COCA_COLA)
    page.keyboard.press("Enter")
    page.locator(f'article.screen-product[data-gtin="{COCA_COLA}"]').wait_for()
    page.locator('.tabbar [data-tab="shop"]').click()
    recent = page.get_by_test_id("front-recent").locator(f'a[data-gtin="{COCA_COLA}"]')
    recent.wait_for()
    assert recent.inner_text() == name
    assert page.locator('.tabbar [data-tab="shop"]').get_attribute("aria-current") == "page"


def test_the_desktop_front_is_a_grid_with_one_cart(new_context: Any) -> None:
    page = new_context(DESKTOP).new_page()
    open_front(page)
    assert page.evaluate(VISIBLE_CART_LINKS) == 1
    offers = page.locator("section.front-offers").bounding_box()
    side = page.locator(".front-side").bounding_box()
    assert side["x"] >= offers["x"] + offers["width"]  # categories beside the offers
    tops = page.locator(f"{OFFERS} .offer-card").evaluate_all(
        "(cards) => cards.slice(0, 4).map((card) => card.getBoundingClientRect().top)"
    )
    assert len(set(tops)) == 1, tops  # at least four offers in the first row
    # The tab bar is the top navigation: right under the header, not at the bottom.
    assert page.locator(".tabbar").bounding_box()["y"] < 120
    screenshot(page, "front-desktop-1280x800")
    page.locator("#cart-link").click()
    page.locator("section.screen-cart").wait_for()
    assert page.evaluate(VISIBLE_CART_LINKS) == 1


def test_the_front_at_kiosk_size_and_in_norwegian(new_context: Any) -> None:
    page = new_context(KIOSK).new_page()
    open_front(page)
    assert page.evaluate(VISIBLE_CART_LINKS) == 1
    screenshot(page, "front-portrait-1080x1920")
    phone = new_context(PHONE)
    phone.add_init_script("try { localStorage.setItem('omnicart.locale', 'nb') } catch {}")
    norsk = phone.new_page()
    messages: list[str] = []
    norsk.on("console", lambda m: messages.append(m.text) if m.type == "error" else None)
    open_front(norsk)
    assert norsk.evaluate("document.documentElement.lang") == "nb"
    assert norsk.locator("main h1").inner_text() == "Handle hos Oslo Storo"
    assert norsk.locator('.tabbar [data-tab="shop"]').inner_text() == "Butikk"
    assert norsk.locator("#cart-link").get_attribute("aria-label") == "Handlekurv, 0 varer"
    price = norsk.locator(f"{OFFERS} .offer-card").first.get_by_test_id("offer-price")
    assert re.fullmatch(r"\d+,\d\d\xa0kr", price.inner_text()), price.inner_text()
    assert [m for m in messages if "untranslated" in m] == []
    screenshot(norsk, "front-phone-390x844-nb")
