"""Stock movements as they come in: the plain values, who records them, and their checks.

The checks here need no database: the shape of each field, the quantity a kind allows, a
time that carries its zone and is not in the future. What needs the database (the product,
the location, earlier movements) is checked in ``server.stock.movements``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from server.config import Settings
from server.errors import AppError, InvalidInput, InvalidQuantity, PermissionDenied
from server.states import MovementSource, StockMovementKind
from server.viewer import INTEGRATION_KINDS, Viewer

# Most movements one call (or one feed batch) applies in one transaction.
MAX_MOVEMENTS = 1000
# Most units one movement may move (a pallet count is far below; a typo is not).
MAX_UNITS = 1_000_000
# A till's clock may run a little ahead; further ahead is a wrong clock, not a movement.
FUTURE_SLACK = timedelta(minutes=5)
_MOVING_OUT = frozenset({StockMovementKind.SALE, StockMovementKind.TRANSFER_OUT})
_TID = "transferId"
_TRANSFERS = frozenset({StockMovementKind.TRANSFER_OUT, StockMovementKind.TRANSFER_IN})


@dataclass(frozen=True, slots=True)
class MovementInput:
    """One movement as a device sent it; ``store_id`` None is the online warehouse."""

    movement_id: str
    gtin: str
    store_id: int | None
    kind: str
    quantity: int
    occurred_at: datetime
    transfer_id: str | None = None
    receipt_number: str | None = None
    customer_phone: str | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """A movement that cannot be applied: its position in the call, its id and why."""

    index: int
    movement_id: str | None
    error: AppError


@dataclass(frozen=True, slots=True)
class TillClub:
    """What a member's till sale earns by: the shop's currency and its points rate."""

    currency: str
    points_per_10_kr: int

    @classmethod
    def of(cls, settings: Settings) -> TillClub:
        """Return the club terms the settings configure."""
        return cls(settings.currency, settings.points_per_10_kr)


@dataclass(frozen=True, slots=True)
class Recorder:
    """Who records movements: a till or warehouse device of a store, or the command line.

    With ``club``, a SALE naming a member's phone or number and a receipt number records
    that receipt for the member (``server.club.receipts``); without it, sales earn nothing.
    """

    source: MovementSource
    device_id: int | None = None
    store_id: int | None = None
    online: bool = False
    every_location: bool = False
    club: TillClub | None = None

    @classmethod
    def of_viewer(
        cls,
        viewer: Viewer,
        source: MovementSource = MovementSource.DEVICE,
        *,
        club: TillClub | None = None,
    ) -> Recorder:
        """Return the recorder a caller stands for, or raise PermissionDenied.

        Only integration devices record movements: a till (``pos``) for its own store, a
        warehouse system for its store and the online warehouse. Kiosks, staff, shoppers
        and guests are refused.
        """
        device = viewer.device
        if device is None or device.kind not in INTEGRATION_KINDS:
            raise PermissionDenied("Only till (pos) and warehouse devices record stock movements.")
        return cls(source, device.id, device.store_id, online=device.kind == "warehouse", club=club)

    @classmethod
    def command_line(cls, club: TillClub | None = None) -> Recorder:
        """Return the recorder of ``omnicart stock import``: any location, source FILE."""
        return cls(MovementSource.FILE, every_location=True, club=club)

    def may_record_at(self, store_id: int | None) -> bool:
        """Tell whether this recorder may move stock at a store (None: the online warehouse)."""
        if self.every_location:
            return True
        return self.online if store_id is None else store_id == self.store_id


def check_movement(movement: MovementInput, now: datetime) -> AppError | None:
    """Return why a movement is malformed, or None when its fields are fine on their own."""
    if not 1 <= len(movement.movement_id) <= 100 or not movement.movement_id.isprintable():
        return InvalidInput("A movementId has 1 to 100 printable characters.", field="movementId")
    if movement.kind not in StockMovementKind.__members__:
        return InvalidInput(f"{movement.kind!r} is not a movement kind.", field="kind")
    problem = _quantity_problem(StockMovementKind(movement.kind), movement.quantity)
    if problem is not None:
        return InvalidQuantity(problem, field="quantity")
    if movement.occurred_at.tzinfo is None:
        return InvalidInput("occurredAt needs a time zone (e.g. Z or +01:00).", field="occurredAt")
    if movement.occurred_at > now + FUTURE_SLACK:
        return InvalidInput("occurredAt is in the future; check the clock.", field="occurredAt")
    return _check_texts(movement)


def _quantity_problem(kind: StockMovementKind, quantity: int) -> str | None:
    if kind == StockMovementKind.COUNT:
        ok, rule = 0 <= quantity <= MAX_UNITS, f"A count is 0 to {MAX_UNITS} units."
    elif kind == StockMovementKind.ADJUSTMENT:
        ok = quantity != 0 and abs(quantity) <= MAX_UNITS
        rule = f"An adjustment is -{MAX_UNITS} to {MAX_UNITS} units, not 0."
    else:
        ok, rule = 1 <= quantity <= MAX_UNITS, f"A {kind.value} moves 1 to {MAX_UNITS} units."
    return None if ok else rule


def _check_texts(movement: MovementInput) -> AppError | None:
    transfer = movement.transfer_id
    if StockMovementKind(movement.kind) in _TRANSFERS:
        if not transfer or len(transfer) > 100 or not transfer.isprintable():
            return InvalidInput(
                "A transfer needs a transferId (1 to 100 characters).", field="transferId"
            )
    elif transfer is not None:
        return InvalidInput(
            "Only TRANSFER_OUT and TRANSFER_IN take a transferId.", field="transferId"
        )
    if movement.receipt_number is not None and not 1 <= len(movement.receipt_number) <= 64:
        return InvalidInput("A receiptNumber has 1 to 64 characters.", field="receiptNumber")
    phone = movement.customer_phone
    if phone is not None and (not 1 <= len(phone) <= 40 or not phone.isprintable()):
        return InvalidInput("A customerPhone has 1 to 40 characters.", field="customerPhone")
    return None


def takes_out(kind: str, quantity: int) -> bool:
    """Tell whether a movement takes units off on hand (sale, transfer out, minus adjustment)."""
    return kind in _MOVING_OUT or (kind == StockMovementKind.ADJUSTMENT and quantity < 0)
