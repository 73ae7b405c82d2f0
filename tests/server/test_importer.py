"""Catalog import and demo seeding, against real SQLite and (when configured) PostgreSQL."""

from __future__ import annotations

import csv
import itertools
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from stdnum import ean

from server import catalog, pricing
from server.db import Database
from server.errors import InvalidGtin, InvalidInput
from server.gtin import parse_gtin
from server.importer import ImportReport, category_label, import_catalog
from server.models import (
    Base,
    Campaign,
    CampaignPrice,
    OutboxEvent,
    Price,
    Product,
    ProductBarcode,
    StockLevel,
    StockLocation,
    Store,
)
from server.seed import seed_demo
from tests.clients import settings_for
from tests.data import OFF_SAMPLE as SAMPLE
from tests.data import OFF_SAMPLE_ROWS
from tests.rows import add_online_warehouse, add_store, fresh_ean13

CSV_HEADER = [
    "gtin", "name", "brand", "categories", "description", "quantity", "image_url", "price",
    "currency", "campaign_name", "campaign_price", "campaign_starts_at", "campaign_ends_at",
    "stock:OSL-STORO", "stock:online",
]  # fmt: skip

# ---------------------------------------------------------------------------------------------
# Small builders


def write_jsonl(path: Path, rows: list[dict[str, Any] | str]) -> Path:
    """Write rows (dicts as JSON, strings verbatim) one per line."""
    lines = [row if isinstance(row, str) else json.dumps(row, ensure_ascii=False) for row in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] = CSV_HEADER) -> Path:
    """Write a CSV with the given header; missing cells are empty."""
    with path.open("w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=header, restval="")
        writer.writeheader()
        writer.writerows(rows)
    return path


def off_row(code: str, name: str = "Lettmelk", **extra: Any) -> dict[str, Any]:
    """Return a row shaped like off-products.jsonl."""
    return {"code": code, "product_name": name, "brands": "Tine", "categories": ["en:milks"],
            "quantity": "1 l", "countries": ["en:norway"], "image_url": None,
            "nutriscore_grade": "b", "lc": "nb", "source_id": "test", **extra}  # fmt: skip


def read_report(path: Path) -> dict[int, str]:
    """Return the report's reason per line number."""
    with path.open(newline="", encoding="utf-8") as stream:
        return {int(row["line"]): row["reason"] for row in csv.DictReader(stream)}


async def table_counts(db: Database) -> dict[str, int]:
    """Return the number of rows in every table of the schema."""
    async with db.transaction(write=False) as session:
        return {
            table.name: (
                await session.execute(select(func.count()).select_from(table))
            ).scalar_one()
            for table in Base.metadata.sorted_tables
        }


async def product_id_for(db: Database, code: str) -> int:
    async with db.transaction(write=False) as session:
        product = await catalog.product_by_gtin(session, parse_gtin(code))
        assert product is not None, code
        return product.id


async def barcodes_of(db: Database, product_id: int) -> list[tuple[str, bool]]:
    async with db.transaction(write=False) as session:
        rows = await session.execute(
            select(ProductBarcode.gtin, ProductBarcode.is_primary)
            .where(ProductBarcode.product_id == product_id)
            .order_by(ProductBarcode.id)
        )
        return [(gtin, primary) for gtin, primary in rows]


async def import_file(db: Database, path: Path, **kwargs: Any) -> ImportReport:
    return await import_catalog(
        db, path, currency="NOK", report_path=path.with_suffix(".report.csv"), **kwargs
    )


def has_restricted_prefix(gtin14: str) -> bool:
    """Say whether a GTIN-14 has a GS1 restricted-circulation prefix (RCN-8 0/2, 02, 04, 2x)."""
    if gtin14.startswith("000000"):
        return gtin14[6] in "02"
    return gtin14[0] == "0" and (gtin14[1] == "2" or gtin14[1:3] in ("02", "04"))


# ---------------------------------------------------------------------------------------------
# Expected outcomes of the test sample, from GS1's own rules (not from the importer)


def expected_sample_reasons(sample: Path = SAMPLE) -> tuple[dict[int, str | None], set[int]]:
    """Return the expected reason (None: accepted) per line that GS1 rules decide alone.

    The second set holds the lines these rules cannot decide without reading them as a
    scanner would (8 digits starting with 0 may be UPC-E; 15+ digits starting with 01 may
    be a GS1 element string).
    """
    expected: dict[int, str | None] = {}
    undecided: set[int] = set()
    first_line: dict[str, int] = {}
    with sample.open(encoding="utf-8") as lines:
        for line, text in enumerate(lines, start=1):
            code = json.loads(text)["code"]
            length = len(code)
            assert code.isdigit()
            if (length == 8 and code[0] == "0") or (length >= 15 and code.startswith("01")):
                undecided.add(line)
                continue
            if length not in (8, 12, 13, 14):
                expected[line] = "gtin_length"
                continue
            if not ean.is_valid(code):
                expected[line] = "gtin_check_digit"
                continue
            gtin14 = code.zfill(14)
            # The chain's own codes (restricted prefixes) are product codes like any other.
            if gtin14 in first_line:
                expected[line] = "duplicate_gtin"
            else:
                first_line[gtin14] = line
                expected[line] = None
    return expected, undecided


# ---------------------------------------------------------------------------------------------
# The test sample (tests/data/off-sample.jsonl)


async def test_importing_the_sample_twice_changes_nothing_the_second_time(
    db: Database, tmp_path: Path
) -> None:
    first = await import_catalog(db, SAMPLE, currency="NOK", report_path=tmp_path / "1.csv")
    counts = await table_counts(db)
    async with db.transaction(write=False) as session:
        stamps = dict((await session.execute(select(Product.id, Product.updated_at))).all())

    second = await import_catalog(db, SAMPLE, currency="NOK", report_path=tmp_path / "2.csv")

    assert (second.created, second.updated) == (0, 0)
    assert second.unchanged == first.created
    assert second.rejected == first.rejected
    assert second.rows == first.rows == OFF_SAMPLE_ROWS
    assert first.rows == first.created + first.rejected
    assert await table_counts(db) == counts
    async with db.transaction(write=False) as session:
        assert dict((await session.execute(select(Product.id, Product.updated_at))).all()) == stamps
    assert counts["products"] == counts["product_barcodes"] == counts["outbox_events"]
    assert counts["prices"] == counts["stock_levels"] == counts["campaigns"] == 0


async def test_sample_rows_are_rejected_for_the_reasons_gs1_rules_give(
    db: Database, tmp_path: Path
) -> None:
    expected, undecided = expected_sample_reasons()
    report = await import_catalog(db, SAMPLE, currency="NOK", report_path=tmp_path / "r.csv")
    reasons = read_report(tmp_path / "r.csv")

    # A decided row may repeat the GTIN of an earlier undecided one (UPC-E 00987533 is
    # 0009800000753): then it is a duplicate of that row.
    with (tmp_path / "r.csv").open(newline="", encoding="utf-8") as stream:
        messages = {int(row["line"]): row["message"] for row in csv.DictReader(stream)}
    repeats = {
        line: reason
        for line, reason in reasons.items()
        if line in expected
        and expected[line] is None
        and reason == "duplicate_gtin"
        and int(messages[line].split("line ")[1].split()[0]) in undecided
    }
    decided = {line: reasons.get(line) for line in expected if line not in repeats}
    assert decided == {line: v for line, v in expected.items() if line not in repeats}
    assert len(repeats) <= 8
    # The sample keeps 90 rows with a wrong check digit (tests/data/README.md).
    assert sum(1 for v in expected.values() if v == "gtin_check_digit") == 90
    assert all(
        reasons[line].startswith(("gtin_", "duplicate_gtin")) for line in undecided & reasons.keys()
    )
    assert report.rejected == len(reasons)
    assert report.rejected_by_reason == dict(Counter(reasons.values()))


async def test_every_sample_row_with_a_well_formed_code_is_kept_own_codes_included(
    db: Database, tmp_path: Path
) -> None:
    expected, _ = expected_sample_reasons()
    with SAMPLE.open(encoding="utf-8") as lines:
        own_lines = {
            line
            for line, text in enumerate(lines, start=1)
            if expected.get(line, "undecided") is None
            and has_restricted_prefix(json.loads(text)["code"].zfill(14))
        }
    report = await import_catalog(db, SAMPLE, currency="NOK", report_path=tmp_path / "r.csv")

    assert (report.rows, report.created, report.rejected) == (OFF_SAMPLE_ROWS, 1862, 138)
    assert report.rejected_by_reason == {
        "duplicate_gtin": 5, "gtin_check_digit": 93, "gtin_length": 40,
    }  # fmt: skip
    # The 60 rows with a restricted prefix that GS1 rules decide alone (tests/data/README.md)
    # are all products now, and so are the 23 eight-digit codes that read as RCN-8.
    assert len(own_lines) == 60
    assert own_lines.isdisjoint(read_report(tmp_path / "r.csv"))
    async with db.transaction(write=False) as session:
        codes = (await session.execute(select(ProductBarcode.gtin))).scalars().all()
    assert sum(1 for digits in codes if parse_gtin(digits).restricted) == 83


# ---------------------------------------------------------------------------------------------
# The chain's own codes limited to stores


async def own_code_in(db: Database, code: str, store_id: int | None) -> int | None:
    """Return the product id a code is in a store (None: no product), as lookups see it."""
    async with db.transaction(write=False) as session:
        match = await catalog.product_for_code(session, code, store_id)
        return match.product.id if match.product else None


async def test_stores_limit_a_rows_own_code_to_those_stores(db: Database, tmp_path: Path) -> None:
    storo, _ = await add_store(db, "OSL-STORO")
    bergen, _ = await add_store(db, "BGO-SENTRUM")
    other, _ = await add_store(db, "TRD-TORGET")
    own, ean13 = fresh_ean13("26"), fresh_ean13()
    path = write_jsonl(
        tmp_path / "a.jsonl",
        [off_row([own, ean13], "Grovbrød", stores=["OSL-STORO", "bgo-sentrum"])],  # type: ignore[arg-type]
    )

    report = await import_file(db, path)

    assert (report.created, report.rejected) == (1, 0)
    pid = await product_id_for(db, ean13)
    assert await own_code_in(db, own, storo) == pid
    assert await own_code_in(db, own, bergen) == pid
    assert await own_code_in(db, own, None) == pid  # no store asking: the whole chain
    with pytest.raises(InvalidGtin) as caught:
        await own_code_in(db, own, other)  # 26… has no label template either
    assert caught.value.details == {"reason": "restricted", "raw": own}
    assert await own_code_in(db, ean13, other) == pid  # a global GTIN is never limited


async def test_reimporting_stores_changes_only_the_limit_and_no_key_leaves_it(
    db: Database, tmp_path: Path
) -> None:
    storo, _ = await add_store(db, "OSL-STORO")
    other, _ = await add_store(db, "TRD-TORGET")
    own = fresh_ean13("29")
    await import_file(db, write_jsonl(tmp_path / "a.jsonl", [off_row(own, stores=["OSL-STORO"])]))

    same = await import_file(
        db, write_jsonl(tmp_path / "b.jsonl", [off_row(own, stores=["OSL-STORO"])])
    )
    no_key = await import_file(db, write_jsonl(tmp_path / "c.jsonl", [off_row(own)]))
    assert await own_code_in(db, own, storo) is not None
    with pytest.raises(InvalidGtin):
        await own_code_in(db, own, other)
    lifted = await import_file(db, write_jsonl(tmp_path / "d.jsonl", [off_row(own, stores=[])]))

    assert (same.updated, same.unchanged) == (0, 1)
    assert (no_key.updated, no_key.unchanged) == (0, 1)
    assert (lifted.updated, lifted.unchanged) == (1, 0)
    assert await own_code_in(db, own, other) == await own_code_in(db, own, storo)
    assert (await table_counts(db))["product_barcode_stores"] == 0


async def test_a_csv_stores_column_lists_store_codes_with_bars(
    db: Database, tmp_path: Path
) -> None:
    storo, _ = await add_store(db, "OSL-STORO")
    bergen, _ = await add_store(db, "BGO-SENTRUM")
    other, _ = await add_store(db, "TRD-TORGET")
    own = fresh_ean13("04")
    path = write_csv(
        tmp_path / "a.csv",
        [{"gtin": own, "name": "Wienerbrød", "stores": "OSL-STORO | BGO-SENTRUM"}],
        header=["gtin", "name", "stores"],
    )

    report = await import_file(db, path)

    assert (report.created, report.rejected) == (1, 0)
    assert await own_code_in(db, own, storo) == await own_code_in(db, own, bergen) is not None
    with pytest.raises(InvalidGtin):
        await own_code_in(db, own, other)


@pytest.mark.parametrize(
    ("extra", "reason"),
    [
        ({"stores": ["OSL-STORO"]}, "bad_stores"),  # a global GTIN alone is valid everywhere
        ({"stores": 5}, "bad_stores"),
        ({"stores": [5]}, "bad_stores"),
        ({"stores": ["NOWHERE"], "code": "own"}, "unknown_store"),
    ],
)
async def test_bad_stores_are_rejected_with_their_reason(
    db: Database, tmp_path: Path, extra: dict[str, Any], reason: str
) -> None:
    await add_store(db, "OSL-STORO")
    code = fresh_ean13("21") if extra.pop("code", None) else fresh_ean13()
    path = write_jsonl(tmp_path / "a.jsonl", [off_row(code, **extra), off_row(fresh_ean13())])

    report = await import_file(db, path)

    assert read_report(path.with_suffix(".report.csv")) == {1: reason}
    assert (report.created, report.rejected) == (1, 1)


# ---------------------------------------------------------------------------------------------
# One product per GTIN


@pytest.mark.parametrize(
    ("first", "second"),
    [("036000291452", "0036000291452"), ("0000080007838", "80007838")],
    ids=["upc-a+ean-13", "zero-padded-ean-8"],
)
async def test_codes_of_one_gtin_land_on_one_product(
    db: Database, tmp_path: Path, first: str, second: str
) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [off_row(first, "Melk"), off_row(second, "Melk 2")])
    report = await import_file(db, path)

    assert (report.created, report.rejected) == (1, 1)
    assert read_report(path.with_suffix(".report.csv")) == {2: "duplicate_gtin"}
    pid = await product_id_for(db, second)
    assert pid == await product_id_for(db, first)
    assert await barcodes_of(db, pid) == [(first.zfill(14), True)]

    again = write_jsonl(tmp_path / "b.jsonl", [off_row(second, "Melk 2")])
    update = await import_file(db, again)
    assert (update.created, update.updated) == (0, 1)
    async with db.transaction(write=False) as session:
        assert (await session.get(Product, pid)).name == "Melk 2"  # type: ignore[union-attr]
        assert (await session.execute(select(func.count()).select_from(Product))).scalar_one() == 1


