"""The PWA in a real browser: scan, product page, live cart, handoff to the kiosk, offline.

Each test drives Debian's Chromium against a real server seeded with the demo catalog
(``server/seed.py``; its docstring lists the barcodes used here) and saves screenshots of
the screens it passes through to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any

import pytest

from tests.browser.camera import barcode_video, image_frame, write_y4m
from tests.browser.conftest import (
    KIOSK,
    NARROW_PHONE,
    PHONE,
    STORE_CODE,
    TABLET,
    WAIT_MS,
    Shop,
    fake_camera_browser,
    screenshot,
)

pytestmark = pytest.mark.browser

NUTELLA = "3017620422003"  # in stock everywhere, in the running "Ukens tilbud" campaign
ONLINE_ONLY = "7023026406208"  # Fløtepotet med hvitløk: not in any store
LOW_STOCK = "7035620010941"  # Kjøttdeig: 1-3 units everywhere
COCA_COLA = "5449000000996"
OUT_HERE = "7025110118769"  # Økologisk lettmelk: out of stock in OSL-STORO


def choose_store(page: Any, code: str = STORE_CODE) -> None:
    """Open the shopper app and pick a store (the first screen of a new device)."""
    page.goto("/")
    page.locator(f"[data-store-code={code}]").click()
    page.locator("section.screen-front").wait_for()  # the shop front is the start page
    page.locator('.tabbar [data-tab="scan"]').click()
    page.locator("#manual-code").wait_for()


def open_product(page: Any, gtin: str) -> None:
    """Open a product page by its hash route and wait for it."""
    page.goto(f"/#/product/{gtin}")
    page.locator(f'article.screen-product[data-gtin="{gtin}"]').wait_for()


def add_to_cart(page: Any, gtin: str) -> None:
    """Add one unit of a product from its page and wait for the confirmation."""
    open_product(page, gtin)
    before = int(page.locator("[data-testid=cart-count]").inner_text())
    page.get_by_test_id("add-to-cart").click()
    # Success, or a warning when the store has fewer than the cart now holds.
    page.locator(".add-feedback :is(.notice-success, .notice-warning)").wait_for()
    wait_for_text(page, "[data-testid=cart-count]", str(before + 1))


def wait_for_text(page: Any, selector: str, text: str, timeout: int = WAIT_MS) -> None:
    """Wait until the element's text contains ``text``."""
    page.wait_for_function(
        "([s, t]) => document.querySelector(s)?.textContent.includes(t)",
        arg=[selector, text],
        timeout=timeout,
    )


def sign_up(page: Any, email: str, password: str = "correct horse battery") -> None:
    """Create an account from the account screen (the guest cart comes along)."""
    page.goto("/#/account?next=/cart")
    page.locator("#signup-name").fill("Kari Nordmann")
    page.locator("#signup-email").fill(email)
    page.locator("#signup-password").fill(password)
    page.get_by_role("button", name="Create account").click()
    page.locator("section.screen-cart").wait_for()


def sign_in(page: Any, email: str, password: str = "correct horse battery") -> None:
    """Sign in from the account screen."""
    page.goto("/#/account?next=/cart")
    page.locator("#signin-email").fill(email)
    page.locator("#signin-password").fill(password)
    page.locator("form.account-form").first.get_by_role("button", name="Sign in").click()
    page.locator("section.screen-cart").wait_for()


