"""The member card in a real browser: join the club on the account screen, see the card."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.browser.conftest import WAIT_MS
from tests.browser.test_screens import choose_store, screenshot, sign_up

pytestmark = pytest.mark.browser


def test_joining_the_club_shows_the_member_card_with_its_images(new_context: Any) -> None:
    page = new_context().new_page()
    choose_store(page)
    sign_up(page, f"club-{uuid.uuid4().hex[:8]}@example.com")
    page.goto("/#/account")
    page.get_by_role("button", name="Join the club").wait_for(timeout=WAIT_MS)
    page.get_by_label("I accept the club terms").check()
    page.get_by_label("Send me offers by SMS").check()
    page.get_by_role("button", name="Join the club").click()
    page.get_by_test_id("member-card").wait_for(timeout=WAIT_MS)
    number = page.get_by_test_id("member-number").inner_text()
    assert len(number) == 10 and number.isdigit()
    assert page.get_by_test_id("member-points").inner_text() == "0"
    for image in page.locator(".member-card img").all():
        page.wait_for_function(
            "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
        )
    assert page.locator(".member-barcode").get_attribute("src") == f"/members/{number}.svg"
    assert page.locator(".member-qr").get_attribute("src") == f"/members/{number}/qr.svg"
    screenshot(page, "club-member-card")
    page.reload()
    page.get_by_test_id("member-card").wait_for(timeout=WAIT_MS)
    assert page.get_by_test_id("member-number").inner_text() == number