async def test_a_new_barcode_on_a_known_product_is_added_not_a_new_product(
    db: Database, tmp_path: Path
) -> None:
    known, extra = fresh_ean13(), fresh_ean13()
    await import_file(db, write_jsonl(tmp_path / "a.jsonl", [off_row(known)]))
    path = write_csv(tmp_path / "b.csv", [{"gtin": f"{extra}|{known}", "name": "Lettmelk"}],
                     header=["gtin", "name"])  # fmt: skip

    report = await import_file(db, path)

    assert (report.created, report.updated, report.unchanged) == (0, 1, 0)
    pid = await product_id_for(db, extra)
    assert await barcodes_of(db, pid) == [(known.zfill(14), True), (extra.zfill(14), False)]


# ---------------------------------------------------------------------------------------------
# What a row carries


async def test_off_row_becomes_a_product_with_labels_attributes_and_a_sku(
    db: Database, tmp_path: Path
) -> None:
    code = fresh_ean13()
    categories = ["en:spreads", "en:null", "en:hazelnut-spreads", "fr:pates-a-tartiner"]
    image = "https://images.openfoodfacts.org/x.jpg"
    row = off_row(code, "Nøttepålegg", brands="Nugatti,  Stabburet", quantity="350 g",
                  categories=categories, image_url=image)  # fmt: skip
    await import_file(db, write_jsonl(tmp_path / "a.jsonl", [row]))

    async with db.transaction(write=False) as session:
        product = await session.get(Product, await product_id_for(db, code))
        assert product is not None
        assert product.sku == code
        assert product.name == "Nøttepålegg"
        assert product.brand == "Nugatti"
        assert product.categories == ["Spreads", "Hazelnut spreads", "Pates a tartiner"]
        assert (product.quantity, product.net_amount, product.unit) == ("350 g", 350.0, "g")
        assert product.image_url == "https://images.openfoodfacts.org/x.jpg"
        assert product.attributes == {
            "brands": "Nugatti,  Stabburet", "countries": ["en:norway"], "nutriscore_grade": "b",
            "lc": "nb", "source_id": "test",
        }  # fmt: skip
        prices = (await session.execute(select(func.count()).select_from(Price))).scalar_one()
        assert prices == 0


