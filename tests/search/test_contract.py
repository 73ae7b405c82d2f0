"""The behaviour every search engine shares, run against each engine.

The embedded engine always runs; Meilisearch runs when ``OMNICART_TEST_MEILI_URL`` names a
server (``OMNICART_TEST_MEILI_API_KEY`` for its key), each test in a fresh index of its own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from itertools import count
from pathlib import Path

import pytest
from stdnum import ean

from search.documents import ProductDocument
from search.embedded import EmbeddedEngine
from search.engine import (
    QueryTooLong,
    SearchEngine,
    SearchEngineUnavailable,
    SearchRequest,
    SearchResponse,
)
from search.meili import MeiliEngine

MEILI_URL = os.environ.get("OMNICART_TEST_MEILI_URL")
MEILI_KEY = os.environ.get("OMNICART_TEST_MEILI_API_KEY")
RUN_ID = uuid.uuid4().hex[:8]
_index_numbers = count()


def printed_forms(code: str) -> list[str]:
    """Return the 14-, 13-, 12- and 8-digit forms of a valid GTIN, as the server fills them."""
    assert ean.is_valid(code), code
    core = code.lstrip("0")
    return [core.zfill(width) for width in (14, 13, 12, 8) if len(core) <= width]


EAN8_GUM = "57409009"
EAN13_SMOR = "5740900900011"  # starts with the gum's EAN-8
UPC_A_PEANUT = "037600110754"


def product(
    id: int,
    name: str,
    *,
    brand: str | None = None,
    categories: tuple[str, ...] = (),
    barcodes: list[str] | None = None,
    price: int = 1000,
    stores: tuple[int, ...] = (),
    online: bool = False,
) -> ProductDocument:
    return ProductDocument(
        id=id,
        name=name,
        brand=brand,
        categories=list(categories),
        barcodes=barcodes or [],
        price=price,
        currency="DKK",
        in_stock_at=list(stores),
        in_stock_online=online,
    )


def catalogue() -> list[ProductDocument]:
    dairy = "Mejeri"
    return [
        product(1, "Smør", brand="Lurpak", categories=(dairy, "Smør"),
                barcodes=printed_forms(EAN13_SMOR), price=2995, stores=(1,), online=True),
        product(2, "Skummetmælk", brand="Arla", categories=(dairy, "Mælk"),
                barcodes=printed_forms("5740900400016"), price=1195, stores=(1, 2), online=True),
        # Only the 13-digit form indexed: other printed forms must still find it.
        product(3, "Knäckebröd sesam", brand="Wasa", categories=("Brød", "Knækbrød"),
                barcodes=["7310120000013"], price=2500, stores=(2,)),
        product(4, "Kungsörnen Färdiggräddade Pannkakor", brand="Kungsörnen",
                categories=("Frost", "Pandekager"), barcodes=printed_forms("7310311000075"),
                price=3495, online=True),
        product(5, "Smørbar", brand="Arla", categories=(dairy, "Smør"),
                barcodes=printed_forms("5740900400023"), price=2195, stores=(2,), online=True),
        product(6, "Letmælk", brand="Arla", categories=(dairy, "Mælk"),
                barcodes=printed_forms("5740900500037"), price=1095, stores=(1,)),
        product(7, "Sødmælk", brand="Thise", categories=(dairy, "Mælk"),
                barcodes=printed_forms("5901234123457"), price=1295, online=True),
        product(8, "Mørk chokolade 70%", brand="Anthon Berg", categories=("Slik", "Chokolade"),
                barcodes=printed_forms("6411000000015"), price=2500, stores=(1,), online=True),
        product(9, "Peanut Butter Creamy", brand="Skippy", categories=("Pålæg", "Peanutbutter"),
                barcodes=printed_forms(UPC_A_PEANUT), price=3995, online=True),
        product(10, "Tyggegummi Mint", brand="Stimorol", categories=("Slik", "Tyggegummi"),
                barcodes=printed_forms(EAN8_GUM), price=1500, stores=(1, 2), online=True),
        product(11, "Ben & Jerry's <Cookie Dough>", brand="Ben & Jerry's",
                categories=("Frost", "Is"), barcodes=printed_forms("5000159000017"),
                price=4995, stores=(2,)),
        product(12, "Minimælk", brand="Arla", categories=(dairy, "Mælk"),
                barcodes=printed_forms("5000159000024"), price=1195, stores=(2,), online=True),
        product(13, "Økologisk letmælk", brand="Thise", categories=(dairy, "Mælk"),
                barcodes=printed_forms("5701234000075"), price=1395, stores=(1,), online=True),
    ]  # fmt: skip


def by_id(doc_id: int) -> ProductDocument:
    return next(doc for doc in catalogue() if doc.id == doc_id)


@pytest.fixture(params=["embedded", pytest.param("meilisearch", marks=pytest.mark.meili)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SearchEngine]:
    if request.param == "embedded":
        embedded = EmbeddedEngine(tmp_path / "search")
        await embedded.ensure_ready()
        yield embedded
        await embedded.close()
        return
    if not MEILI_URL:
        # The one run allowed to skip, also under CI=true: no Meilisearch server is provided.
        pytest.skip(
            "Meilisearch contract run: set OMNICART_TEST_MEILI_URL=http://HOST:7700 "
            "(and OMNICART_TEST_MEILI_API_KEY) to run it"
        )
    index_uid = f"omnicart_test_{RUN_ID}_{next(_index_numbers)}"
    meili = MeiliEngine(MEILI_URL, MEILI_KEY, index_uid=index_uid)
    await meili.ensure_ready()
    try:
        yield meili
    finally:
        await meili.close()
        cleanup = MeiliEngine(MEILI_URL, MEILI_KEY, index_uid=index_uid)
        await cleanup.delete_index()
        await cleanup.close()


@pytest.fixture
async def shop(engine: SearchEngine) -> SearchEngine:
    await engine.index(catalogue())
    return engine


async def ids(engine: SearchEngine, query: str = "", **options: object) -> list[int]:
    response = await engine.search(SearchRequest(query=query, limit=50, **options))  # type: ignore[arg-type]
    return [hit.id for hit in response.hits]


async def search(engine: SearchEngine, query: str = "", **options: object) -> SearchResponse:
    return await engine.search(SearchRequest(query=query, **options))  # type: ignore[arg-type]


# -- words, folding, typos -------------------------------------------------------------------


async def test_exact_word_ranks_before_prefix_match(shop: SearchEngine) -> None:
    assert await ids(shop, "smør") == [1, 5]


@pytest.mark.parametrize("query", ["smor", "smør", "Smør", "SMØR"])
async def test_case_and_nordic_letters_are_folded(shop: SearchEngine, query: str) -> None:
    assert await ids(shop, query) == [1, 5]


@pytest.mark.parametrize("query", ["knackebrod", "Knäckebröd", "KNÄCKEBRÖD sesam"])
async def test_swedish_letters_fold_to_their_base_letter(shop: SearchEngine, query: str) -> None:
    assert await ids(shop, query) == [3]


async def test_ae_ligature_folds_to_ae(shop: SearchEngine) -> None:
    assert await ids(shop, "sodmaelk") == [7]


@pytest.mark.parametrize("query", ["jerrys", "Jerry's", "jerry’s", "jerry cookie"])
async def test_possessive_brands_match_with_or_without_apostrophe(
    shop: SearchEngine, query: str
) -> None:
    assert await ids(shop, query) == [11]


async def test_last_word_matches_as_prefix_from_three_letters(shop: SearchEngine) -> None:
    assert await ids(shop, "kun") == [4]


async def test_only_the_last_word_is_a_prefix(shop: SearchEngine) -> None:
    assert await ids(shop, "kungsornen pannk") == [4]
    assert await ids(shop, "pannk kungsornen") == []


async def test_every_word_must_match(shop: SearchEngine) -> None:
    assert await ids(shop, "arla smør") == [5]


async def test_words_under_five_letters_allow_no_typo(shop: SearchEngine) -> None:
    assert await ids(shop, "smer") == []


async def test_five_letter_query_word_allows_one_typo(shop: SearchEngine) -> None:
    # The budget counts the query word ("smoor", 5 letters), not the indexed word ("smør").
    assert await ids(shop, "smoor") == [1, 5]


async def test_one_typo_from_five_letters(shop: SearchEngine) -> None:
    assert await ids(shop, "lurpek") == [1]


async def test_transposition_counts_as_one_typo(shop: SearchEngine) -> None:
    assert await ids(shop, "lurpka") == [1]


async def test_two_typos_need_nine_letters(shop: SearchEngine) -> None:
    assert await ids(shop, "lyrpek") == []
    assert await ids(shop, "skumetmelk") == [2]


async def test_three_typos_never_match(shop: SearchEngine) -> None:
    assert await ids(shop, "skumetmalc") == []


async def test_brand_words_match(shop: SearchEngine) -> None:
    assert await ids(shop, "arla") == [2, 5, 6, 12]


async def test_category_words_match(shop: SearchEngine) -> None:
    assert await ids(shop, "mælk") == [2, 6, 7, 12, 13]


async def test_empty_query_lists_everything_by_id(shop: SearchEngine) -> None:
    assert await ids(shop, "  ") == list(range(1, 14))


# -- barcodes --------------------------------------------------------------------------------


@pytest.mark.parametrize("code", printed_forms(UPC_A_PEANUT))
async def test_upc_a_found_in_every_printed_form(shop: SearchEngine, code: str) -> None:
    assert await ids(shop, code) == [9]


@pytest.mark.parametrize("code", ["7310120000013", "07310120000013", "731-0120-000013"])
async def test_full_barcode_found_even_in_a_form_not_indexed(shop: SearchEngine, code: str) -> None:
    assert await ids(shop, code) == [3]


async def test_exact_barcode_ranks_before_longer_codes_starting_with_it(
    shop: SearchEngine,
) -> None:
    assert await ids(shop, EAN8_GUM) == [10, 1]


async def test_partial_barcode_matches_by_prefix(shop: SearchEngine) -> None:
    assert await ids(shop, "574090") == [1, 2, 5, 6, 10]


async def test_partial_barcode_may_contain_spaces(shop: SearchEngine) -> None:
    assert await ids(shop, "5740 9004") == [2, 5]


async def test_barcode_is_never_matched_fuzzily(shop: SearchEngine) -> None:
    assert await ids(shop, "5740900400019") == []
    assert await ids(shop, "57419") == []


async def test_three_digits_are_not_a_barcode_query(shop: SearchEngine) -> None:
    assert await ids(shop, "574") == []


async def test_barcode_query_respects_filters(shop: SearchEngine) -> None:
    assert await ids(shop, "574090", in_stock_at=1) == [1, 2, 6, 10]


async def test_barcode_page_spans_exact_and_prefix_matches(shop: SearchEngine) -> None:
    response = await search(shop, EAN8_GUM, offset=1, limit=1)
    assert ([hit.id for hit in response.hits], response.total) == ([1], 2)


OWN_BREAD = "2012345000001"  # the chain's own code (prefix 20), e.g. bread baked in store
OWN_RCN8 = "21234569"  # an RCN-8 (prefix 2)


@pytest.fixture
async def shop_with_own_codes(engine: SearchEngine) -> SearchEngine:
    await engine.index(
        [
            *catalogue(),
            product(20, "Grovbrød fra bakeriet", barcodes=printed_forms(OWN_BREAD), price=3990),
            product(21, "Wienerbrød", barcodes=printed_forms(OWN_RCN8), price=1990),
        ]
    )
    return engine


@pytest.mark.parametrize(
    ("code", "expected"),
    [(OWN_BREAD, [20]), ("0" + OWN_BREAD, [20]), (OWN_RCN8, [21]), ("0000021234569", [21])],
)
async def test_the_chains_own_codes_are_found_exactly(
    shop_with_own_codes: SearchEngine, code: str, expected: list[int]
) -> None:
    assert await ids(shop_with_own_codes, code) == expected


async def test_the_chains_own_codes_are_found_by_prefix_and_never_fuzzily(
    shop_with_own_codes: SearchEngine,
) -> None:
    assert await ids(shop_with_own_codes, "2012 345") == [20]
    assert await ids(shop_with_own_codes, "2123") == [21]
    assert await ids(shop_with_own_codes, "2012345000002") == []


# -- filters ---------------------------------------------------------------------------------


async def test_filter_by_category(shop: SearchEngine) -> None:
    assert await ids(shop, categories=["Mælk"]) == [2, 6, 7, 12, 13]


async def test_category_filter_is_folded(shop: SearchEngine) -> None:
    assert await ids(shop, categories=["maelk"]) == [2, 6, 7, 12, 13]


async def test_categories_in_one_filter_are_alternatives(shop: SearchEngine) -> None:
    assert await ids(shop, categories=["Mælk", "Smør"]) == [1, 2, 5, 6, 7, 12, 13]


async def test_filter_by_brand(shop: SearchEngine) -> None:
    assert await ids(shop, brands=["Arla"]) == [2, 5, 6, 12]


async def test_different_filters_all_apply(shop: SearchEngine) -> None:
    assert await ids(shop, categories=["Mælk"], brands=["Arla"]) == [2, 6, 12]


async def test_price_range_is_inclusive(shop: SearchEngine) -> None:
    assert await ids(shop, price_min=1195, price_max=2500) == [2, 3, 5, 7, 8, 10, 12, 13]


async def test_filter_in_stock_at_store(shop: SearchEngine) -> None:
    assert await ids(shop, in_stock_at=2) == [2, 3, 5, 10, 11, 12]


async def test_store_without_stock_finds_nothing(shop: SearchEngine) -> None:
    assert await ids(shop, in_stock_at=3) == []


async def test_text_query_with_store_filter(shop: SearchEngine) -> None:
    assert await ids(shop, "mælk", in_stock_at=1) == [2, 6, 13]


# -- facets, totals, sorting, paging ---------------------------------------------------------


async def test_facet_counts_over_all_matches(shop: SearchEngine) -> None:
    response = await search(shop, limit=2)
    assert response.total == 13
    assert response.facets == {
        "brand": [
            ("Arla", 4), ("Thise", 2), ("Anthon Berg", 1), ("Ben & Jerry's", 1),
            ("Kungsörnen", 1), ("Lurpak", 1), ("Skippy", 1), ("Stimorol", 1), ("Wasa", 1),
        ],
        "category": [
            ("Mejeri", 7), ("Mælk", 5), ("Frost", 2), ("Slik", 2), ("Smør", 2), ("Brød", 1),
            ("Chokolade", 1), ("Is", 1), ("Knækbrød", 1), ("Pandekager", 1),
            ("Peanutbutter", 1), ("Pålæg", 1), ("Tyggegummi", 1),
        ],
    }  # fmt: skip


async def test_facet_counts_follow_the_query(shop: SearchEngine) -> None:
    response = await search(shop, "mælk")
    assert response.facets == {
        "brand": [("Arla", 3), ("Thise", 2)],
        "category": [("Mejeri", 5), ("Mælk", 5)],
    }


async def test_facet_counts_follow_the_filters(shop: SearchEngine) -> None:
    response = await search(shop, brands=["Arla"], facets=("category",))
    assert response.facets == {"category": [("Mejeri", 4), ("Mælk", 3), ("Smør", 1)]}


async def test_facet_counts_of_a_barcode_prefix(shop: SearchEngine) -> None:
    response = await search(shop, "574090", facets=("brand",))
    assert response.facets == {"brand": [("Arla", 3), ("Lurpak", 1), ("Stimorol", 1)]}


async def test_brand_spellings_are_one_facet_value_and_one_filter(engine: SearchEngine) -> None:
    await engine.index([
        product(21, "Kinder Bueno", brand="Ferrero"),
        product(22, "Nutella", brand="ferrero"),
        product(23, "Rocher", brand="Ferrero"),
        product(24, "Tic Tac", brand="FERRERO"),
        product(25, "Raffaello", brand="ferrero"),
        product(26, "Smør", brand="Lurpak"),
    ])  # fmt: skip

    response = await search(engine, facets=("brand",))

    assert response.facets == {"brand": [("Ferrero", 5), ("Lurpak", 1)]}
    assert await ids(engine, brands=["ferrero"]) == [21, 22, 23, 24, 25]
    assert await ids(engine, brands=["FERRERO"], sort="name") == [21, 22, 25, 23, 24]


async def test_a_tied_brand_spelling_shows_the_capitalised_one(engine: SearchEngine) -> None:
    await engine.index(
        [product(31, "Nutella", brand="ferrero"), product(32, "Rocher", brand="Ferrero")]
    )

    response = await search(engine, facets=("brand",))

    assert response.facets == {"brand": [("Ferrero", 2)]}


async def test_no_match_has_zero_total_and_empty_facets(shop: SearchEngine) -> None:
    response = await search(shop, "xylofon")
    assert (response.hits, response.total, response.facets) == (
        [],
        0,
        {"brand": [], "category": []},
    )


async def test_sort_by_price_ascending_ties_by_id(shop: SearchEngine) -> None:
    assert await ids(shop, sort="price_asc") == [6, 2, 12, 7, 13, 10, 5, 3, 8, 1, 4, 9, 11]


async def test_sort_by_price_descending_ties_by_id(shop: SearchEngine) -> None:
    assert await ids(shop, sort="price_desc") == [11, 9, 4, 1, 3, 8, 5, 10, 13, 7, 2, 12, 6]


async def test_sort_by_folded_name(shop: SearchEngine) -> None:
    assert await ids(shop, sort="name") == [11, 3, 4, 6, 12, 8, 13, 9, 2, 1, 5, 7, 10]


async def test_sort_applies_to_text_matches(shop: SearchEngine) -> None:
    assert await ids(shop, "mælk", sort="price_asc") == [6, 2, 12, 7, 13]


async def test_pages_are_stable_and_complete(shop: SearchEngine) -> None:
    pages = [await search(shop, offset=offset, limit=5) for offset in (0, 5, 10)]
    assert [[hit.id for hit in page.hits] for page in pages] == [
        [1, 2, 3, 4, 5],
        [6, 7, 8, 9, 10],
        [11, 12, 13],
    ]
    assert [page.total for page in pages] == [13, 13, 13]


async def test_page_may_start_anywhere(shop: SearchEngine) -> None:
    response = await search(shop, "mælk", offset=3, limit=2)
    assert ([hit.id for hit in response.hits], response.total) == ([12, 13], 5)


async def test_equally_relevant_hits_page_by_id(shop: SearchEngine) -> None:
    pages = [await search(shop, "arla", offset=offset, limit=3) for offset in (0, 3)]
    assert [[hit.id for hit in page.hits] for page in pages] == [[2, 5, 6], [12]]


# -- highlights ------------------------------------------------------------------------------


async def test_highlight_marks_matched_words_including_prefixes(shop: SearchEngine) -> None:
    response = await search(shop, "smør")
    assert [hit.highlight for hit in response.hits] == ["<mark>Smør</mark>", "<mark>Smørbar</mark>"]


async def test_highlight_marks_typo_matches(shop: SearchEngine) -> None:
    response = await search(shop, "chokolde")
    assert [hit.highlight for hit in response.hits] == ["Mørk <mark>chokolade</mark> 70%"]


async def test_highlight_escapes_html(shop: SearchEngine) -> None:
    response = await search(shop, "cookie")
    assert [hit.highlight for hit in response.hits] == [
        "Ben &amp; Jerry&#x27;s &lt;<mark>Cookie</mark> Dough&gt;"
    ]


async def test_barcode_hits_have_no_highlight(shop: SearchEngine) -> None:
    response = await search(shop, UPC_A_PEANUT)
    assert [hit.highlight for hit in response.hits] == [None]


# -- writes, reads, errors -------------------------------------------------------------------


async def test_indexing_a_known_id_replaces_the_document(shop: SearchEngine) -> None:
    await shop.index([product(1, "Smør usaltet", brand="Lurpak")])
    assert (await ids(shop, "usaltet"), await ids(shop, "smør"), await shop.count()) == (
        [1],
        [1, 5],
        13,
    )


async def test_deleted_documents_are_not_found(shop: SearchEngine) -> None:
    await shop.delete([1, 5, 999])
    assert (await ids(shop, "smør"), await shop.count()) == ([], 11)


async def test_clear_removes_everything(shop: SearchEngine) -> None:
    await shop.clear()
    response = await search(shop)
    assert (await shop.count(), response.total, response.facets) == (
        0,
        0,
        {"brand": [], "category": []},
    )


async def test_get_returns_the_indexed_document(shop: SearchEngine) -> None:
    assert (await shop.get(9), await shop.get(999)) == (by_id(9), None)


async def test_health_reports_documents(shop: SearchEngine) -> None:
    health = await shop.health()
    assert (health.ok, health.documents) == (True, 13)


async def test_query_longer_than_200_characters_is_refused(shop: SearchEngine) -> None:
    assert len(await ids(shop, "smør " + "x" * 195)) == 0
    with pytest.raises(QueryTooLong, match="201 characters long; at most 200"):
        await search(shop, "smør " + "x" * 196)


async def test_closed_engine_is_unavailable(engine: SearchEngine) -> None:
    await engine.close()
    with pytest.raises(SearchEngineUnavailable):
        await search(engine, "smør")
    assert (await engine.health()).ok is False


# -- alternatives ----------------------------------------------------------------------------


async def test_alternatives_rank_store_stock_then_online_then_similarity(
    shop: SearchEngine,
) -> None:
    # Same category (Mælk) first: in stock at store 1 (13 also online, then 6), then online
    # (12 shares the brand Arla with 2, 7 does not), then the parent category (Mejeri).
    assert await shop.similar(by_id(2), store_id=1, limit=5) == [13, 6, 12, 7, 1]


async def test_alternatives_never_include_the_product(shop: SearchEngine) -> None:
    assert await shop.similar(by_id(2), store_id=1, limit=20) == [13, 6, 12, 7, 1, 5]


async def test_alternatives_depend_on_the_store(shop: SearchEngine) -> None:
    assert await shop.similar(by_id(2), store_id=2, limit=4) == [12, 7, 13, 6]


async def test_alternatives_without_store_rank_online_then_similarity_then_price(
    shop: SearchEngine,
) -> None:
    assert await shop.similar(by_id(2), store_id=None, limit=4) == [12, 7, 13, 6]


async def test_alternatives_fill_up_from_the_parent_category(shop: SearchEngine) -> None:
    assert await shop.similar(by_id(1), store_id=1, limit=6) == [5, 13, 2, 6, 7, 12]


async def test_product_without_category_has_no_alternatives(shop: SearchEngine) -> None:
    assert await shop.similar(product(99, "Mælk"), store_id=1, limit=5) == []
