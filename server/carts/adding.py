"""What a cart add's lines name: codes parsed before the write, products its version bump found.

The add's version bump looks the products up in its RETURNING
(``catalog.cart_products_json``), so nothing here reads: ``parse_codes`` refuses what is
wrong before any statement, ``products_of`` reads the bump's answer, and ``past_limit``
names the first line that takes a product past the line limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from server import catalog
from server.errors import AppError, InvalidGtin, InvalidInput, InvalidQuantity, NotFound
from server.gtin import Gtin, parse_gtin


@dataclass(frozen=True, slots=True)
class AddLine:
    """Units of a product to add, named by barcode (any printed form) or by product id."""

    quantity: int
    gtin: str | None = None
    product_id: int | None = None


def parse_codes(lines: Sequence[AddLine]) -> dict[int, Gtin]:
    """Return each barcode line's parsed code by line index; refuse a malformed one."""
    gtins: dict[int, Gtin] = {}
    for i, line in enumerate(lines):
        if (line.gtin is None) == (line.product_id is None):
            raise InvalidInput("Give either gtin or productId for a line.", field=f"lines[{i}]")
        if line.gtin is not None:
            try:
                gtins[i] = parse_gtin(line.gtin)
            except AppError as error:
                # The same refusal, naming the line's field (the parser knows no fields).
                field = f"lines[{i}].gtin"
                raise type(error)(error.message, field=field, details=error.details) from None
    return gtins


def products_of(lines: Sequence[AddLine], gtins: dict[int, Gtin], found: Any) -> list[int]:
    """Return the product id of each line from the bump's lookup, or raise for an unknown one.

    No template is tried: a price or weight label would need its weight or price on the
    line, which cart lines do not carry yet, so it is refused rather than added as one unit.
    """
    try:
        by_gtin, for_sale = catalog.cart_products_from_json(found, list(gtins.values()))
    except InvalidGtin as error:
        raw = error.details["raw"]
        index = next(i for i, g in gtins.items() if g.display == raw)
        raise InvalidGtin(
            f"The barcode {raw} is one of the chain's own codes that no product carries, or a "
            "price or weight label, which a cart cannot hold yet; add the product itself.",
            field=f"lines[{index}].gtin",
            details=error.details,
        ) from None
    result: list[int] = []
    for i, line in enumerate(lines):
        if i in gtins:
            product_id = by_gtin.get(gtins[i].digits)
            field = f"lines[{i}].gtin"
        else:
            product_id = line.product_id if line.product_id in for_sale else None
            field = f"lines[{i}].productId"
        if product_id is None:
            raise NotFound("No product for sale has this barcode or id.", field=field)
        result.append(product_id)
    return result


def units_per_product(
    product_ids: Sequence[int], lines: Sequence[AddLine]
) -> dict[int, list[tuple[int, int]]]:
    """Group the request's lines by product, in order: product id -> [(line index, units)]."""
    wanted: dict[int, list[tuple[int, int]]] = {}
    for i, (pid, line) in enumerate(zip(product_ids, lines, strict=True)):
        wanted.setdefault(pid, []).append((i, line.quantity))
    return wanted


def past_limit(
    entries: Sequence[tuple[int, int]], had: int, max_quantity: int
) -> InvalidQuantity | None:
    """Return the error naming the first line that takes a product past the limit, if any.

    ``entries`` are one product's (line index, units) in request order; ``had`` is what the
    cart holds of it already.
    """
    total = had
    for index, units in entries:
        total += units
        if total > max_quantity:
            holds = f"it holds {had}, and " if had else ""
            return InvalidQuantity(
                f"At most {max_quantity} of one product fit in a cart; {holds}with this line "
                f"it would hold {total}.",
                field=f"lines[{index}].quantity",
            )
    return None