def test_typed_barcode_opens_the_product_page(new_context: Any) -> None:
    page = new_context(NARROW_PHONE).new_page()
    page.goto("/")
    page.locator(f"[data-store-code={STORE_CODE}]").wait_for()
    screenshot(page, "shopper-store-chooser")
    page.locator(f"[data-store-code={STORE_CODE}]").click()
    page.locator("section.screen-front").wait_for()
    page.locator('.tabbar [data-tab="scan"]').click()
    screenshot(page, "shopper-scan")

    page.get_by_label("Barcode number").fill("301 7620 42200 3")
    page.keyboard.press("Enter")

    product = page.locator(f'article.screen-product[data-gtin="{NUTELLA}"]')
    product.wait_for()
    assert page.locator("h1").inner_text() == "Nutella"
    assert page.url.endswith(f"#/product/{NUTELLA}")
    assert page.locator(".product-head [data-testid=price]").inner_text() == "NOK\xa039.90"
    assert page.locator(".product-head .campaign-name").inner_text() == "Ukens tilbud"
    assert page.get_by_test_id("stock-here").inner_text() == "In stock"
    assert page.get_by_test_id("barcode-image").get_attribute("src") == f"/barcodes/{NUTELLA}.svg"
    page.locator(".alternatives .product-card").first.wait_for()
    # Usable at 360 px: nothing sticks out sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    screenshot(page, "shopper-product")


def test_malformed_barcode_is_explained_on_the_scan_screen(new_context: Any) -> None:
    page = new_context().new_page()
    choose_store(page)
    page.get_by_label("Barcode number").fill("3017620422004")
    page.keyboard.press("Enter")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "check digit" in alert.inner_text().lower()
    assert page.url.endswith("#/scan")


def test_camera_scan_with_the_polyfill_opens_the_product_page(
    playwright_instance: Any, shop: Shop, tmp_path: Path
) -> None:
    video = barcode_video(NUTELLA, tmp_path / "nutella.y4m")
    with fake_camera_browser(playwright_instance, video) as camera_browser:
        context = camera_browser.new_context(
            base_url=shop.url, viewport=PHONE, permissions=["camera"]
        )
        context.set_default_timeout(WAIT_MS)
        page = context.new_page()
        fetched: list[str] = []
        page.on("request", lambda request: fetched.append(request.url))
        choose_store(page)
        assert page.evaluate("'BarcodeDetector' in window") is False
        assert not any("barcode-detector" in url for url in fetched)  # not before scanning
        page.get_by_test_id("start-camera").click()
        page.locator(f'article.screen-product[data-gtin="{NUTELLA}"]').wait_for(timeout=20_000)
        assert page.locator("h1").inner_text() == "Nutella"
        # The polyfill and its WebAssembly came from this server, loaded only on scanning.
        assert any(url.endswith("/vendor/barcode-detector.js") for url in fetched)
        assert any(url.endswith("/zxing_reader.wasm") for url in fetched)
        assert all(url.startswith(shop.url) for url in fetched if "vendor" in url)
        screenshot(page, "shopper-product-scanned")


def test_kiosk_reads_the_handoff_qr_code_with_its_camera(
    new_context: Any, playwright_instance: Any, shop: Shop, tmp_path: Path
) -> None:
    phone = new_context().new_page()
    choose_store(phone)
    add_to_cart(phone, LOW_STOCK)
    phone.goto("/#/handoff")
    phone.get_by_test_id("handoff-code").wait_for()
    qr_url = phone.locator("img.handoff-qr").get_attribute("src")
    assert qr_url is not None
    qr_png = phone.request.get(qr_url.replace(".svg", ".png")).body()
    video = write_y4m(image_frame(qr_png, fill=0.7), tmp_path / "handoff.y4m")

    with fake_camera_browser(playwright_instance, video) as camera_browser:
        context = camera_browser.new_context(
            base_url=shop.url, viewport=KIOSK, permissions=["camera"]
        )
        context.set_default_timeout(WAIT_MS)
        kiosk = context.new_page()
        kiosk.goto(f"/kiosk#device={shop.kiosk_token}&store={STORE_CODE}")
        kiosk.get_by_role("button", name="Scan the code with the camera").click()
        kiosk.get_by_test_id("kiosk-lines").locator(f'li[data-gtin="{LOW_STOCK}"]').wait_for(
            timeout=20_000
        )
        screenshot(kiosk, "kiosk-cart-from-qr")


