"""One price truth for every channel: unit prices in force, line, cart and order totals.

Money is integer minor units of one currency, never floats. The rules:

* **Unit price**: a product's regular price in the currency, lowered by a campaign while
  one runs. A campaign's window includes its start and excludes its end; an open start
  or end means no limit on that side. When several campaigns run at once the lowest price
  wins (on a tie, the older campaign), so a shopper never pays more than an advertised
  offer; a "campaign" price at or above the regular price changes nothing.
* **Member prices**: a campaign may be for club members only. A member's unit price counts
  it like any other campaign; everyone else pays the best public price and is shown the
  member price (``PriceInfo.member``) as a nudge whenever a members' campaign beats it.
  The same holds on the product page, in the cart, at checkout and at the till.
* **Not for sale**: a product without a price in the currency shows as zero (product
  page, cart, search document) rather than failing what shows it; checkout refuses it.
* **Line total**: unit price times quantity. **Cart subtotal**: the sum of the line
  totals at the prices in force now. **Order totals**: the subtotal of the ordered lines
  at the moment of checkout; the total is the subtotal (there is no delivery fee).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Campaign, CampaignPrice, Price, utcnow


@dataclass(frozen=True, slots=True)
class CampaignInfo:
    """The campaign behind a lowered price."""

    id: int
    name: str
    starts_at: datetime | None
    ends_at: datetime | None
    members_only: bool = False


@dataclass(frozen=True, slots=True)
class PriceInfo:
    """The regular price, the price in force now, and the campaign that lowers it, if any."""

    currency: str
    regular: int
    current: int
    campaign: CampaignInfo | None
    # What a club member pays, when a members' campaign makes it lower than the public price.
    member: int | None = None


class Countable(Protocol):
    """Something priced by the unit: a cart line, a line about to be ordered."""

    @property
    def product_id(self) -> int: ...

    @property
    def quantity(self) -> int: ...


@dataclass(frozen=True, slots=True)
class PricedLine:
    """A line with the unit price it is charged at and its total."""

    product_id: int
    quantity: int
    unit: PriceInfo
    total: int


@dataclass(frozen=True, slots=True)
class OrderTotals:
    """What an order costs: the sum of its lines, and the total charged."""

    currency: str
    subtotal: int
    total: int


def not_for_sale(currency: str) -> PriceInfo:
    """Return the price shown for a product without a price in ``currency``: zero."""
    return PriceInfo(currency, 0, 0, None)


def shown_price(found: PriceInfo | None, currency: str) -> PriceInfo:
    """Return the price in force, or zero for a product that is not for sale."""
    return found if found is not None else not_for_sale(currency)


def best_price(
    currency: str, regular: int, offers: Iterable[tuple[int, CampaignInfo]]
) -> PriceInfo:
    """Return the price in force given the regular price and the running campaigns' offers.

    The lowest offer below the regular price wins; of equal offers the first one given.
    """
    best: tuple[int, CampaignInfo] | None = None
    for amount, campaign in offers:
        if amount < regular and (best is None or amount < best[0]):
            best = (amount, campaign)
    if best is None:
        return PriceInfo(currency, regular, regular, None)
    return PriceInfo(currency, regular, best[0], best[1])


def priced_for(
    currency: str, regular: int, offers: Sequence[tuple[int, CampaignInfo]], *, member: bool
) -> PriceInfo:
    """Return the price in force for a member or not, with the member price as a nudge."""
    public = best_price(currency, regular, [o for o in offers if not o[1].members_only])
    members = best_price(currency, regular, offers)
    nudge = members.current if members.current < public.current else None
    chosen = members if member else public
    return PriceInfo(currency, regular, chosen.current, chosen.campaign, nudge)


async def unit_prices(
    session: AsyncSession,
    ids: Iterable[int],
    currency: str,
    at: datetime | None = None,
    *,
    member: bool = False,
) -> dict[int, PriceInfo]:
    """Return the unit price in force at ``at`` (now by default) of each product that has one.

    ``member`` counts members-only campaigns in the price. Products without a regular
    price in ``currency`` are left out (see ``shown_price``).
    """
    wanted = set(ids)
    if not wanted:
        return {}
    moment = at or utcnow()
    regular_rows = await session.execute(
        select(Price.product_id, Price.amount).where(
            Price.product_id.in_(wanted), Price.currency == currency
        )
    )
    regular: dict[int, int] = {product_id: amount for product_id, amount in regular_rows}
    offers = await campaign_offers(session, wanted, currency, not_over_at=moment, started_by=moment)
    return {
        product_id: priced_for(currency, amount, offers.get(product_id, []), member=member)
        for product_id, amount in regular.items()
    }


async def campaign_offers(
    session: AsyncSession,
    ids: Iterable[int],
    currency: str,
    *,
    not_over_at: datetime,
    started_by: datetime | None = None,
) -> dict[int, list[tuple[int, CampaignInfo]]]:
    """Return each product's campaign offers in ``currency``, in campaign id order.

    Those not over at ``not_over_at`` and, with ``started_by``, already started then (a
    window includes its start and excludes its end). The order makes a tie go to the older
    campaign.
    """
    conditions = [
        CampaignPrice.product_id.in_(set(ids)),
        CampaignPrice.currency == currency,
        or_(Campaign.ends_at.is_(None), Campaign.ends_at > not_over_at),
    ]
    if started_by is not None:
        conditions.append(or_(Campaign.starts_at.is_(None), Campaign.starts_at <= started_by))
    rows = await session.execute(
        select(
            CampaignPrice.product_id,
            CampaignPrice.amount,
            Campaign.id,
            Campaign.name,
            Campaign.starts_at,
            Campaign.ends_at,
            Campaign.members_only,
        )
        .join(Campaign, Campaign.id == CampaignPrice.campaign_id)
        .where(*conditions)
        .order_by(CampaignPrice.product_id, Campaign.id)
    )
    offers: dict[int, list[tuple[int, CampaignInfo]]] = {}
    for row in rows:
        info = CampaignInfo(row.id, row.name, row.starts_at, row.ends_at, row.members_only)
        offers.setdefault(row.product_id, []).append((row.amount, info))
    return offers


def line_total(unit: PriceInfo, quantity: int) -> int:
    """Return what ``quantity`` units cost at ``unit``'s price in force, in minor units."""
    return unit.current * quantity


def price_lines(
    lines: Iterable[Countable], prices: Mapping[int, PriceInfo | None], currency: str
) -> list[PricedLine]:
    """Return each line with its unit price (zero when not for sale) and its total."""
    priced: list[PricedLine] = []
    for line in lines:
        unit = shown_price(prices.get(line.product_id), currency)
        priced.append(
            PricedLine(line.product_id, line.quantity, unit, line_total(unit, line.quantity))
        )
    return priced


def cart_subtotal(
    lines: Iterable[Countable], prices: Mapping[int, PriceInfo | None], currency: str
) -> int:
    """Return the sum of a cart's line totals at the given prices, in minor units."""
    return sum(line.total for line in price_lines(lines, prices, currency))


def order_totals(lines: Sequence[PricedLine], currency: str) -> OrderTotals:
    """Return an order's subtotal and total from its priced lines (no delivery fee)."""
    subtotal = sum(line.total for line in lines)
    return OrderTotals(currency=currency, subtotal=subtotal, total=subtotal)
