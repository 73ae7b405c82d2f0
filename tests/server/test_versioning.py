"""The versioned, replayable cart write (``server.carts.versioning``), for cart mutations and
checkout alike: stale versions conflict, a retry replays, a reused key is refused."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from server.carts import AddLine, CartChange, CartView, WriteOptions, add_lines, create_cart
from server.carts.versioning import Guard, bump_version
from server.db import Database
from server.errors import IdempotencyKeyReused, InvalidInput, NotFound, VersionConflict
from server.models import Order
from server.orders import CheckoutRequest, CheckoutResult, ClickAndCollect, checkout
from server.tokens import token_hash
from server.viewer import Viewer
from tests.rows import store_with_product

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


async def _guest_cart(db: Database, product_id: int, quantity: int = 1) -> tuple[Viewer, CartView]:
    """Create a guest cart holding ``quantity`` of a product; return its holder and the cart."""
    async with db.transaction() as session:
        created, change = await create_cart(
            session, Viewer(), NOW, lines=[AddLine(quantity, product_id=product_id)]
        )
    assert created.token is not None and change is not None
    return Viewer(cart_token_hash=token_hash(created.token)), change.cart


async def _add(
    db: Database, holder: Viewer, cart_id: int, product_id: int, quantity: int, **options: object
) -> CartChange:
    async with db.transaction() as session:
        return await add_lines(
            session,
            holder,
            cart_id,
            [AddLine(quantity, product_id=product_id)],
            WriteOptions(**options),  # type: ignore[arg-type]
            NOW,
            max_quantity=99,
        )


def _collect(store_id: int, cart: CartView, **request: object) -> CheckoutRequest:
    return CheckoutRequest(
        cart_id=cart.id,
        expected_version=cart.version,
        fulfilment=ClickAndCollect(store_id),
        **request,  # type: ignore[arg-type]
    )


async def _checkout(db: Database, holder: Viewer, request: CheckoutRequest) -> CheckoutResult:
    async with db.transaction() as session:
        return await checkout(session, holder, request, now=NOW, currency="NOK", pickup_days=7)


async def _order_count(db: Database) -> int:
    async with db.transaction(write=False) as session:
        return int(await session.scalar(select(func.count()).select_from(Order)) or 0)


async def test_bump_version_adds_one_and_refuses_a_stale_or_foreign_guard(db: Database) -> None:
    _, _, _, product_id = await store_with_product(db)
    holder, cart = await _guest_cart(db, product_id)
    g = Guard.of(
        holder, cart.id, NOW, operation="x", request=None, expected_version=cart.version, key=None
    )
    async with db.transaction() as session:
        locked = await bump_version(session, g)
        assert locked is not None
        assert (locked.version, locked.customer_id) == (cart.version + 1, None)
        assert locked.token_hash == holder.cart_token_hash
        # The version it expected is gone now, and a stranger never matches.
        assert await bump_version(session, g) is None
        stranger = Guard.of(
            Viewer(cart_token_hash="x" * 64),
            cart.id,
            NOW,
            operation="x",
            request=None,
            expected_version=None,
            key=None,
        )
        assert await bump_version(session, stranger) is None


async def test_stale_expected_version_of_a_cart_write_conflicts_with_the_current_cart(
    db: Database,
) -> None:
    _, _, _, product_id = await store_with_product(db)
    holder, cart = await _guest_cart(db, product_id)
    await _add(db, holder, cart.id, product_id, 1)
    with pytest.raises(VersionConflict) as raised:
        await _add(db, holder, cart.id, product_id, 1, expected_version=cart.version)
    assert raised.value.field == "expectedVersion"
    current = raised.value.details
    assert isinstance(current, CartView)
    assert (current.version, [line.quantity for line in current.lines]) == (cart.version + 1, [2])
    assert f"version {cart.version + 1} now" in raised.value.message


async def test_a_cart_write_to_a_cart_the_caller_does_not_reach_is_not_found(
    db: Database,
) -> None:
    _, _, _, product_id = await store_with_product(db)
    _, cart = await _guest_cart(db, product_id)
    with pytest.raises(NotFound) as raised:
        await _add(
            db, Viewer(cart_token_hash="y" * 64), cart.id, product_id, 1, idempotency_key="k"
        )
    assert raised.value.field == "cartId"


async def test_a_retried_cart_write_replays_its_first_result_and_changes_nothing(
    db: Database,
) -> None:
    _, _, _, product_id = await store_with_product(db)
    holder, cart = await _guest_cart(db, product_id)
    first = await _add(db, holder, cart.id, product_id, 2, idempotency_key="tap")
    again = await _add(db, holder, cart.id, product_id, 2, idempotency_key="tap")
    assert first.replayed is False and again.replayed is True
    assert again.cart == first.cart
    assert first.cart.version == cart.version + 1
    # The retry's own bump was rolled back: the next write is exactly one version on.
    after = await _add(db, holder, cart.id, product_id, 1)
    assert after.cart.version == cart.version + 2
    assert [line.quantity for line in after.cart.lines] == [1 + 2 + 1]


async def test_a_retry_with_its_stale_version_still_replays(db: Database) -> None:
    _, _, _, product_id = await store_with_product(db)
    holder, cart = await _guest_cart(db, product_id)
    options = {"idempotency_key": "tap", "expected_version": cart.version}
    first = await _add(db, holder, cart.id, product_id, 2, **options)
    again = await _add(db, holder, cart.id, product_id, 2, **options)
    assert again.replayed is True
    assert again.cart == first.cart


async def test_the_same_key_with_another_cart_request_is_refused(db: Database) -> None:
    _, _, _, product_id = await store_with_product(db)
    holder, cart = await _guest_cart(db, product_id)
    await _add(db, holder, cart.id, product_id, 2, idempotency_key="tap")
    with pytest.raises(IdempotencyKeyReused) as raised:
        await _add(db, holder, cart.id, product_id, 3, idempotency_key="tap")
    assert (raised.value.code, raised.value.field) == ("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")


@pytest.mark.parametrize("key", ["", "   ", "k" * 201])
async def test_a_blank_or_too_long_key_is_invalid_input(db: Database, key: str) -> None:
    _, _, _, product_id = await store_with_product(db)
    holder, cart = await _guest_cart(db, product_id)
    with pytest.raises(InvalidInput) as raised:
        await _add(db, holder, cart.id, product_id, 1, idempotency_key=key)
    assert (raised.value.code, raised.value.field) == ("INVALID_INPUT", "idempotencyKey")


async def test_stale_expected_version_of_a_checkout_conflicts_and_places_nothing(
    db: Database,
) -> None:
    store_id, _, _, product_id = await store_with_product(db)
    holder, cart = await _guest_cart(db, product_id)
    await _add(db, holder, cart.id, product_id, 1)
    with pytest.raises(VersionConflict) as raised:
        await _checkout(db, holder, _collect(store_id, cart, idempotency_key="pay"))
    assert raised.value.details.version == cart.version + 1
    assert await _order_count(db) == 0


async def test_a_retried_checkout_replays_the_order_after_the_cart_closed(db: Database) -> None:
    store_id, _, _, product_id = await store_with_product(db)
    holder, cart = await _guest_cart(db, product_id, 2)
    request = _collect(store_id, cart, idempotency_key="pay")
    first = await _checkout(db, holder, request)
    again = await _checkout(db, holder, request)
    assert first.replayed is False and again.replayed is True
    assert again.order == first.order
    assert again.lines == first.lines
    assert await _order_count(db) == 1


async def test_the_same_key_with_another_checkout_request_is_refused(db: Database) -> None:
    store_id, _, _, product_id = await store_with_product(db)
    other_store, _, _, _ = await store_with_product(db, "BGO")
    holder, cart = await _guest_cart(db, product_id, 2)
    await _checkout(db, holder, _collect(store_id, cart, idempotency_key="pay"))
    with pytest.raises(IdempotencyKeyReused) as raised:
        await _checkout(db, holder, _collect(other_store, cart, idempotency_key="pay"))
    assert (raised.value.code, raised.value.field) == ("IDEMPOTENCY_KEY_REUSED", "idempotencyKey")
    assert await _order_count(db) == 1


async def test_a_stranger_retrying_someone_elses_checkout_key_finds_no_cart(
    db: Database,
) -> None:
    store_id, _, _, product_id = await store_with_product(db)
    holder, cart = await _guest_cart(db, product_id, 2)
    request = _collect(store_id, cart, idempotency_key="pay")
    await _checkout(db, holder, request)
    with pytest.raises(NotFound) as raised:
        await _checkout(db, Viewer(cart_token_hash="z" * 64), request)
    assert raised.value.field == "cartId"