def test_cart_change_shows_on_a_second_device_within_two_seconds(new_context: Any) -> None:
    email = f"kari-{uuid.uuid4().hex[:8]}@example.com"
    phone = new_context().new_page()
    choose_store(phone)
    add_to_cart(phone, NUTELLA)
    sign_up(phone, email)  # the guest cart comes along
    assert phone.locator("[data-testid=cart-lines] li").count() == 1

    desktop = new_context({"width": 1280, "height": 900}).new_page()
    choose_store(desktop)
    sign_in(desktop, email)
    desktop.locator("[data-testid=cart-lines] li").first.wait_for()
    desktop.locator(".live-dot.is-live").wait_for()

    # add_to_cart returns once the phone has the server's answer; from there, 2 s at most.
    add_to_cart(phone, COCA_COLA)
    desktop.locator(f'[data-testid=cart-lines] li[data-gtin="{COCA_COLA}"]').wait_for(timeout=2_000)
    assert desktop.get_by_test_id("cart-count").inner_text() == "2"
    screenshot(desktop, "shopper-cart-live-desktop")
    phone.goto("/#/cart")
    phone.locator("[data-testid=cart-lines] li").nth(1).wait_for()
    screenshot(phone, "shopper-cart")


def test_handoff_code_from_the_phone_opens_the_cart_at_the_kiosk(
    new_context: Any, shop: Shop
) -> None:
    phone = new_context().new_page()
    choose_store(phone)
    add_to_cart(phone, NUTELLA)
    add_to_cart(phone, ONLINE_ONLY)
    phone.goto("/#/cart")
    phone.get_by_test_id("continue-at-kiosk").click()
    code = phone.get_by_test_id("handoff-code").inner_text()
    assert re.fullmatch(r"[A-Z2-9]{4}-[A-Z2-9]{4}", code), code
    phone.locator(".handoff-images img").nth(1).wait_for()
    screenshot(phone, "shopper-handoff")

    kiosk = new_context(KIOSK).new_page()
    kiosk.goto(f"/kiosk#device={shop.kiosk_token}&store={STORE_CODE}")
    code_input = kiosk.get_by_test_id("kiosk-code")
    code_input.wait_for()
    assert "dv_" not in kiosk.url  # the device token is not left in the address bar
    screenshot(kiosk, "kiosk-start")
    code_input.fill(code.lower().replace("-", " "))
    kiosk.get_by_role("button", name="Open cart").click()

    lines = kiosk.get_by_test_id("kiosk-lines")
    lines.locator("li").nth(1).wait_for()
    assert lines.locator(f'li[data-gtin="{NUTELLA}"]').get_attribute("data-where") == "shelf"
    assert lines.locator(f'li[data-gtin="{ONLINE_ONLY}"]').get_attribute("data-where") == "order"
    assert "On the shelf here" in lines.locator(f'li[data-gtin="{NUTELLA}"]').inner_text()
    assert kiosk.evaluate("document.documentElement.scrollWidth") <= KIOSK["width"]
    screenshot(kiosk, "kiosk-cart")

    # The code was single-use: a second claim is refused.
    kiosk.get_by_role("button", name="Done — start over").click()
    kiosk.get_by_test_id("kiosk-code").fill(code)
    kiosk.get_by_role("button", name="Open cart").click()
    assert "does not work" in kiosk.get_by_role("alert").inner_text()


def test_reloading_offline_shows_the_saved_cart(new_context: Any) -> None:
    context = new_context()
    page = context.new_page()
    choose_store(page)
    add_to_cart(page, LOW_STOCK)
    # The cart's answer is saved on the device by the service worker, so the cart is read
    # once the worker controls the page (on a busy machine it may take over only later).
    page.wait_for_function("navigator.serviceWorker.controller !== null")
    page.goto("/#/cart")
    page.locator("[data-testid=cart-lines] li").first.wait_for()

    context.set_offline(True)
    page.reload()
    page.locator(f'[data-testid=cart-lines] li[data-gtin="{LOW_STOCK}"]').wait_for()
    page.get_by_test_id("offline-banner").wait_for()
    assert "offline" in page.get_by_test_id("offline-banner").inner_text().lower()
    screenshot(page, "shopper-offline-cart")
    context.set_offline(False)


