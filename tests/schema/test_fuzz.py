"""A bounded fuzz run: generated queries and mutations never make the server fail.

schemathesis (over hypothesis-graphql) writes documents for every query and mutation of the
exported SDL, valid ones and ones with arguments of the wrong kind, and they go through the
ASGI app to a small seeded shop, on SQLite and (when configured) PostgreSQL, as an anonymous
caller, a guest cart, a customer, a kiosk, a staff member or an admin. Not one answer may be
a 5xx or carry the ``INTERNAL`` code of an unexpected error. Generated IDs and strings are
drawn partly from the seeded shop (global ids, barcodes, emails) and from odd values (keys
past the range, NUL, lone surrogates), so arguments reach real rows as well as missing and
malformed ones. The run is derandomized: the same documents every time.

Bugs it found are pinned by their own tests: tests/schema/test_ids.py, tests/schema/test_text.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from random import Random
from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.graphql import nodes

from schema.ids import encode_id
from schema.paging import encode_cursor
from server.db import Database
from tests.clients import (
    client_of,
    collect_at,
    graphql,
    place_order,
    runtime_for,
    sign_up,
    staff_sign_in,
)
from tests.rows import (
    add_campaign,
    add_device,
    add_online_warehouse,
    add_product,
    add_staff,
    add_store,
)

SDL = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"
OPERATIONS = 1000
GTINS = ["7038010009457", "0036000291452", "7311041013069"]
EMAILS = ["kari@example.com", "ola.staff@example.com", "admin@example.com"]
PASSWORD = "correct horse battery"

# Rows of each type the seed below makes in a fresh database (ids 1, 2, ...); one more names none.
_SEEDED = {
    "Product": 3,
    "Store": 2,
    "Cart": 3,
    "CartLine": 4,
    "Order": 1,
    "OrderLine": 1,
    "Customer": 1,
    "Campaign": 1,
}
KNOWN_IDS = [encode_id(kind, pk) for kind, count in _SEEDED.items() for pk in range(1, count + 2)]
ODD_IDS = [
    "",
    "x",
    "====",
    encode_id("Product", "abc"),
    encode_id("Product", -1),
    encode_id("Product", 2**63),
    encode_id("Cart", 10**40),
    encode_id("Nope", 1),
    encode_id("Cart", "9" * 5000),
    "Q2FydDox\x00",
]
KNOWN_STRINGS = [
    *GTINS,
    "036000291452",
    "7038010009452",  # bad check digit
    "2012345000019",  # an in-store label prefix
    "9" * 40,
    *EMAILS,
    PASSWORD,
    "K7QM-3XPA",
    "OC-26-000001-8",
    "mælk",
    "Arla",
    "",
    " ",
]
ODD_STRINGS = [
    *ODD_IDS,
    "\x00",
    "kari\x00@example.com",
    "mel\x00k",
    "\ud800",
    encode_cursor("order", 10**30),
    encode_cursor("audit", 2**40),
    encode_cursor("offset", 2**31),
    encode_cursor("offset", 10**30),
    encode_id("order", "9" * 5000),  # a cursor of 5,000 digits
]

ids = st.one_of(
    st.sampled_from(KNOWN_IDS),
    st.sampled_from(ODD_IDS),
    st.text(max_size=24),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
)
strings = st.one_of(
    st.sampled_from(KNOWN_STRINGS), st.sampled_from(ODD_STRINGS), st.text(max_size=40)
)
schemathesis.graphql.scalar("ID", ids.map(nodes.String))
schemathesis.graphql.scalar("String", strings.map(nodes.String))
schemathesis.graphql.scalar(
    "LineQuantity",
    st.one_of(st.integers(min_value=-2, max_value=120), st.integers()).map(nodes.Int),
)
schemathesis.graphql.scalar(
    "DateTime",
    st.one_of(
        st.datetimes().map(lambda moment: moment.isoformat() + "Z"),
        st.sampled_from(["2026-13-01T00:00:00Z", "yesterday", "2026-01-01"]),
    ).map(nodes.String),
)

SCHEMA = schemathesis.graphql.from_path(SDL)
_OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
CASES = st.one_of(
    *[operation.as_strategy() for operation in _OPERATIONS],
    *[operation.as_strategy(generation_mode=GenerationMode.NEGATIVE) for operation in _OPERATIONS],
)


@dataclass
class Shop:
    """What the seed made: the headers of each kind of caller."""

    callers: dict[str, dict[str, str]] = field(default_factory=dict)


async def seed_shop(db: Database, client: httpx.AsyncClient) -> Shop:
    """Two stores, the online warehouse, three products, carts, an order and every caller."""
    oslo, oslo_location = await add_store(db, "OSL", "Oslo City")
    _, bergen_location = await add_store(db, "BGN", "Bergen")
    online = await add_online_warehouse(db)
    stock = {oslo_location: (40, 0), bergen_location: (2, 0), online: (500, 0)}
    first = await add_product(db, gtins=[GTINS[0]], name="Melk", categories=["Meieri", "Melk"])
    await add_product(db, gtins=[GTINS[1]], name="Kleenex", stock=stock, categories=["Papir"])
    await add_product(db, gtins=[GTINS[2]], name="Mælk", stock=stock, categories=["Meieri"])
    await add_campaign(db, first, 1990, starts_at=None, ends_at=None)
    kiosk = await add_device(db, "OSL", "kiosk")
    await add_staff(db, EMAILS[1], store_code="OSL")
    await add_staff(db, EMAILS[2], role="admin")
    order, guest = await place_order(client, [(GTINS[1], 2)], collect_at(oslo))
    customer = await sign_up(client, EMAILS[0], PASSWORD)
    add = "mutation($i: CartCreateInput) { cartCreate(input: $i) { errors { code } } }"
    lines = [{"gtin": GTINS[1], "quantity": 1}, {"gtin": GTINS[2], "quantity": 3}]
    await graphql(client, add, {"i": {"lines": lines}}, customer)
    await graphql(client, add, {"i": {"lines": lines}})
    assert order["id"] == encode_id("Order", 1)
    return Shop(
        callers={
            "anonymous": {},
            "guest": guest,
            "customer": customer,
            "kiosk": {"Authorization": f"Bearer {kiosk}"},
            "staff": await staff_sign_in(client, EMAILS[1]),
            "admin": await staff_sign_in(client, EMAILS[2]),
        }
    )


def failure_of(response: httpx.Response) -> str | None:
    """Say how an answer shows a server failure (a 5xx, or an INTERNAL code), or None."""
    if response.status_code >= 500:
        return f"HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:
        return None
    internal = [where for where in _codes(body, "$") if where[1] == "INTERNAL"]
    return f"INTERNAL at {internal[0][0]}" if internal else None


def _codes(value: Any, where: str) -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        found = [(where, value["code"])] if "code" in value else []
        for key, item in value.items():
            found += _codes(item, f"{where}.{key}")
        return found
    if isinstance(value, list):
        return [code for i, item in enumerate(value) for code in _codes(item, f"{where}[{i}]")]
    return []


class UnexpectedErrors(logging.Handler):
    """Keep what the app logs of each unexpected error, to name it next to its document."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.seen: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        error = record.exc_info[1] if record.exc_info else None
        if error is not None:
            frame = traceback.extract_tb(error.__traceback__)[-1]
            where = f"{Path(frame.filename).name}:{frame.lineno}"
            self.seen.append(f"{type(error).__name__}: {error} ({where})")


