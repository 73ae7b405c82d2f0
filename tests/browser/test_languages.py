"""The shopper screens in Norwegian Bokmål and English: chosen from the browser, switched live.

Each context collects the page's console: i18n.js reports a key missing from every catalog
with ``untranslated message key:`` on console.error, and no screen may do that. Text shown in
the view is also searched for raw keys ("cart.title") and, under nb, for English words.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from tests.browser.conftest import STORE_CODE, WAIT_MS, screenshot

pytestmark = pytest.mark.browser

GTIN = "3017620422003"  # Nutella: 39,90 kr, in stock everywhere (tests/browser/test_screens.py)
RAW_KEY = re.compile(
    r"\b(?:lang|cart|checkout|account|club|order|stores|router|pwa|api|live|cartMoved)\.[a-z]\w*\b"
)
# Words an English screen has and a Norwegian one must not (checked in the view only).
ENGLISH = re.compile(r"\b(?:the|your|Your|Sign in|Checkout|Total|Order|Collect|Loading)\b")

WORDS = {
    "nb": {
        "cart": "Handlekurven din",
        "subtotal": "Delsum, 2 varer",
        "checkout": "Kasse",
        "collect": "Hent i butikk",
        "place": "Bestill, 79,80 kr",
        "order_status": "Bestilt",
        "order_lines": "Dette bestilte du",
        "orders": "Bestillingene dine",
        "stores": "Velg butikken din",
        "guest": "Logg inn eller opprett en konto",
        "account": "Kontoen din",
        "join": "Bli medlem i kundeklubben",
        "total": "79,80 kr",
        "each": "39,90 kr per stk.",
        "placed_at": r"Bestilt \d{1,2}\. [a-zæøå]{3,4}\.? \d{4}(,| kl\.) \d{2}:\d{2}",
    },
    "en": {
        "cart": "Your cart",
        "subtotal": "Subtotal, 2 items",
        "checkout": "Checkout",
        "collect": "Click and collect",
        "place": "Place order, NOK 79.80",
        "order_status": "Placed",
        "order_lines": "What you ordered",
        "orders": "Your orders",
        "stores": "Choose your store",
        "guest": "Sign in or create an account",
        "account": "Your account",
        "join": "Join the club",
        "total": "NOK 79.80",
        "each": "NOK 39.90 each",
        "placed_at": r"Placed \d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}",
    },
}


def console_of(page: Any) -> list[str]:
    """Collect the page's console errors and warnings as they come."""
    messages: list[str] = []
    page.on(
        "console", lambda m: messages.append(m.text) if m.type in ("error", "warning") else None
    )
    return messages


def view_text(page: Any) -> str:
    """The text of the current screen, spaces normalised (Intl writes no-break spaces)."""
    text = page.locator("#view").inner_text()
    return re.sub(r"[\s\u00a0\u202f]+", " ", text)


def heading(page: Any, text: str) -> None:
    page.locator("#view h1", has_text=text).wait_for(timeout=WAIT_MS)


def check_screen(page: Any, language: str) -> str:
    """Assert the screen speaks ``language`` and shows no raw key; return its text."""
    assert page.evaluate("document.documentElement.lang") == language
    text = view_text(page)
    assert RAW_KEY.findall(text) == [], text
    if language == "nb":
        assert ENGLISH.findall(text) == [], text
    return text


def add_two(page: Any) -> None:
    """Put two of the demo product in this device's cart through the app's own cart module."""
    page.evaluate(
        "async (gtin) => (await import('/js/cart-state.js')).addLine(gtin, 2).then(() => null)",
        GTIN,
    )