def test_click_and_collect_order_turns_ready_on_the_phone_when_staff_marks_it(
    new_context: Any, shop: Shop
) -> None:
    phone = new_context().new_page()
    choose_store(phone)
    add_to_cart(phone, NUTELLA)
    phone.goto("/#/checkout")
    assert phone.get_by_label("Click and collect").is_checked()
    assert phone.get_by_label("Collect at").input_value() != ""
    screenshot(phone, "shopper-checkout")
    phone.get_by_test_id("place-order").click()
    status = phone.get_by_test_id("order-status")
    status.wait_for()
    assert status.get_attribute("data-status") == "PLACED"
    number = phone.locator("h1").inner_text().removeprefix("Order ")
    assert re.fullmatch(r"OC-\d{2}-\d{6}-\d", number), number
    assert phone.get_by_test_id("cart-count").inner_text() == "0"  # the guest cart closed

    staff = new_context(TABLET).new_page()
    staff.goto("/staff")
    staff.get_by_label("Email").fill(shop.staff_email)
    staff.get_by_label("Password").fill(shop.staff_password)
    staff.get_by_role("button", name="Sign in").click()
    card = staff.locator(f'[data-testid=staff-orders] [data-order-number="{number}"]')
    card.wait_for()
    assert "Nutella" in card.inner_text()
    screenshot(staff, "staff-orders")
    card.get_by_role("button", name="Mark ready").click()

    # The phone follows the order live: no reload.
    phone.locator("[data-testid=order-status][data-status=READY_FOR_PICKUP]").wait_for(
        timeout=5_000
    )
    assert "Ready for pickup" in status.inner_text()
    screenshot(phone, "shopper-order-ready")

    staff.get_by_role("button", name="Ready for pickup").click()
    ready = staff.locator(f'[data-order-number="{number}"][data-status=READY_FOR_PICKUP]')
    ready.get_by_role("button", name="Mark collected").click()
    phone.locator("[data-testid=order-status][data-status=COLLECTED]").wait_for()