def test_category_tags_read_as_labels() -> None:
    assert category_label("en:hazelnut-spreads") == "Hazelnut spreads"
    assert category_label("en:null") is None
    assert category_label("Meieriprodukter") == "Meieriprodukter"


async def test_csv_sets_exactly_the_prices_campaign_and_stock_it_names(
    db: Database, tmp_path: Path
) -> None:
    _, oslo = await add_store(db, "OSL-STORO")
    online = await add_online_warehouse(db)
    await add_store(db, "BGO-LAGUNEN")
    milk, extra, juice = fresh_ean13(), fresh_ean13(), fresh_ean13()
    path = write_csv(tmp_path / "c.csv", [
        {"gtin": f"{milk}|{extra}", "name": "Lettmelk", "brand": "Tine",
         "categories": "Meieri > Melk", "quantity": "1 l", "price": "24.90",
         "campaign_name": "Ukens tilbud", "campaign_price": "19,90",
         "campaign_starts_at": "2026-01-05T00:00:00+01:00", "campaign_ends_at": "2026-01-12",
         "stock:OSL-STORO": "7", "stock:online": "20"},
        {"gtin": juice, "name": "Appelsinjuice", "price": "32", "currency": "SEK",
         "stock:online": "0"},
    ])  # fmt: skip

    report = await import_file(db, path)

    assert (report.created, report.rejected) == (2, 0)
    milk_id, juice_id = await product_id_for(db, milk), await product_id_for(db, juice)
    async with db.transaction(write=False) as session:
        prices = set(
            (await session.execute(select(Price.product_id, Price.currency, Price.amount))).all()
        )
        assert prices == {(milk_id, "NOK", 2490), (juice_id, "SEK", 3200)}
        levels = select(
            StockLevel.location_id, StockLevel.product_id, StockLevel.on_hand, StockLevel.reserved
        )
        stock = set((await session.execute(levels)).all())
        assert stock == {(oslo, milk_id, 7, 0), (online, milk_id, 20, 0), (online, juice_id, 0, 0)}
        campaign = (await session.execute(select(Campaign))).scalar_one()
        assert campaign.name == "Ukens tilbud"
        assert campaign.starts_at == datetime(2026, 1, 4, 23, 0, tzinfo=UTC)
        assert campaign.ends_at == datetime(2026, 1, 12, tzinfo=UTC)
        offers = set((await session.execute(
            select(CampaignPrice.campaign_id, CampaignPrice.product_id, CampaignPrice.currency,
                   CampaignPrice.amount)
        )).all())  # fmt: skip
        assert offers == {(campaign.id, milk_id, "NOK", 1990)}
        product = await session.get(Product, milk_id)
        assert product is not None
        assert (product.categories, product.net_amount, product.unit) == (
            ["Meieri", "Melk"],
            1000.0,
            "ml",
        )
    assert await barcodes_of(db, milk_id) == [(milk.zfill(14), True), (extra.zfill(14), False)]


