"""Relevance on real products: the shared Open Food Facts sample in the embedded engine.

Each query was written from the data (a product picked from the file, then a typo'd, partial,
folded or barcode query derived from its row), never from the engine's output; the product
must be among the first three hits.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from stdnum import ean

from search.documents import ProductDocument
from search.embedded import EmbeddedEngine
from search.engine import SearchRequest

CATALOG = Path(__file__).resolve().parents[3] / "shared" / "catalog" / "off-products.jsonl"

pytestmark = [
    pytest.mark.skipif(not CATALOG.exists(), reason=f"the shared sample {CATALOG} is missing"),
    pytest.mark.asyncio(loop_scope="module"),
]


def label(category: str) -> str:
    """Turn an OFF taxonomy id ("en:plain-yogurts") into a readable label ("plain yogurts")."""
    prefix, _, rest = category.partition(":")
    return (rest if rest and len(prefix) == 2 else category).replace("-", " ").strip()


def barcodes(code: str) -> list[str]:
    """Return the row's code plus its zero-padded/unpadded GTIN forms when its check digit holds."""
    if len(code) not in (8, 12, 13, 14) or not ean.is_valid(code):
        return [code]
    core = code.lstrip("0")
    return list(dict.fromkeys([code, *(core.zfill(n) for n in (14, 13, 12, 8) if len(core) <= n)]))


def document(line_number: int, row: dict[str, object]) -> ProductDocument:
    categories = [label(str(c)) for c in row["categories"] or [] if c != "en:null"]  # type: ignore[attr-defined]
    return ProductDocument(
        id=line_number,
        name=str(row["product_name"]),
        brand=row["brands"],  # type: ignore[arg-type]
        categories=[c for c in categories if c],
        barcodes=barcodes(str(row["code"])),
        price=1000,
        currency="EUR",
        quantity=row["quantity"],  # type: ignore[arg-type]
        image_url=row["image_url"],  # type: ignore[arg-type]
    )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def catalog(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[EmbeddedEngine]:
    lines = CATALOG.read_text(encoding="utf-8").splitlines()
    docs = [document(number, json.loads(line)) for number, line in enumerate(lines, start=1)]
    engine = EmbeddedEngine(tmp_path_factory.mktemp("off") / "search")
    await engine.index(docs)
    yield engine
    await engine.close()


async def top3(engine: EmbeddedEngine, query: str) -> list[int]:
    response = await engine.search(SearchRequest(query=query, limit=3, facets=()))
    return [hit.id for hit in response.hits]


async def test_the_whole_sample_is_indexed(catalog: EmbeddedEngine) -> None:
    assert await catalog.count() == 11_147


# (query, line number of the product in off-products.jsonl, what the query exercises)
NORDIC_NAMES = [
    ("halonsylt", 10657, "Hallonsylt Lågkalori: one letter missing"),
    ("hallonsylt lagkal", 10657, "Hallonsylt Lågkalori: å typed as a, last word partial"),
    ("kungsörnen pannkak", 6753, "Kungsörnen Färdiggräddade Pannkakor: partial"),
    ("kungsornen fardiggradade", 6753, "Kungsörnen Färdiggräddade …: folded, one letter missing"),
    ("knäkebröd sesam", 3916, "Knäckebröd sesam: c missing"),
    ("filmjolk jordgub", 10689, "Filmjölk jordgubb: folded, partial"),
    ("skumetmælk", 10096, "Skummetmælk: m missing"),
    ("sodmaelk thise", 10144, "Thise Sødmælk økologisk: ø/æ typed as o/ae, words swapped"),
    ("frisktapet sødm", 10095, "Frisktappet Sødmælk 3,5%: typo and partial"),
    ("gronkalsbular", 10728, "Dafgårds Ekologiska Grönkålsbullar: folded, l missing"),
    ("jalotofu kylmä", 6511, "Jalotofu Kylmäsavu: partial Finnish word"),
    ("okologisk chufa", 10084, "Økologisk Chufa: Ø typed as O"),
    ("sprode gulerod", 10088, "Sprøde Gulerødder: folded, partial"),
    ("leverpostj", 10181, "Gøl Jule leverpostej: e missing"),
    ("krogarpyt klassisk", 10579, "Felix Krögarpytt Klassisk: folded, t missing"),
    ("fjälfil", 10664, "Fjällfil naturell: l missing"),
    ("dafgards karins lasagn", 10713, "Dafgårds Karins Lasagne: folded, partial"),
]

BRANDS = [
    ("barila lasagne bolog", 5566, "Barilla (one l missing): Collezione Lasagne Bolognesi"),
    ("barilla pesto genov", 5340, "Barilla: Sauce Pesto Genovese biologique"),
    ("kellogs corn flakes", 8010, "Kellogg's (g missing, no apostrophe): Corn Flakes"),
    ("ferrero kinder bueno", 6195, "ferrero: Kinder Bueno"),
    ("hacendado masa empanada", 2708, "Hacendado: Masa fresca empanada"),
    ("lindt excelence sea salt", 586, "Lindt & Sprungli: Excellence Dark Chocolate With Sea Salt"),
    ("jalotofu", 6511, "Jalotofu: brand only"),
]

BARCODES = [
    ("80051671", 1913, "EAN-8, nutella Hazelnut Spread with Cocoa"),
    ("77953124", 1969, "EAN-8, Cofler Block"),
    ("07432354", 1986, "EAN-8 with a leading zero, Bubulubu"),
    ("00001816", 880, "EAN-8 that is mostly zeros, Trader Joe's bread"),
    ("858102007102", 5084, "UPC-A, Saro Taormina Pinto Beans"),
    ("121969151951", 5094, "UPC-A, bofrost Pizza radicchio e asiago"),
    ("021000646050", 9370, "UPC-A of the stored EAN-13 0021000646050, Kraft dressing"),
    ("037600110754", 8543, "UPC-A of the stored EAN-13 0037600110754, Skippy"),
    ("00037600110754", 8543, "GTIN-14 form of the same Skippy code"),
    ("7310770219421", 10657, "EAN-13, Hallonsylt Lågkalori"),
    ("7310 7702 19", 10657, "partial EAN-13 with spaces"),
    ("57004261014", 10096, "partial EAN-13, Skummetmælk"),
    ("0021000646", 9370, "partial UPC-A/EAN-13, Kraft dressing"),
]


@pytest.mark.parametrize(
    ("query", "expected", "why"), NORDIC_NAMES, ids=[q for q, _, _ in NORDIC_NAMES]
)
async def test_nordic_names_typo_and_partial(
    catalog: EmbeddedEngine, query: str, expected: int, why: str
) -> None:
    assert expected in await top3(catalog, query), why


@pytest.mark.parametrize(("query", "expected", "why"), BRANDS, ids=[q for q, _, _ in BRANDS])
async def test_brands(catalog: EmbeddedEngine, query: str, expected: int, why: str) -> None:
    assert expected in await top3(catalog, query), why


@pytest.mark.parametrize(("query", "expected", "why"), BARCODES, ids=[q for q, _, _ in BARCODES])
async def test_barcodes(catalog: EmbeddedEngine, query: str, expected: int, why: str) -> None:
    assert expected in await top3(catalog, query), why


async def test_full_barcode_is_the_first_hit(catalog: EmbeddedEngine) -> None:
    assert (await top3(catalog, "7310770219421"))[0] == 10657