def test_kiosk_orders_what_is_not_on_the_shelf_and_prints_a_receipt(
    new_context: Any, shop: Shop
) -> None:
    phone = new_context().new_page()
    choose_store(phone)
    add_to_cart(phone, NUTELLA)
    add_to_cart(phone, ONLINE_ONLY)
    phone.goto("/#/handoff")
    code = phone.get_by_test_id("handoff-code").inner_text()
    timer = phone.get_by_test_id("handoff-timer")
    assert "Valid for" in timer.inner_text()

    kiosk = new_context(KIOSK).new_page()
    # A short inactivity timeout, so the test also sees the kiosk start over by itself.
    kiosk.goto(f"/kiosk?idle=6&warn=1#device={shop.kiosk_token}&store={STORE_CODE}")
    kiosk.get_by_test_id("kiosk-code").fill(code)
    kiosk.keyboard.press("Enter")
    kiosk.get_by_test_id("kiosk-lines").locator("li").nth(1).wait_for()
    kiosk.get_by_test_id("kiosk-order-rest").click()
    assert kiosk.get_by_role("radio", name="Home delivery").is_checked()
    kiosk.get_by_label("Delivery address (for home delivery)").fill("Storgata 1, 0155 Oslo")
    kiosk.get_by_test_id("kiosk-place-order").click()

    receipt = kiosk.get_by_test_id("receipt")
    receipt.wait_for()
    number = kiosk.get_by_test_id("order-number").inner_text()
    assert "Fløtepotet med hvitløk" in receipt.inner_text()
    assert "Nutella" not in receipt.inner_text()  # that one is on the shelf here
    # The receipt's Code 128 (drawn in the browser) reads back as the order number.
    decoded = kiosk.evaluate(DECODE_RECEIPT_BARCODE)
    assert decoded == [number]
    screenshot(kiosk, "kiosk-receipt")

    # The phone stopped counting down when the kiosk claimed the code, and shows the line
    # the kiosk ordered with its order number.
    claimed = phone.get_by_test_id("handoff-claimed")
    claimed.wait_for()
    assert "Your cart is open at the kiosk in Oslo Storo" in claimed.inner_text()
    assert timer.count() == 0
    claimed.get_by_test_id("ordered-number").wait_for()
    assert number in claimed.get_by_test_id("ordered-number").inner_text()
    assert "Fløtepotet med hvitløk" in claimed.get_by_test_id("ordered-lines").inner_text()

    # The phone's cart keeps what was on the shelf, live, and shows what was ordered.
    phone.goto("/#/cart")
    phone.locator(f'[data-testid=cart-lines] li[data-gtin="{NUTELLA}"]').wait_for()
    assert phone.locator("[data-testid=cart-lines] li").count() == 1
    ordered = phone.get_by_test_id("ordered-lines")
    assert number in ordered.inner_text() and ONLINE_ONLY in (
        ordered.locator("li").first.get_attribute("data-gtin") or ""
    )

    # The store's staff see the delivery order placed at their kiosk.
    staff = new_context(TABLET).new_page()
    staff_sign_in(staff, shop)
    card = staff.locator(f'[data-testid=staff-orders] li[data-order-number="{number}"]')
    card.wait_for()
    assert card.get_attribute("data-fulfilment") == "DELIVERY"

    # Left alone, the kiosk asks, then starts over for the next customer.
    kiosk.locator("#idle").wait_for(state="visible", timeout=10_000)
    kiosk.get_by_test_id("kiosk-code").wait_for(timeout=5_000)
    assert kiosk.locator("#idle").is_hidden()


DECODE_RECEIPT_BARCODE = """async () => {
  const { BarcodeDetector } = await import("/vendor/barcode-detector.js");
  const svg = document.querySelector("[data-testid=receipt] svg.code128");
  const image = new Image();
  image.src = "data:image/svg+xml;base64," + btoa(new XMLSerializer().serializeToString(svg));
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.width * 2;
  canvas.height = image.height * 2;
  const context = canvas.getContext("2d");
  context.fillStyle = "#fff";
  context.fillRect(0, 0, canvas.width, canvas.height);
  context.drawImage(image, 0, 0, canvas.width, canvas.height);
  const found = await new BarcodeDetector({ formats: ["code_128"] }).detect(canvas);
  return found.map((barcode) => barcode.rawValue);
}"""


def test_search_as_you_type_narrows_with_facets(new_context: Any) -> None:
    page = new_context().new_page()
    choose_store(page)
    page.goto("/#/search")
    page.get_by_label("Search products").press_sequentially("nutel", delay=40)
    results = page.get_by_test_id("search-results")
    results.locator(".product-card").first.wait_for()
    assert results.locator("mark").first.inner_text().lower().startswith("nutel")
    total = int(page.locator(".result-count").inner_text().split()[0])
    assert total >= 2

    page.locator(".facets summary", has_text="Brand").click()
    page.locator(".facets").get_by_role("checkbox", name=re.compile(r"^Ferrero \(")).check()
    page.wait_for_function(
        "n => parseInt(document.querySelector('.result-count').textContent) < n", arg=total
    )
    assert "brand=Ferrero" in page.url
    screenshot(page, "shopper-search")


