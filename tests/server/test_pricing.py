"""The price rules of server.pricing: unit prices in force, line, cart and order totals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from server import pricing
from server.carts import LineView
from server.db import Database
from server.pricing import CampaignInfo, PriceInfo
from tests.rows import add_campaign, add_product

NOW = datetime(2026, 3, 14, 12, 0, tzinfo=UTC)
TICK = timedelta(microseconds=1)


async def unit_price(db: Database, product_id: int, at: datetime = NOW) -> PriceInfo | None:
    async with db.transaction(write=False) as session:
        return (await pricing.unit_prices(session, [product_id], "NOK", at=at)).get(product_id)


async def test_without_a_campaign_the_regular_price_is_in_force(db: Database) -> None:
    product = await add_product(db, price=4990)

    assert await unit_price(db, product) == PriceInfo("NOK", 4990, 4990, None)


async def test_a_running_campaign_lowers_the_price_and_is_named(db: Database) -> None:
    product = await add_product(db, price=4990)
    starts, ends = NOW - timedelta(days=1), NOW + timedelta(days=1)
    campaign = await add_campaign(
        db, product, 3990, name="Påskeuke", starts_at=starts, ends_at=ends
    )

    assert await unit_price(db, product) == PriceInfo(
        "NOK", 4990, 3990, CampaignInfo(campaign, "Påskeuke", starts, ends)
    )


async def test_of_overlapping_campaigns_the_lowest_price_wins(db: Database) -> None:
    product = await add_product(db, price=4990)
    await add_campaign(db, product, 3990, name="Ukens tilbud", starts_at=None, ends_at=None)
    cheapest = await add_campaign(db, product, 2990, name="Helg", starts_at=None, ends_at=None)
    await add_campaign(db, product, 3490, name="Medlem", starts_at=None, ends_at=None)

    price = await unit_price(db, product)

    assert price is not None
    assert (price.current, price.campaign) == (2990, CampaignInfo(cheapest, "Helg", None, None))


async def test_of_equal_offers_the_older_campaign_is_named(db: Database) -> None:
    product = await add_product(db, price=4990)
    older = await add_campaign(db, product, 3990, name="Først", starts_at=None, ends_at=None)
    await add_campaign(db, product, 3990, name="Sist", starts_at=None, ends_at=None)

    price = await unit_price(db, product)

    assert price is not None
    assert (price.current, price.campaign) == (3990, CampaignInfo(older, "Først", None, None))


async def test_a_campaign_price_above_the_regular_price_changes_nothing(db: Database) -> None:
    product = await add_product(db, price=4990)
    await add_campaign(db, product, 5990, starts_at=None, ends_at=None)

    assert await unit_price(db, product) == PriceInfo("NOK", 4990, 4990, None)


async def test_the_window_includes_its_start_and_excludes_its_end(db: Database) -> None:
    product = await add_product(db, price=4990)
    starts, ends = NOW, NOW + timedelta(hours=2)
    await add_campaign(db, product, 3990, starts_at=starts, ends_at=ends)

    seen = [
        (await unit_price(db, product, at)).current  # type: ignore[union-attr]
        for at in (starts - TICK, starts, ends - TICK, ends)
    ]

    assert seen == [4990, 3990, 3990, 4990]


async def test_an_open_end_runs_forever_and_an_open_start_since_always(db: Database) -> None:
    product = await add_product(db, price=4990)
    await add_campaign(db, product, 3990, starts_at=NOW, ends_at=None)
    other = await add_product(db, price=4990)
    await add_campaign(db, other, 2990, starts_at=None, ends_at=NOW)

    late = NOW + timedelta(days=3650)
    early = NOW - timedelta(days=3650)
    assert (await unit_price(db, product, late)).current == 3990  # type: ignore[union-attr]
    assert (await unit_price(db, other, early)).current == 2990  # type: ignore[union-attr]
    assert (await unit_price(db, other, NOW)).current == 4990  # type: ignore[union-attr]


async def test_campaigns_apply_per_currency(db: Database) -> None:
    product = await add_product(db, price=4990)
    await add_campaign(db, product, 100, currency="EUR", starts_at=None, ends_at=None)

    assert await unit_price(db, product) == PriceInfo("NOK", 4990, 4990, None)


async def test_a_product_without_a_price_in_the_currency_shows_zero(db: Database) -> None:
    unpriced = await add_product(db, price=None)
    in_euro_only = await add_product(db, price=390, currency="EUR")

    async with db.transaction(write=False) as session:
        found = await pricing.unit_prices(session, [unpriced, in_euro_only], "NOK", at=NOW)

    assert found == {}
    assert pricing.shown_price(found.get(unpriced), "NOK") == PriceInfo("NOK", 0, 0, None)
    assert pricing.shown_price(found.get(in_euro_only), "NOK") == PriceInfo("NOK", 0, 0, None)


async def test_line_cart_and_order_totals_are_integer_minor_units(db: Database) -> None:
    milk = await add_product(db, price=2490)
    bread = await add_product(db, price=4990)
    await add_campaign(db, bread, 3990, starts_at=None, ends_at=None)
    unpriced = await add_product(db, price=None)
    lines = (LineView(1, milk, 3), LineView(2, bread, 2), LineView(3, unpriced, 5))
    async with db.transaction(write=False) as session:
        prices = await pricing.unit_prices(session, [milk, bread, unpriced], "NOK", at=NOW)

    priced = pricing.price_lines(lines, prices, "NOK")
    subtotal = pricing.cart_subtotal(lines, prices, "NOK")
    totals = pricing.order_totals(priced, "NOK")

    assert [(p.product_id, p.quantity, p.unit.current, p.total) for p in priced] == [
        (milk, 3, 2490, 7470),
        (bread, 2, 3990, 7980),
        (unpriced, 5, 0, 0),
    ]
    assert subtotal == 15450
    assert totals == pricing.OrderTotals(currency="NOK", subtotal=15450, total=15450)
    assert all(type(n) is int for n in (subtotal, totals.subtotal, totals.total))
    assert all(type(p.total) is int for p in priced)


def test_an_empty_cart_costs_nothing() -> None:
    assert pricing.cart_subtotal([], {}, "NOK") == 0
    assert pricing.order_totals([], "NOK") == pricing.OrderTotals("NOK", 0, 0)


def test_a_line_total_is_the_unit_price_in_force_times_the_quantity() -> None:
    offer = PriceInfo("NOK", 4990, 3990, CampaignInfo(1, "Helg", None, None))

    assert pricing.line_total(offer, 99) == 395010