def run_fuzz(
    database_url: str, data_dir: Path, *, examples: int, random: Random | None = None
) -> tuple[int, list[str]]:
    """Send ``examples`` generated operations to a seeded shop; return (sent, failures).

    Without ``random`` the documents are the same every run (derandomized).
    """
    failures: list[str] = []
    sent = 0
    unexpected = UnexpectedErrors()
    logging.getLogger("omnicart.graphql").addHandler(unexpected)
    with asyncio.Runner() as runner:
        db = Database(database_url)
        client = client_of(runtime_for(db, data_dir))
        try:
            shop = runner.run(seed_shop(db, client))

            @settings(
                max_examples=examples,
                derandomize=random is None,
                database=None,
                deadline=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=CASES, caller=st.sampled_from(sorted(shop.callers)))
            def send(case: Any, caller: str) -> None:
                nonlocal sent
                sent += 1
                unexpected.seen.clear()
                # Escaped as JSON allows, so a lone surrogate reaches the server as sent.
                body = json.dumps({"query": case.body}).encode("ascii")
                headers = {"Content-Type": "application/json", **shop.callers[caller]}
                request = client.post("/graphql", content=body, headers=headers)
                try:
                    failure = failure_of(runner.run(request))
                except Exception as error:  # the app raised through the transport
                    failure = f"{type(error).__name__}: {error}"
                if failure is not None:
                    causes = "; ".join(unexpected.seen)
                    failures.append(f"{failure} as {caller} ({causes}):\n{case.body}")

            if random is not None:
                send = seed(random.getrandbits(64))(send)
            send()
        finally:
            logging.getLogger("omnicart.graphql").removeHandler(unexpected)
            runner.run(client.aclose())
            runner.run(db.dispose())
    return sent, failures


def test_a_thousand_generated_operations_never_fail_the_server(
    db: Database, tmp_path: Path
) -> None:
    # A sync test: the fuzz drives its own event loop (run_fuzz), with a Database of its own
    # on the fixture's fresh database; the fixture only creates and drops that database.
    sent, failures = run_fuzz(db.url, tmp_path, examples=OPERATIONS)

    assert sent >= OPERATIONS
    assert failures == []