async def test_reimporting_a_csv_changes_only_what_changed(db: Database, tmp_path: Path) -> None:
    await add_store(db, "OSL-STORO")
    await add_online_warehouse(db)
    milk, juice = fresh_ean13(), fresh_ean13()
    rows = [
        {"gtin": milk, "name": "Lettmelk", "price": "24.90", "stock:OSL-STORO": "7",
         "campaign_name": "Ukens tilbud", "campaign_price": "19.90",
         "campaign_starts_at": "2026-03-02T06:00:00+01:00", "campaign_ends_at": "2026-03-09"},
        {"gtin": juice, "name": "Appelsinjuice", "price": "32.00", "stock:online": "3"},
    ]  # fmt: skip
    await import_file(db, write_csv(tmp_path / "a.csv", rows))
    counts = await table_counts(db)
    async with db.transaction(write=False) as session:
        stamps = dict((await session.execute(select(Product.id, Product.updated_at))).all())

    same = await import_file(db, write_csv(tmp_path / "b.csv", rows))
    assert (same.created, same.updated, same.unchanged) == (0, 0, 2)
    assert await table_counts(db) == counts

    rows[1]["price"] = "29.90"
    changed = await import_file(db, write_csv(tmp_path / "c.csv", rows))
    assert (changed.created, changed.updated, changed.unchanged) == (0, 1, 1)
    juice_id = await product_id_for(db, juice)
    async with db.transaction(write=False) as session:
        amount = (
            await session.execute(select(Price.amount).where(Price.product_id == juice_id))
        ).scalar_one()
        assert amount == 2990
        outbox = (
            (await session.execute(select(OutboxEvent.entity_id).order_by(OutboxEvent.id)))
            .scalars()
            .all()
        )
        assert outbox[-1] == juice_id and len(outbox) == counts["outbox_events"] + 1
        assert dict((await session.execute(select(Product.id, Product.updated_at))).all()) == stamps


