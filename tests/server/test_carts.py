"""The cart rules of ``server.carts``, below HTTP: lines added, changed and removed, the
limits of a request, who reaches a cart, and merging a guest cart on sign-in.

(How a line past the per-line limit is treated when one product comes back is left to
tests/schema/test_carts.py: it is being reworked.)
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from server.carts import (
    AddLine,
    CartChange,
    CartView,
    SetLine,
    WriteOptions,
    add_lines,
    attach_guest_cart,
    cart_for_viewer,
    create_cart,
    remove_lines,
    update_lines,
)
from server.db import Database
from server.errors import AppError, InvalidInput, InvalidQuantity, NotFound, VersionConflict
from server.models import Cart
from server.states import CartStatus
from server.tokens import token_hash
from server.viewer import Viewer
from tests.rows import add_customer, add_product, fresh_ean13

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
LIMIT = 99


async def guest_cart(db: Database) -> tuple[Viewer, CartView]:
    """Create an empty guest cart; return the viewer holding its token and the cart."""
    async with db.transaction() as session:
        created, change = await create_cart(session, Viewer(), NOW)
    assert created.token is not None and change is None
    return Viewer(cart_token_hash=token_hash(created.token)), created.cart


async def add(
    db: Database, holder: Viewer, cart_id: int, *lines: AddLine, **options: object
) -> CartChange:
    async with db.transaction() as session:
        return await add_lines(
            session,
            holder,
            cart_id,
            list(lines),
            WriteOptions(**options),  # type: ignore[arg-type]
            NOW,
            max_quantity=LIMIT,
        )


async def update(db: Database, holder: Viewer, cart_id: int, *lines: SetLine) -> CartChange:
    async with db.transaction() as session:
        return await update_lines(
            session, holder, cart_id, list(lines), WriteOptions(), NOW, max_quantity=LIMIT
        )


async def remove(db: Database, holder: Viewer, cart_id: int, *line_ids: int) -> CartChange:
    async with db.transaction() as session:
        return await remove_lines(session, holder, cart_id, list(line_ids), WriteOptions(), NOW)


async def current(db: Database, holder: Viewer, cart_id: int) -> CartView | None:
    async with db.transaction(write=False) as session:
        return await cart_for_viewer(session, holder, cart_id, NOW)


def quantities(cart: CartView) -> list[tuple[int, int]]:
    return [(line.product_id, line.quantity) for line in cart.lines]


def refusal(error: AppError) -> tuple[str, str | None]:
    return error.code, error.field


async def test_a_guest_gets_a_new_cart_and_a_customer_their_one_active_cart(
    db: Database,
) -> None:
    customer = Viewer(customer_id=await add_customer(db, "kari@example.com"))
    async with db.transaction() as session:
        first, _ = await create_cart(session, customer, NOW)
        again, _ = await create_cart(session, customer, NOW)
    holder, guest = await guest_cart(db)
    assert (first.token, again.token) == (None, None)
    assert again.cart.id == first.cart.id and first.cart.customer_id == customer.customer_id
    assert (guest.version, guest.customer_id, guest.lines) == (1, None, ())
    assert guest.id != first.cart.id
    assert await current(db, holder, guest.id) == guest


async def test_lines_are_added_by_barcode_or_id_and_every_change_is_one_version(
    db: Database,
) -> None:
    milk_code = fresh_ean13()
    milk = await add_product(db, gtins=[milk_code])
    eggs = await add_product(db)
    holder, cart = await guest_cart(db)
    spaced = f"{milk_code[:1]} {milk_code[1:7]} {milk_code[7:]}"
    first = await add(db, holder, cart.id, AddLine(2, gtin=spaced), AddLine(1, product_id=eggs))
    more = await add(db, holder, cart.id, AddLine(3, product_id=milk))
    assert first.cart.version == cart.version + 1 and first.replayed is False
    assert quantities(first.cart) == [(milk, 2), (eggs, 1)]
    # The same product again raises its line; the lines keep the order they came in.
    assert more.cart.version == cart.version + 2
    assert quantities(more.cart) == [(milk, 5), (eggs, 1)]
    assert await current(db, holder, cart.id) == more.cart


async def test_a_line_names_one_product_for_sale(db: Database) -> None:
    retired = await add_product(db, active=False)
    product = await add_product(db)
    holder, cart = await guest_cart(db)
    refusals = []
    for line in (
        AddLine(1, gtin=fresh_ean13()),
        AddLine(1, gtin="12345"),
        AddLine(1, product_id=retired),
        AddLine(1, gtin=fresh_ean13(), product_id=product),
        AddLine(1),
    ):
        with pytest.raises(AppError) as raised:
            await add(db, holder, cart.id, AddLine(1, product_id=product), line)
        refusals.append(refusal(raised.value))
    assert refusals == [
        ("NOT_FOUND", "lines[1].gtin"),
        ("INVALID_GTIN", "lines[1].gtin"),
        ("NOT_FOUND", "lines[1].productId"),
        ("INVALID_INPUT", "lines[1]"),
        ("INVALID_INPUT", "lines[1]"),
    ]
    # A refused request changes nothing, not even the version.
    assert await current(db, holder, cart.id) == cart


@pytest.mark.parametrize("quantity", [0, -1, LIMIT + 1, True])
async def test_a_line_holds_1_to_the_line_limit(db: Database, quantity: int) -> None:
    product = await add_product(db)
    holder, cart = await guest_cart(db)
    with pytest.raises(InvalidQuantity) as raised:
        await add(db, holder, cart.id, AddLine(1, product_id=product), AddLine(quantity, gtin="x"))
    assert refusal(raised.value) == ("INVALID_QUANTITY", "lines[1].quantity")
    assert await current(db, holder, cart.id) == cart


async def test_a_request_names_1_to_100_lines(db: Database) -> None:
    product = await add_product(db)
    holder, cart = await guest_cart(db)
    many = [AddLine(1, product_id=product)] * 101
    for lines in ([], many):
        with pytest.raises(InvalidInput) as raised:
            await add(db, holder, cart.id, *lines)
        assert refusal(raised.value) == ("INVALID_INPUT", "lines")
    with pytest.raises(InvalidInput) as removing:
        await remove(db, holder, cart.id)
    assert refusal(removing.value) == ("INVALID_INPUT", "lineIds")


async def test_lines_are_set_to_new_quantities_and_removed(db: Database) -> None:
    milk, eggs = await add_product(db), await add_product(db)
    holder, cart = await guest_cart(db)
    filled = await add(
        db, holder, cart.id, AddLine(2, product_id=milk), AddLine(6, product_id=eggs)
    )
    milk_line, eggs_line = (line.id for line in filled.cart.lines)
    changed = await update(db, holder, cart.id, SetLine(milk_line, 7), SetLine(eggs_line, 1))
    removed = await remove(db, holder, cart.id, milk_line)
    assert quantities(changed.cart) == [(milk, 7), (eggs, 1)]
    assert changed.cart.version == filled.cart.version + 1
    assert quantities(removed.cart) == [(eggs, 1)]
    assert removed.cart.version == filled.cart.version + 2


async def test_changing_a_line_that_is_not_in_the_cart_or_named_twice_is_refused(
    db: Database,
) -> None:
    product = await add_product(db)
    holder, cart = await guest_cart(db)
    other_holder, other = await guest_cart(db)
    line = (await add(db, holder, cart.id, AddLine(1, product_id=product))).cart.lines[0].id
    theirs = (await add(db, other_holder, other.id, AddLine(1, product_id=product))).cart
    refusals = []
    for call in (
        update(db, holder, cart.id, SetLine(theirs.lines[0].id, 2)),
        update(db, holder, cart.id, SetLine(line, 2), SetLine(line, 3)),
        update(db, holder, cart.id, SetLine(line, 0)),
        remove(db, holder, cart.id, line, line),
        remove(db, holder, cart.id, theirs.lines[0].id),
    ):
        with pytest.raises(AppError) as raised:
            await call
        refusals.append(refusal(raised.value))
    assert refusals == [
        ("NOT_FOUND", "lines[0].lineId"),
        ("INVALID_INPUT", "lines[1].lineId"),
        ("INVALID_QUANTITY", "lines[0].quantity"),
        ("INVALID_INPUT", "lineIds[1]"),
        ("NOT_FOUND", "lineIds[0]"),
    ]
    assert await current(db, other_holder, other.id) == theirs


async def test_a_cart_is_reached_only_by_its_holder(db: Database) -> None:
    product = await add_product(db)
    _, cart = await guest_cart(db)
    customer = Viewer(customer_id=await add_customer(db, "ola@example.com"))
    for stranger in (Viewer(), Viewer(cart_token_hash=token_hash("ct_wrong")), customer):
        with pytest.raises(NotFound) as raised:
            await add(db, stranger, cart.id, AddLine(1, product_id=product))
        assert refusal(raised.value) == ("NOT_FOUND", "cartId")
        assert await current(db, stranger, cart.id) is None


async def test_a_stale_version_conflicts_and_carries_the_current_cart(db: Database) -> None:
    product = await add_product(db)
    holder, cart = await guest_cart(db)
    moved = await add(db, holder, cart.id, AddLine(1, product_id=product))
    with pytest.raises(VersionConflict) as raised:
        await add(db, holder, cart.id, AddLine(1, product_id=product), expected_version=1)
    assert refusal(raised.value) == ("VERSION_CONFLICT", "expectedVersion")
    assert raised.value.details == moved.cart
    assert await current(db, holder, cart.id) == moved.cart


async def test_a_stale_version_or_a_stranger_answers_before_an_unknown_product(
    db: Database,
) -> None:
    # The version bump looks the products up itself: when it is refused, that is the answer.
    product, retired = await add_product(db), await add_product(db, active=False)
    holder, cart = await guest_cart(db)
    moved = await add(db, holder, cart.id, AddLine(1, product_id=product))
    refusals = []
    for line in (AddLine(1, gtin=fresh_ean13()), AddLine(1, product_id=retired)):
        for who, version in ((holder, 1), (Viewer(), None), (holder, moved.cart.version)):
            with pytest.raises(AppError) as raised:
                await add(db, who, cart.id, line, expected_version=version)
            refusals.append(refusal(raised.value))
    assert refusals == [
        ("VERSION_CONFLICT", "expectedVersion"),
        ("NOT_FOUND", "cartId"),
        ("NOT_FOUND", "lines[0].gtin"),
        ("VERSION_CONFLICT", "expectedVersion"),
        ("NOT_FOUND", "cartId"),
        ("NOT_FOUND", "lines[0].productId"),
    ]
    assert await current(db, holder, cart.id) == moved.cart


async def attach(db: Database, customer_id: int, holder: Viewer, cart_id: int):  # type: ignore[no-untyped-def]
    async with db.transaction() as session:
        return await attach_guest_cart(
            session, customer_id, cart_id, holder.cart_token_hash, NOW, max_quantity=LIMIT
        )


async def cart_status(db: Database, cart_id: int) -> tuple[CartStatus, int, int | None]:
    async with db.transaction(write=False) as session:
        row = (
            await session.execute(
                select(Cart.status, Cart.version, Cart.merged_into_id).where(Cart.id == cart_id)
            )
        ).one()
    return row.status, row.version, row.merged_into_id


async def test_a_customer_without_a_cart_takes_the_guest_cart_over(db: Database) -> None:
    product = await add_product(db)
    customer_id = await add_customer(db, "kari@example.com")
    holder, cart = await guest_cart(db)
    filled = await add(db, holder, cart.id, AddLine(2, product_id=product))
    attached = await attach(db, customer_id, holder, cart.id)
    assert attached.cart.id == cart.id and attached.cart.customer_id == customer_id
    assert attached.cart.version == filled.cart.version + 1
    assert quantities(attached.cart) == [(product, 2)]
    assert attached.changed == (attached.cart,)
    # The token no longer reaches it; the session does.
    assert await current(db, holder, cart.id) is None
    assert await current(db, Viewer(customer_id=customer_id), cart.id) == attached.cart


async def test_a_guest_cart_merges_into_the_customers_cart_and_closes(db: Database) -> None:
    eggs, bread = await add_product(db), await add_product(db)
    customer_id = await add_customer(db, "kari@example.com")
    customer = Viewer(customer_id=customer_id)
    async with db.transaction() as session:
        own, _ = await create_cart(session, customer, NOW)
    mine = await add(db, customer, own.cart.id, AddLine(1, product_id=eggs))
    holder, guest = await guest_cart(db)
    held = await add(
        db, holder, guest.id, AddLine(3, product_id=bread), AddLine(2, product_id=eggs)
    )
    merged = await attach(db, customer_id, holder, guest.id)
    again = await attach(db, customer_id, holder, guest.id)
    # The same product adds up; new products follow the existing lines.
    assert merged.cart.id == own.cart.id
    assert quantities(merged.cart) == [(eggs, 3), (bread, 3)]
    assert merged.cart.version == mine.cart.version + 1
    closed, _ = merged.changed
    assert (closed.id, closed.version, closed.lines) == (guest.id, held.cart.version + 1, ())
    assert await cart_status(db, guest.id) == (
        CartStatus.MERGED,
        held.cart.version + 1,
        own.cart.id,
    )
    assert await current(db, holder, guest.id) is None
    # Signing in again finds the work done and changes nothing.
    assert again.cart == merged.cart and again.changed == ()


async def test_a_guest_cart_the_caller_cannot_prove_is_not_merged(db: Database) -> None:
    product = await add_product(db)
    kari = await add_customer(db, "kari@example.com")
    ola = await add_customer(db, "ola@example.com")
    holder, cart = await guest_cart(db)
    await add(db, holder, cart.id, AddLine(1, product_id=product))
    await attach(db, kari, holder, cart.id)
    refusals = []
    for customer_id, proof in ((ola, holder), (kari, Viewer(cart_token_hash=token_hash("ct_x")))):
        with pytest.raises(NotFound) as raised:
            await attach(db, customer_id, proof, cart.id)
        refusals.append(refusal(raised.value))
    assert refusals == [("NOT_FOUND", "cartId")] * 2
    assert (await cart_status(db, cart.id))[0] == CartStatus.ACTIVE