def staff_sign_in(staff: Any, shop: Shop) -> None:
    """Sign the test store's staff member in on the staff page; wait for the order list."""
    staff.goto("/staff")
    staff.get_by_label("Email").fill(shop.staff_email)
    staff.get_by_label("Password").fill(shop.staff_password)
    staff.get_by_role("button", name="Sign in").click()
    staff.get_by_test_id("staff-orders").wait_for()


def test_staff_sees_scan_analytics_and_looks_up_a_customer(new_context: Any, shop: Shop) -> None:
    email = f"per-{uuid.uuid4().hex[:8]}@example.com"
    phone = new_context().new_page()
    choose_store(phone)
    for code in (NUTELLA, OUT_HERE, NUTELLA):
        phone.goto("/#/scan")
        phone.get_by_label("Barcode number").fill(code)
        phone.keyboard.press("Enter")
        phone.locator(f'article.screen-product[data-gtin="{code}"]').wait_for()
    sign_up(phone, email)

    staff = new_context(TABLET).new_page()
    staff.goto("/staff")
    staff.get_by_label("Email").fill(shop.staff_email)
    staff.get_by_label("Password").fill(shop.staff_password)
    staff.get_by_role("button", name="Sign in").click()
    staff.get_by_test_id("staff-orders").wait_for()

    staff.get_by_role("link", name="Scan analytics").click()
    staff.get_by_test_id("report-stats").wait_for()
    most = staff.locator("figure.chart", has_text="Most scanned")
    missed = staff.locator("figure.chart", has_text="Missed demand")
    assert most.locator(".bar-row").count() >= 2
    assert "Nutella" in most.inner_text()
    assert missed.locator(".bar-row").count() >= 1
    # Every label is shown whole: inside its chart, nothing cut off or hidden by overflow.
    for label in staff.locator(".bar-label").all():
        clipped = label.evaluate(
            """(el) => {
              const box = el.getBoundingClientRect();
              const chart = el.closest("figure").getBoundingClientRect();
              const outside = box.left < chart.left || box.right > chart.right;
              return el.scrollWidth > el.clientWidth || outside;
            }"""
        )
        assert not clipped, label.inner_text()
    screenshot(staff, "staff-analytics")

    staff.get_by_role("link", name="Customers").click()
    staff.get_by_label("Name, email or phone").fill(email)
    staff.get_by_role("button", name="Search").click()
    card = staff.locator("article.customer-card")
    card.wait_for()
    assert email in card.inner_text()
    screenshot(staff, "staff-customers")


def test_shopper_screens_are_keyboard_reachable_and_labelled(new_context: Any) -> None:
    page = new_context(NARROW_PHONE).new_page()
    choose_store(page)
    # Every form control on the main screens has an accessible name.
    for route in ("/#/scan", "/#/search", "/#/account", f"/#/product/{NUTELLA}"):
        page.goto(route)
        page.locator("main h1").wait_for()
        unlabelled = page.evaluate(UNLABELLED_CONTROLS)
        assert unlabelled == [], f"{route}: {unlabelled}"
        assert page.evaluate("document.documentElement.scrollWidth") <= 360, route
    # Tab from the top reaches the barcode field and submits it with Enter.
    page.goto("/#/scan")
    page.locator("main h1").wait_for()
    for _ in range(12):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "manual-code":
            break
    assert page.evaluate("document.activeElement.id") == "manual-code"
    page.keyboard.type(NUTELLA)
    page.keyboard.press("Enter")
    page.locator(f'article.screen-product[data-gtin="{NUTELLA}"]').wait_for()


UNLABELLED_CONTROLS = """() => [...document.querySelectorAll(
    "main input, main select, main textarea, main button, main a[href]")]
  .filter((el) => el.type !== "hidden" && el.offsetParent !== null)
  .filter((el) => {
    const labelled = el.labels?.length || el.getAttribute("aria-label")
      || el.getAttribute("aria-labelledby");
    return !labelled && !el.textContent.trim() && !el.getAttribute("title");
  })
  .map((el) => el.outerHTML.slice(0, 80))"""