# ---------------------------------------------------------------------------------------------
# Bad rows


async def test_a_malformed_json_line_in_the_middle_does_not_stop_the_rest(
    db: Database, tmp_path: Path
) -> None:
    codes = [fresh_ean13() for _ in range(6)]
    rows: list[dict[str, Any] | str] = [off_row(c) for c in codes[:3]]
    rows += ['{"code": "7038010009457", "product_name": "Halv', "[1, 2]", ""]
    rows += [off_row(c) for c in codes[3:]]
    path = write_jsonl(tmp_path / "a.jsonl", rows)

    report = await import_file(db, path, batch_size=2)

    assert (report.rows, report.created, report.rejected) == (8, 6, 2)
    assert read_report(path.with_suffix(".report.csv")) == {4: "malformed", 5: "malformed"}
    for code in codes:
        await product_id_for(db, code)


@pytest.mark.parametrize(
    "bad_cells",
    ['"Brød med "frø,29.90,extra', '"Brød med frø,29.90'],
    ids=["quote-inside-cell", "quote-never-closed"],
)
async def test_a_stray_quote_in_a_csv_costs_only_its_own_row(
    db: Database, tmp_path: Path, bad_cells: str
) -> None:
    good = [fresh_ean13() for _ in range(4)]
    path = tmp_path / "a.csv"
    path.write_text(
        "gtin,name,price\n"
        f"{good[0]},Melk,24.90\n"
        f"{good[1]},Juice,19.90\n"
        f"{fresh_ean13()},{bad_cells}\n"
        f'{good[2]},"Ost, hvit",89.90\n'
        f"{good[3]},Smør,54.90\n",
        encoding="utf-8",
    )

    report = await import_file(db, path)

    assert (report.created, report.rejected) == (4, 1)
    assert read_report(path.with_suffix(".report.csv")) == {4: "malformed"}
    for code in good:
        await product_id_for(db, code)


