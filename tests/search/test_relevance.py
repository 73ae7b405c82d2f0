"""Relevance on real products: the committed Open Food Facts test sample in the embedded engine.

Each query was written from the data (a product picked from the file, then a typo'd, partial,
folded or barcode query derived from its row), never from the engine's output; the product
(named by its barcode as printed in the file) must be among the first three hits. The sample
keeps, for every query, the products that compete for its first places in the full 11,147-row
catalog it was cut from (``tests/data/README.md``), so a pass here is not an easy win.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from stdnum import ean

from search.documents import ProductDocument
from search.embedded import EmbeddedEngine
from search.engine import SearchRequest
from tests.data import OFF_SAMPLE, OFF_SAMPLE_ROWS

pytestmark = pytest.mark.asyncio(loop_scope="module")


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
    lines = OFF_SAMPLE.read_text(encoding="utf-8").splitlines()
    docs = [document(number, json.loads(line)) for number, line in enumerate(lines, start=1)]
    engine = EmbeddedEngine(tmp_path_factory.mktemp("off") / "search")
    await engine.index(docs)
    yield engine
    await engine.close()


async def top3(engine: EmbeddedEngine, query: str) -> list[str]:
    """Return the barcodes (as printed in the sample) of the first three hits for ``query``."""
    response = await engine.search(SearchRequest(query=query, limit=3, facets=()))
    return [await code_of(engine, hit.id) for hit in response.hits]


async def code_of(engine: EmbeddedEngine, doc_id: int) -> str:
    """Return the sample's printed barcode of an indexed document (its first barcode form)."""
    doc = await engine.get(doc_id)
    assert doc is not None, doc_id
    return doc.barcodes[0]


async def test_the_whole_sample_is_indexed(catalog: EmbeddedEngine) -> None:
    assert await catalog.count() == OFF_SAMPLE_ROWS


# (query, barcode of the product as printed in the sample, what the query exercises)
NORDIC_NAMES = [
    ("halonsylt", "7310770219421", "Hallonsylt Lågkalori: one letter missing"),
    ("hallonsylt lagkal", "7310770219421", "Hallonsylt Lågkalori: å typed as a, last word partial"),
    ("kungsörnen pannkak", "7310130010866", "Kungsörnen Färdiggräddade Pannkakor: partial"),
    ("kungsornen fardiggradade", "7310130010866", "Kungsörnen Färdiggräddade …: folded, d missing"),
    ("knäkebröd sesam", "8718452617302", "Knäckebröd sesam: c missing"),
    ("filmjolk jordgub", "7310865088222", "Filmjölk jordgubb: folded, partial"),
    ("skumetmælk", "5700426101415", "Skummetmælk: m missing"),
    ("sodmaelk thise", "5701975301004", "Thise Sødmælk økologisk: ø/æ as o/ae, swapped"),
    ("frisktapet sødm", "5700426101019", "Frisktappet Sødmælk 3,5%: typo and partial"),
    ("gronkalsbular", "7310960031628", "Dafgårds Ekologiska Grönkålsbullar: folded, l missing"),
    ("jalotofu kylmä", "6416419130520", "Jalotofu Kylmäsavu: partial Finnish word"),
    ("okologisk chufa", "5700002010407", "Økologisk Chufa: Ø typed as O"),
    ("sprode gulerod", "5700381121862", "Sprøde Gulerødder: folded, partial"),
    ("leverpostj", "5707196177053", "Gøl Jule leverpostej: e missing"),
    ("krogarpyt klassisk", "7310240075496", "Felix Krögarpytt Klassisk: folded, t missing"),
    ("fjälfil", "7310861011057", "Fjällfil naturell: l missing"),
    ("dafgards karins lasagn", "7310960016489", "Dafgårds Karins Lasagne: folded, partial"),
]

BRANDS = [
    ("barila lasagne bolog", "8076809523738", "Barilla (l missing): Collezione Lasagne Bolognesi"),
    ("barilla pesto genov", "8076809574143", "Barilla: Sauce Pesto Genovese biologique"),
    ("kellogs corn flakes", "0038100212290", "Kellogg's (g missing, no apostrophe): Corn Flakes"),
    ("ferrero kinder bueno", "2000000055185", "ferrero: Kinder Bueno"),
    ("hacendado masa empanada", "8480000634764", "Hacendado: Masa fresca empanada"),
    ("lindt excelence sea salt", "0009542005184", "Lindt & Sprungli: Excellence … Sea Salt"),
    ("jalotofu", "6416419130520", "Jalotofu: brand only"),
]

BARCODES = [
    ("80051671", "80051671", "EAN-8, nutella Hazelnut Spread with Cocoa"),
    ("77953124", "77953124", "EAN-8, Cofler Block"),
    ("07432354", "07432354", "EAN-8 with a leading zero, Bubulubu"),
    ("00001816", "00001816", "EAN-8 that is mostly zeros, Trader Joe's bread"),
    ("858102007102", "858102007102", "UPC-A, Saro Taormina Pinto Beans"),
    ("121969151951", "121969151951", "UPC-A, bofrost Pizza radicchio e asiago"),
    ("021000646050", "0021000646050", "UPC-A of the stored EAN-13 0021000646050, Kraft dressing"),
    ("037600110754", "0037600110754", "UPC-A of the stored EAN-13 0037600110754, Skippy"),
    ("00037600110754", "0037600110754", "GTIN-14 form of the same Skippy code"),
    ("7310770219421", "7310770219421", "EAN-13, Hallonsylt Lågkalori"),
    ("7310 7702 19", "7310770219421", "partial EAN-13 with spaces"),
    ("57004261014", "5700426101415", "partial EAN-13, Skummetmælk"),
    ("0021000646", "0021000646050", "partial UPC-A/EAN-13, Kraft dressing"),
]


@pytest.mark.parametrize(
    ("query", "expected", "why"), NORDIC_NAMES, ids=[q for q, _, _ in NORDIC_NAMES]
)
async def test_nordic_names_typo_and_partial(
    catalog: EmbeddedEngine, query: str, expected: str, why: str
) -> None:
    assert expected in await top3(catalog, query), why


@pytest.mark.parametrize(("query", "expected", "why"), BRANDS, ids=[q for q, _, _ in BRANDS])
async def test_brands(catalog: EmbeddedEngine, query: str, expected: str, why: str) -> None:
    assert expected in await top3(catalog, query), why


@pytest.mark.parametrize(("query", "expected", "why"), BARCODES, ids=[q for q, _, _ in BARCODES])
async def test_barcodes(catalog: EmbeddedEngine, query: str, expected: str, why: str) -> None:
    assert expected in await top3(catalog, query), why


async def test_full_barcode_is_the_first_hit(catalog: EmbeddedEngine) -> None:
    assert (await top3(catalog, "7310770219421"))[0] == "7310770219421"
