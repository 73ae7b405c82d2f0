"""Recording stock movements: check a batch against the database, then apply it in time order.

``record_movements`` takes up to 1,000 movements. Each is checked (its fields, its product
by any printed barcode or the chain's own code, its location and the recorder's right to
it, its ``movementId``, its transfer's other half); with ``all_or_nothing`` (GraphQL) one
bad movement means none is applied, otherwise (the NDJSON feed) the bad ones are left out.
The rest are applied in ``occurredAt`` order (``server.stock.ledger`` locks the stock rows):

- a ``movementId`` already recorded with the same content is a replay and changes nothing;
  with other content it is ``IDEMPOTENCY_KEY_REUSED``;
- SALE, TRANSFER_OUT and a negative ADJUSTMENT never take on hand below zero nor into
  reserved units: the units asked beyond that are reported (``Shortfall``) and kept on the
  movement row, so staff can act;
- RETURN, RECEIPT, TRANSFER_IN and a positive ADJUSTMENT add their units;
- a COUNT sets on hand as of its time: movements recorded after that time stay applied on
  top of it, a count older than a later count changes nothing, and a movement older than a
  count recorded before it arrived changes nothing either (the count already saw it).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.club.receipts import add_to_receipt, record_receipt
from server.errors import InvalidInput, NotFound
from server.notifications.back_in_stock import check_available
from server.notifications.complements import record_basket
from server.outbox import record_product_changes
from server.states import StockMovementKind
from server.stock import ledger
from server.stock.checking import Checked, resolve_batch, screen_batch
from server.stock.inputs import (
    MAX_MOVEMENTS,
    MovementInput,
    Recorder,
    Rejected,
    TillClub,
    takes_out,
)


@dataclass(frozen=True, slots=True)
class Shortfall:
    """A movement that could not do all it asked: its on-hand change and the units short.

    ``unknown_units`` were sold beyond on hand (the till sold what the system did not know
    of); ``reserved_units`` would have come out of units reserved for orders (or a count
    found fewer than are reserved): staff should look at those orders.
    """

    index: int
    movement_id: str
    product_id: int
    store_id: int | None
    kind: str
    requested: int
    applied: int
    unknown_units: int
    reserved_units: int


@dataclass
class Recorded:
    """The outcome of one batch: how many applied or replayed, shortfalls and rejections."""

    applied: int = 0
    replayed: int = 0
    shortfalls: list[Shortfall] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    changed_products: set[int] = field(default_factory=set)


async def record_movements(
    session: AsyncSession,
    recorder: Recorder,
    movements: list[MovementInput],
    now: datetime,
    *,
    all_or_nothing: bool = True,
) -> Recorded:
    """Check and apply a batch of movements in one transaction (the caller's); see the module."""
    if len(movements) > MAX_MOVEMENTS:
        raise InvalidInput(
            f"Send at most {MAX_MOVEMENTS} movements a call; split the rest.", field="movements"
        )
    checked = await resolve_batch(session, recorder, movements, now)
    keys = {(r.location_id, r.product_id) for r in checked.ready}
    levels = await ledger.lock_levels(session, keys, now)
    await screen_batch(session, checked)
    result = Recorded(replayed=checked.replayed, rejected=checked.rejected)
    if checked.rejected and all_or_nothing:
        result.replayed = 0
        return result
    await _apply(session, recorder, checked, levels, now, result)
    return result


async def _apply(
    session: AsyncSession,
    recorder: Recorder,
    checked: Checked,
    levels: dict[ledger.Key, ledger.Level],
    now: datetime,
    result: Recorded,
) -> None:
    """Apply the checked movements in ``occurredAt`` order and write the ledger."""
    todo = sorted(checked.ready, key=lambda r: (r.movement.occurred_at, r.index))
    rows: list[dict[str, Any]] = []
    follow = _FollowUps(recorder.club)
    for ready in todo:
        key = (ready.location_id, ready.product_id)
        level, movement = levels[key], ready.movement
        effect = await _effect(session, key, level, movement)
        level.on_hand += effect.applied
        level.latest_at = max(level.latest_at or movement.occurred_at, movement.occurred_at)
        if movement.kind == StockMovementKind.COUNT:
            level.counted_at = max(level.counted_at or movement.occurred_at, movement.occurred_at)
        rows.append(_row(recorder, ready, effect, level.on_hand, now))
        follow.note(ready, effect)
        if effect.unknown_units or effect.reserved_units:
            result.shortfalls.append(_shortfall(ready, effect))
    changed = await ledger.write_ledger(session, levels, rows, now)
    # Only stock moved: the products' pages stay usable (``server.outbox.STOCK_TOPIC``).
    await record_product_changes(session, changed, stock_only=True)
    await follow.run(session, now)
    result.applied = len(rows)
    result.changed_products = changed


@dataclass
class _MemberSale:
    """A till receipt of the batch: who (if a movement named them), where, when, its products."""

    member_code: str | None
    store_id: int | None
    at: datetime
    lines: dict[int, int] = field(default_factory=lambda: defaultdict(int))


@dataclass
class _FollowUps:
    """What a batch sets off besides the ledger: back-in-stock alerts, baskets, member sales."""

    club: TillClub | None = None

    # Products whose on hand went up, per location: open "tell me" requests may be met.
    raised: dict[int, set[int]] = field(default_factory=lambda: defaultdict(set))
    # The products of each till receipt, for "goes well with" (co-purchase counts).
    baskets: dict[tuple[int, str], set[int]] = field(default_factory=lambda: defaultdict(set))
    # Till receipts (with a customer's phone or member number, or more of one), by number.
    sales: dict[str, _MemberSale] = field(default_factory=dict)

    def note(self, ready: Any, effect: ledger.Effect) -> None:
        """Remember what one applied movement may set off."""
        movement = ready.movement
        if effect.applied > 0:
            self.raised[ready.location_id].add(ready.product_id)
        if movement.kind == StockMovementKind.SALE and movement.receipt_number:
            self.baskets[(ready.location_id, movement.receipt_number)].add(ready.product_id)
            if self.club is not None:
                # A later batch of a member's receipt may not name the member again.
                sale = self.sales.setdefault(
                    movement.receipt_number,
                    _MemberSale(None, movement.store_id, movement.occurred_at),
                )
                sale.member_code = sale.member_code or movement.customer_phone
                sale.lines[ready.product_id] += abs(movement.quantity)

    async def run(self, session: AsyncSession, now: datetime) -> None:
        """Notify met requests and count the receipts' baskets, in the batch's transaction."""
        for location_id, product_ids in sorted(self.raised.items()):
            await check_available(session, location_id, sorted(product_ids), now)
        for _key, product_ids in sorted(self.baskets.items()):
            await record_basket(session, product_ids)
        for number, sale in sorted(self.sales.items()):
            await self._record_member_sale(session, number, sale)

    async def _record_member_sale(
        self, session: AsyncSession, number: str, sale: _MemberSale
    ) -> None:
        """Record a receipt for the member it names; a phone no member has earns nothing.

        A receipt already recorded (its first lines came in an earlier batch; replayed
        movements never get here) gets this batch's lines added, and earns on the whole.
        """
        assert self.club is not None
        lines = sorted(sale.lines.items())
        try:
            async with session.begin_nested():
                # Without a member named, only more lines of a receipt already recorded.
                new = (
                    sale.member_code is not None
                    and (
                        await record_receipt(
                            session,
                            member_code=sale.member_code,
                            receipt_number=number,
                            lines=lines,
                            at=sale.at,
                            currency=self.club.currency,
                            points_per_10_kr=self.club.points_per_10_kr,
                            store_id=sale.store_id,
                        )
                    ).recorded
                )
                if not new:
                    await add_to_receipt(
                        session,
                        receipt_number=number,
                        lines=lines,
                        points_per_10_kr=self.club.points_per_10_kr,
                    )
        except NotFound:  # no member or receipt (or no price): the sale stands, no member purchase
            return


async def _effect(
    session: AsyncSession, key: ledger.Key, level: ledger.Level, movement: MovementInput
) -> ledger.Effect:
    """Work out what one movement does to on hand, given the history so far."""
    at, kind, units = movement.occurred_at, movement.kind, movement.quantity
    late = level.latest_at is not None and at < level.latest_at
    if kind == StockMovementKind.COUNT:
        if level.counted_at is not None and at < level.counted_at:
            return ledger.Effect(0)  # a later count already stands
        later = await ledger.applied_after(session, key, at) if late else 0
        return ledger.set_to(level, units + later)
    if level.counted_at is not None and at < level.counted_at:
        return ledger.Effect(0)  # the count after it already saw this movement
    if takes_out(kind, units):
        return ledger.take_out(level, abs(units))
    return ledger.Effect(abs(units))


def _row(
    recorder: Recorder, ready: Any, effect: ledger.Effect, on_hand_after: int, now: datetime
) -> dict[str, Any]:
    movement = ready.movement
    return {
        "movement_id": movement.movement_id, "source": recorder.source,
        "device_id": recorder.device_id, "order_id": None,
        "location_id": ready.location_id, "product_id": ready.product_id,
        "kind": movement.kind, "quantity": movement.quantity,
        "occurred_at": movement.occurred_at, "recorded_at": now,
        "transfer_id": movement.transfer_id, "receipt_number": movement.receipt_number,
        "customer_phone": movement.customer_phone, "applied": effect.applied,
        "on_hand_after": on_hand_after, "unknown_units": effect.unknown_units,
        "reserved_units": effect.reserved_units,
    }  # fmt: skip


def _shortfall(ready: Any, effect: ledger.Effect) -> Shortfall:
    movement = ready.movement
    return Shortfall(
        index=ready.index,
        movement_id=movement.movement_id,
        product_id=ready.product_id,
        store_id=movement.store_id,
        kind=movement.kind,
        requested=movement.quantity,
        applied=effect.applied,
        unknown_units=effect.unknown_units,
        reserved_units=effect.reserved_units,
    )