async def test_a_quoted_csv_cell_may_span_lines(db: Database, tmp_path: Path) -> None:
    first, second = fresh_ean13(), fresh_ean13()
    path = tmp_path / "a.csv"
    path.write_text(
        f'gtin,name,description\n{first},Melk,"Frisk melk.\nFra Tine."\n{second},Juice,\n',
        encoding="utf-8",
    )

    report = await import_file(db, path)

    assert (report.rows, report.created, report.rejected) == (2, 2, 0)
    async with db.transaction(write=False) as session:
        product = await session.get(Product, await product_id_for(db, first))
        assert product is not None and product.description == "Frisk melk.\nFra Tine."


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ({"gtin": "7038010009450"}, "gtin_check_digit"),
        ({"gtin": "70380100094"}, "gtin_length"),
        ({"gtin": "70380100O9457"}, "gtin_characters"),
        ({"gtin": ""}, "gtin_empty"),
        ({"name": "  "}, "missing_name"),
        ({"price": "24.9.0"}, "bad_price"),
        ({"price": "gratis"}, "bad_price"),
        ({"price": "-5"}, "bad_price"),
        ({"price": "24.999"}, "bad_price"),
        ({"currency": "kroner"}, "bad_currency"),
        ({"campaign_price": "19.90"}, "bad_campaign"),
        (
            {"campaign_name": "Tilbud", "campaign_price": "19.90", "campaign_ends_at": "snart"},
            "bad_campaign",
        ),
        ({"stock:online": "-1"}, "bad_stock"),
        ({"stock:online": "2.5"}, "bad_stock"),
        ({"stock:OSL-STORO": "4"}, "unknown_store"),
        ({"image_url": "javascript:alert(1)"}, "bad_image_url"),
        ({"name": "x" * 301}, "field_too_long"),
    ],
)
async def test_bad_csv_rows_are_reported_with_their_reason(
    db: Database, tmp_path: Path, cells: dict[str, str], reason: str
) -> None:
    await add_online_warehouse(db)  # no store OSL-STORO exists
    ok = fresh_ean13()
    bad = {"gtin": fresh_ean13(), "name": "Melk", "price": "24.90", **cells}
    path = write_csv(
        tmp_path / "a.csv", [bad, {"gtin": ok, "name": "Juice", "stock:OSL-STORO": ""}]
    )

    report = await import_file(db, path)

    assert (report.rows, report.created, report.rejected) == (2, 1, 1)
    assert report.rejected_by_reason == {reason: 1}
    assert read_report(path.with_suffix(".report.csv")) == {2: reason}
    await product_id_for(db, ok)