@pytest.mark.parametrize(("browser_locale", "language"), [("nb-NO", "nb"), ("en-US", "en")])
def test_the_shopper_screens_speak_the_browsers_language(
    new_context: Any, browser_locale: str, language: str
) -> None:
    words = WORDS[language]
    page = new_context(locale=browser_locale).new_page()
    console = console_of(page)
    page.goto("/#/stores?next=/cart")
    heading(page, words["stores"])
    check_screen(page, language)
    page.locator(f"[data-store-code={STORE_CODE}]").click()
    add_two(page)
    page.goto("/#/cart")
    page.get_by_test_id("cart-subtotal").wait_for()
    heading(page, words["cart"])
    page.locator("[data-testid=line-stock]").wait_for()
    text = check_screen(page, language)
    assert words["subtotal"] in text and words["each"] in text
    assert view_text(page).count(words["total"]) >= 2  # the line total and the subtotal
    screenshot(page, f"languages-cart-{language}")

    page.goto("/#/checkout")
    heading(page, words["checkout"])
    page.get_by_test_id("place-order").wait_for()
    text = check_screen(page, language)
    assert words["collect"] in text
    assert page.get_by_test_id("place-order").inner_text().replace("\u00a0", " ") == words["place"]
    screenshot(page, f"languages-checkout-{language}")
    page.get_by_test_id("place-order").click()
    page.get_by_test_id("order-status").wait_for()
    heading(page, "OC-")
    text = check_screen(page, language)
    assert page.get_by_test_id("order-status").inner_text() == words["order_status"]
    assert words["order_lines"] in text and words["total"] in text
    placed = page.get_by_test_id("order-placed-at").inner_text().replace("\u00a0", " ")
    assert re.fullmatch(words["placed_at"], placed), placed
    screenshot(page, f"languages-order-{language}")

    page.goto("/#/orders")
    heading(page, words["orders"])
    check_screen(page, language)

    page.goto("/#/account")
    heading(page, words["guest"])
    check_screen(page, language)
    page.locator("#signup-email").fill(f"lang-{uuid.uuid4().hex[:8]}@example.com")
    page.locator("#signup-password").fill("correct horse battery")
    page.locator("form.account-form[aria-labelledby=sign-up-heading] button[type=submit]").click()
    page.locator("section.screen-cart").wait_for()
    page.goto("/#/account")
    heading(page, words["account"])
    page.get_by_role("button", name=words["join"]).wait_for()
    check_screen(page, language)
    screenshot(page, f"languages-account-{language}")
    assert [m for m in console if "untranslated message key" in m] == []


def test_the_switch_changes_the_language_live_and_is_remembered(new_context: Any) -> None:
    page = new_context(locale="en-US").new_page()
    console = console_of(page)
    page.goto("/#/stores?next=/account")
    page.locator(f"[data-store-code={STORE_CODE}]").click()
    heading(page, "Sign in or create an account")
    assert page.evaluate("document.documentElement.lang") == "en"
    page.evaluate("window.sameDocument = true")
    switch = page.get_by_test_id("language-switch")
    assert switch.get_by_role("button", name="English").get_attribute("aria-pressed") == "true"
    switch.get_by_role("button", name="Norsk bokmål").click()
    heading(page, "Logg inn eller opprett en konto")
    check_screen(page, "nb")
    assert page.evaluate("window.sameDocument") is True  # no reload
    # The shell (tab bar, header) follows the switch too, not only the screen.
    page.locator('.tabbar [data-tab="account"] span', has_text="Konto").wait_for(timeout=WAIT_MS)
    credit = page.locator("footer.data-credit")
    assert credit.inner_text().startswith("Produktdata fra Open Food Facts")
    assert credit.locator("a").count() == 2  # the credit's links survive the translation
    assert page.get_by_test_id("language-switch").get_by_role(
        "button", name="Norsk bokmål"
    ).get_attribute("aria-pressed") == "true"  # fmt: skip

    # The server answers in the language switched to (the browser still says en-US).
    page.locator("#signin-email").fill("nobody-here@example.com")
    page.locator("#signin-password").fill("not the password")
    page.locator("form.account-form[aria-labelledby=sign-in-heading] button[type=submit]").click()
    page.locator(
        "#view .notice-error", has_text="E-postadressen eller passordet er feil."
    ).wait_for()

    page.reload()
    heading(page, "Logg inn eller opprett en konto")
    assert page.evaluate("document.documentElement.lang") == "nb"
    page.get_by_test_id("language-switch").get_by_role("button", name="English").click()
    heading(page, "Sign in or create an account")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert [m for m in console if "untranslated message key" in m] == []


def test_a_server_error_shows_in_norwegian_under_nb(new_context: Any) -> None:
    page = new_context(locale="nb-NO").new_page()
    console = console_of(page)
    page.goto("/#/stores?next=/account")
    page.locator(f"[data-store-code={STORE_CODE}]").click()
    heading(page, "Logg inn eller opprett en konto")
    page.locator("#signup-email").fill("this is not an address")
    page.locator("#signup-password").fill("correct horse battery")
    # The browser's own check would stop an invalid email: let the server judge it.
    page.evaluate("document.querySelector('#signup-email').type = 'text'")
    page.locator("form.account-form[aria-labelledby=sign-up-heading] button[type=submit]").click()
    error = page.locator("#view .notice-error")
    error.wait_for()
    assert error.inner_text() == "Dette er ikke en e-postadresse."
    assert [m for m in console if "untranslated message key" in m] == []
