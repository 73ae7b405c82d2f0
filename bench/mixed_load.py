"""The load of bench/mixed.py: its kinds and their shares, the seeded shop, the requests.

Four kinds share the connections by ``MIX``: product lookups and searches (the readers)
going round prepared documents, cart changes going round prepared guest carts (two lines
each) and checkouts of prepared carts of 1–5 lines. ``OK`` is what every answer of a kind
holds, for wrk's script to count the others as errors.
"""

from __future__ import annotations

import math
import random
import sys
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.checkout import Shop  # noqa: E402
from bench.loadgen import Prepared  # noqa: E402
from server import models  # noqa: E402
from server.db import Database  # noqa: E402
from server.migrations import upgrade_to_head  # noqa: E402
from server.states import CartStatus  # noqa: E402
from server.tokens import CART_PREFIX, new_token, token_hash  # noqa: E402

LOOKUP = "query P($gtin: String!) { product(gtin: $gtin) { name } }"
SEARCH = "query S($q: String!) { search(query: $q, first: 10) { edges { node { name } } } }"
ADD = """
mutation Add($input: CartLinesAddInput!) {
  cartLinesAdd(input: $input) { cart { version } errors { code } }
}
"""
WORDS = ("kaffe", "brød", "melk", "ost", "te", "juice", "smør", "egg")
MIX = (("lookup", 50), ("search", 20), ("cart", 25), ("checkout", 5))
WRITES = ("cart", "checkout")
READS = ("lookup", "search")
# What every answer of a kind holds (wrk's script also fails a non-200 or an error object).
OK = {"lookup": '"product":{"name":', "search": '"edges":[{', "cart": '"errors":[]',
      "checkout": '"errors":[]'}  # fmt: skip


def gtin_of(i: int) -> str:
    """Return the ``i``-th bench barcode: an EAN-13 with its check digit, 14 digits."""
    body = f"703{100000000 + i:09d}"
    total = sum(int(d) * (3 if n % 2 else 1) for n, d in enumerate(body))
    return f"0{body}{(10 - total % 10) % 10}"


def connections_of(clients: int) -> dict[str, int]:
    """Split ``clients`` connections over the kinds by their shares (largest remainder), at
    least one each: 50 make 25 lookups, 10 searches, 13 cart changes and 2 checkouts."""
    if clients < len(MIX):
        raise SystemExit(f"--clients must be at least {len(MIX)}, one per kind")
    total = sum(share for _, share in MIX)
    exact = {kind: clients * share / total for kind, share in MIX}
    split = {kind: max(1, math.floor(value)) for kind, value in exact.items()}
    for kind in sorted(exact, key=lambda k: exact[k] - math.floor(exact[k]), reverse=True):
        if sum(split.values()) >= clients:
            break
        split[kind] += 1
    while sum(split.values()) > clients:  # the "at least one" went over: the largest gives
        split[max(split, key=lambda k: split[k])] -= 1
    return split


@dataclass(frozen=True)
class Seeded:
    """What was seeded: the checkout shop (its carts) and the carts to change."""

    shop: Shop
    add_carts: list[tuple[int, str]]


async def seed(url: str, products: int, *, add_carts: int, checkout_carts: int) -> Seeded:
    """Migrate and create one store with ``products`` products in plenty, ``add_carts`` empty
    guest carts and ``checkout_carts`` guest carts of 1–5 lines."""
    from schema.ids import encode_id

    rng = random.Random(7)
    db = Database(url)
    try:
        await upgrade_to_head(db)
        async with db.transaction() as session:
            store = models.Store(code="MIX", name="Mix store")
            session.add(store)
            await session.flush()
            location = models.StockLocation(code="LOC-MIX", store_id=store.id, online=False)
            session.add(location)
            await session.flush()
            product_ids = []
            for i in range(products):
                name = f"{WORDS[i % len(WORDS)].capitalize()} nr {i}"
                product = models.Product(sku=f"MIX-{i}", name=name, categories=[], attributes={})
                session.add(product)
                await session.flush()
                session.add(models.ProductBarcode(product_id=product.id, gtin=gtin_of(i)))
                session.add(models.Price(product_id=product.id, currency="NOK", amount=1000 + i))
                session.add(
                    models.StockLevel(location_id=location.id, product_id=product.id, on_hand=10**6)
                )
                product_ids.append(product.id)
            await session.flush()
            now = models.utcnow()
            tokens = [new_token(CART_PREFIX) for _ in range(add_carts + checkout_carts)]
            rows = [
                {"token_hash": token_hash(t), "status": CartStatus.ACTIVE, "version": 1,
                 "created_at": now, "updated_at": now}
                for t in tokens
            ]  # fmt: skip
            returning = insert(models.Cart).returning(models.Cart.id, sort_by_parameter_order=True)
            ids = (await session.execute(returning, rows)).scalars().all()
            carts = list(zip(ids, tokens, strict=True))
            checkout, lines = [], []
            for cart_id, token in carts[add_carts:]:
                chosen = sorted(rng.sample(product_ids, rng.randint(1, 5)))
                wanted = [(pid, rng.randint(1, 3)) for pid in chosen]
                lines += [
                    {"cart_id": cart_id, "product_id": pid, "quantity": q, "created_at": now}
                    for pid, q in wanted
                ]
                checkout.append((cart_id, token, 1, wanted))
            if lines:
                await session.execute(insert(models.CartLine), lines)
        shop = Shop(encode_id("Store", store.id), location.id, checkout)
        return Seeded(shop, carts[:add_carts])
    finally:
        await db.dispose()


def read_requests(products: int) -> dict[str, list[Prepared]]:
    """The lookup of every product's barcode (shuffled) and a search for every word."""
    order = list(range(products))
    random.Random(3).shuffle(order)
    return {
        "lookup": [Prepared("/graphql", {"query": LOOKUP, "variables": {"gtin": gtin_of(i)}})
                   for i in order],
        "search": [Prepared("/graphql", {"query": SEARCH, "variables": {"q": word}})
                   for word in WORDS],
    }  # fmt: skip


def add_requests(seeded: Seeded, products: int) -> list[Prepared]:
    """Two adds per add cart, of two products: every cart once, then every cart again."""
    from schema.ids import encode_id

    rng = random.Random(5)
    chosen = [rng.sample(range(products), 2) for _ in seeded.add_carts]
    return [
        Prepared(
            "/graphql",
            {
                "query": ADD,
                "variables": {
                    "input": {
                        "cartId": encode_id("Cart", cart_id),
                        "lines": [{"gtin": gtin_of(pair[round_]), "quantity": 1}],
                    }
                },
            },
            token,
        )
        for round_ in (0, 1)
        for (cart_id, token), pair in zip(seeded.add_carts, chosen, strict=True)
    ]
