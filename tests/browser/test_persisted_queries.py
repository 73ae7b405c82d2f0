"""The PWA sends its documents by hash (APQ): the server knows its own from the start.

Every GraphQL request the page makes is recorded. The PWA's static documents (stores, the
product page, its alternatives, the scan) never travel as text, not even the first time; a
document built at run time (the cart's) is sent as text once, after the server answered
``PersistedQueryNotFound``, and by hash from then on.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser.conftest import STORE_CODE
from tests.browser.test_screens import COCA_COLA, NUTELLA, add_to_cart, open_product

pytestmark = pytest.mark.browser

PINNED = {"Stores", "Product", "ProductAlternatives", "Scan"}


def record_graphql(page: Any) -> list[dict[str, Any]]:
    """Collect the JSON body of every POST /graphql the page sends, in order."""
    bodies: list[dict[str, Any]] = []

    def note(request: Any) -> None:
        if request.method == "POST" and request.url.endswith("/graphql"):
            bodies.append(json.loads(request.post_data))

    page.on("request", note)
    return bodies


def test_the_pwas_own_documents_never_travel_as_text(new_context: Any) -> None:
    page = new_context().new_page()
    bodies = record_graphql(page)
    page.goto("/")
    page.locator(f"[data-store-code={STORE_CODE}]").click()
    page.locator("section.screen-front").wait_for()
    page.locator('.tabbar [data-tab="scan"]').click()
    page.get_by_label("Barcode number").fill(NUTELLA)
    page.keyboard.press("Enter")
    page.locator(f'article.screen-product[data-gtin="{NUTELLA}"]').wait_for()
    page.locator(".alternatives .product-card").first.wait_for()

    names = [body.get("operationName") for body in bodies]
    assert PINNED <= set(names), names
    for body in bodies:
        if body.get("operationName") in PINNED:
            assert "query" not in body, body["operationName"]
            assert len(body["extensions"]["persistedQuery"]["sha256Hash"]) == 64


def test_a_run_time_document_is_sent_as_text_once_then_by_hash(new_context: Any) -> None:
    page = new_context().new_page()
    bodies = record_graphql(page)
    page.goto("/")
    page.locator(f"[data-store-code={STORE_CODE}]").click()
    add_to_cart(page, NUTELLA)
    first_load = len(bodies)
    add_to_cart(page, COCA_COLA)
    open_product(page, NUTELLA)
    page.locator(".alternatives .product-card").first.wait_for()

    with_text = [b for b in bodies if "query" in b]
    assert [b["operationName"] for b in with_text] == ["CartCreate", "CartLinesAdd"], with_text
    for body in with_text:
        # The text follows the same hash sent alone, which the server did not know yet.
        hash_only = [b for b in bodies if b.get("extensions") == body["extensions"]]
        assert "query" not in hash_only[0]
    later = bodies[first_load:]
    assert {"CartLinesAdd", "Product"} <= {b["operationName"] for b in later}
    assert [b for b in later if "query" in b] == []