async def test_a_line_that_is_not_utf8_is_rejected_as_encoding(
    db: Database, tmp_path: Path
) -> None:
    ok = fresh_ean13()
    path = tmp_path / "a.jsonl"
    path.write_bytes(
        json.dumps(off_row(fresh_ean13(), "Sm\u00f8r")).encode().replace(b"\\u00f8", b"\xf8")
        + b"\n"
        + json.dumps(off_row(ok)).encode()
        + b"\n"
    )

    report = await import_file(db, path)

    assert read_report(path.with_suffix(".report.csv")) == {1: "encoding"}
    assert (report.created, report.rejected) == (1, 1)


async def test_stock_below_what_is_reserved_is_rejected(db: Database, tmp_path: Path) -> None:
    _, oslo = await add_store(db, "OSL-STORO")
    code = fresh_ean13()
    await import_file(
        db, write_csv(tmp_path / "a.csv", [{"gtin": code, "name": "Melk", "stock:OSL-STORO": "5"}])
    )
    pid = await product_id_for(db, code)
    async with db.transaction() as session:
        level = await session.get(StockLevel, (oslo, pid))
        assert level is not None
        level.reserved = 4

    report = await import_file(
        db, write_csv(tmp_path / "b.csv", [{"gtin": code, "name": "Melk", "stock:OSL-STORO": "3"}])
    )

    assert report.rejected_by_reason == {"stock_below_reserved": 1}
    async with db.transaction(write=False) as session:
        level = await session.get(StockLevel, (oslo, pid))
        assert level is not None and (level.on_hand, level.reserved) == (5, 4)


async def test_a_new_product_whose_sku_is_taken_is_rejected(db: Database, tmp_path: Path) -> None:
    code = fresh_ean13()
    async with db.transaction() as session:
        session.add(Product(sku=code, name="Handmade", categories=[], attributes={}))
    path = write_jsonl(tmp_path / "a.jsonl", [off_row(code), off_row(fresh_ean13())])

    report = await import_file(db, path)

    assert (report.created, report.rejected) == (1, 1)
    assert read_report(path.with_suffix(".report.csv")) == {1: "sku_conflict"}


async def test_files_that_cannot_be_read_at_all_raise_invalid_input(
    db: Database, tmp_path: Path
) -> None:
    no_name = write_csv(tmp_path / "a.csv", [{"gtin": fresh_ean13()}], header=["gtin"])
    array = tmp_path / "b.json"
    array.write_text(json.dumps([off_row(fresh_ean13())]), encoding="utf-8")

    with pytest.raises(InvalidInput, match="name"):
        await import_file(db, no_name)
    with pytest.raises(InvalidInput, match="JSON array"):
        await import_file(db, array)
    with pytest.raises(InvalidInput, match="format"):
        await import_file(db, tmp_path / "c.xlsx")


async def test_progress_counts_the_bytes_read_after_each_batch(
    db: Database, tmp_path: Path
) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [off_row(fresh_ean13()) for _ in range(5)])
    ends = list(itertools.accumulate(len(line) for line in path.read_bytes().splitlines(True)))
    calls: list[tuple[int, int]] = []

    await import_file(
        db, path, batch_size=2, on_progress=lambda done, total: calls.append((done, total))
    )

    assert calls == [(ends[1], ends[4]), (ends[3], ends[4]), (ends[4], ends[4])]


# ---------------------------------------------------------------------------------------------
# Demo data


async def test_seed_demo_twice_creates_everything_once(db: Database, tmp_path: Path) -> None:
    settings = settings_for(db, tmp_path)
    first = await seed_demo(db, settings)
    counts = await table_counts(db)

    second = await seed_demo(db, settings)

    assert first.seeded and not second.seeded
    assert first.stores == counts["stores"] == 4
    assert counts["stock_locations"] == 5
    assert first.products is not None and first.products.rejected == 0
    assert first.products.created == counts["products"] == first.prices == counts["prices"]
    assert counts["products"] > 1_500
    assert counts["campaigns"] == 3
    assert await table_counts(db) == counts


async def test_demo_shows_stock_cases_campaign_windows_and_prices(
    db: Database, tmp_path: Path
) -> None:
    await seed_demo(db, settings_for(db, tmp_path))
    async with db.transaction(write=False) as session:
        store_ids = dict((await session.execute(select(Store.code, Store.id))).all())
        milk = await catalog.product_by_gtin(session, parse_gtin("7025110118769"))
        nutella = await catalog.product_by_gtin(session, parse_gtin("3017620422003"))
        cola = await catalog.product_by_gtin(session, parse_gtin("5449000000996"))
        assert milk is not None and nutella is not None and cola is not None
        stock = await catalog.stock_by_product(session, [milk.id])
        prices = await pricing.unit_prices(session, [nutella.id, cola.id], "NOK")
        everywhere = await _stock_shapes(session)

    by_store = {f.store_id: f.available for f in stock[milk.id]}
    assert by_store[store_ids["OSL-STORO"]] == 0
    assert by_store[None] > 0
    assert prices[nutella.id].campaign is not None
    assert prices[nutella.id].campaign.name == "Ukens tilbud"
    assert (
        0.70 * prices[nutella.id].regular
        <= prices[nutella.id].current
        <= 0.85 * prices[nutella.id].regular
    )
    assert prices[cola.id].current == prices[cola.id].regular and prices[cola.id].campaign is None
    assert everywhere["out_here_online"] > 50
    assert everywhere["low"] > 50
    assert everywhere["in_every_store"] > 500


async def _stock_shapes(session: AsyncSession) -> Counter[str]:
    """Count products by stock shape: out in a store but online, low in a store, everywhere."""
    levels: dict[int, list[tuple[bool, int]]] = {}
    rows = await session.execute(
        select(StockLevel.product_id, StockLevel.location_id, StockLevel.on_hand)
    )
    online = set(
        (await session.execute(select(StockLocation.id).where(StockLocation.online))).scalars()
    )
    for product_id, location_id, on_hand in rows:
        levels.setdefault(product_id, []).append((location_id in online, on_hand))
    shapes: Counter[str] = Counter()
    for figures in levels.values():
        stores = [n for is_online, n in figures if not is_online]
        web = [n for is_online, n in figures if is_online]
        if 0 in stores and any(web):
            shapes["out_here_online"] += 1
        if any(0 < n <= 3 for n in stores):
            shapes["low"] += 1
        if all(n > 3 for n in stores):
            shapes["in_every_store"] += 1
    return shapes
