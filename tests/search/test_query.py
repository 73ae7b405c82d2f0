"""How a typed query is understood, shared by both engines (``search.query``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from search.documents import ProductDocument, fold_text, index_words, words
from search.engine import QueryTooLong, SearchRequest
from search.query import (
    QueryPlan,
    QueryWord,
    barcode_forms,
    barcode_prefixes,
    highlight_name,
    plan_query,
    rank_alternatives,
    sorted_facet,
    split_page,
    typo_budget,
    word_matches,
)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Smør", "smor"),
        ("SKUMMETMÆLK", "skummetmaelk"),
        ("Knäckebröd", "knackebrod"),
        ("Blåbær", "blabaer"),
        ("Crème brûlée", "creme brulee"),
        ("Straße", "strasse"),
    ],
)
def test_fold_text(text: str, folded: str) -> None:
    assert fold_text(text) == folded


def test_words_split_on_punctuation_and_fold() -> None:
    assert words("Kungsörnen Färdiggräddade Pannkakor, 3,5% fett") == [
        "kungsornen",
        "fardiggraddade",
        "pannkakor",
        "3",
        "5",
        "fett",
    ]


def test_apostrophes_join_a_word_and_its_pieces_are_indexed_too() -> None:
    assert (words("Trader Joe’s d'été"), index_words("Trader Joe’s d'été")) == (
        ["trader", "joes", "dete"],
        ["trader", "joes", "joe", "s", "dete", "d", "ete"],
    )


@given(st.text())
def test_folding_is_idempotent(text: str) -> None:
    assert fold_text(fold_text(text)) == fold_text(text)


@given(st.text())
def test_words_of_folded_words_are_the_same_words(text: str) -> None:
    assert words(" ".join(words(text))) == words(text)


@pytest.mark.parametrize(
    ("word", "budget"),
    [("smor", 0), ("smoor", 1), ("letmaelk", 1), ("chokolade", 2), ("123456789", 0)],
)
def test_typo_budget_follows_meilisearch_defaults(word: str, budget: int) -> None:
    assert typo_budget(word) == budget


def test_text_query_plan() -> None:
    assert plan_query("Arla Smør") == QueryPlan(
        kind="text",
        words=(
            QueryWord(text="arla", max_typos=0, prefix=False),
            QueryWord(text="smor", max_typos=0, prefix=True),
        ),
    )


def test_only_the_first_ten_words_count() -> None:
    assert len(plan_query(" ".join(f"w{n}" for n in range(12))).words) == 10


@pytest.mark.parametrize("query", ["", "   ", "-- !"])
def test_query_without_words_matches_everything(query: str) -> None:
    assert plan_query(query) == QueryPlan(kind="everything")


def test_digits_with_spaces_and_dashes_are_a_barcode_query() -> None:
    assert plan_query(" 5740-900 4 ") == QueryPlan(
        kind="barcode", barcode="57409004", barcode_forms=("57409004", "000057409004",
                                                           "0000057409004", "00000057409004"),
    )  # fmt: skip


@pytest.mark.parametrize("query", ["574", "５７４０９", "5740a"])
def test_short_or_non_ascii_digits_are_text(query: str) -> None:
    assert plan_query(query).kind == "text"


def test_query_of_201_characters_is_too_long() -> None:
    with pytest.raises(QueryTooLong) as raised:
        plan_query("a" * 201)
    assert str(raised.value) == "The search query is 201 characters long; at most 200 are allowed."


def test_barcode_forms_pad_and_unpad_gtins() -> None:
    assert barcode_forms("0037600110754") == (
        "037600110754",
        "0037600110754",
        "00037600110754",
    )


def test_barcode_forms_of_other_lengths_are_only_the_digits() -> None:
    assert barcode_forms("00225") == ("00225",)


def test_barcode_prefixes_start_at_four_digits() -> None:
    assert barcode_prefixes(["123456", "12399"]) == ["1234", "12345", "123456", "1239", "12399"]


@pytest.mark.parametrize(
    ("token", "matches"),
    [("smor", True), ("smorbar", True), ("smer", False), ("ismor", False)],
)
def test_word_without_typo_budget_matches_exactly_or_as_prefix(token: str, matches: bool) -> None:
    assert word_matches(QueryWord("smor", 0, prefix=True), token) is matches


@pytest.mark.parametrize(
    ("token", "matches"),
    [("lurpak", True), ("lyrpek", False), ("lurpakker", False), ("lupak", True)],
)
def test_word_with_one_typo_not_prefix(token: str, matches: bool) -> None:
    assert word_matches(QueryWord("lurpak", 1, prefix=False), token) is matches


def test_transposition_is_one_typo() -> None:
    assert word_matches(QueryWord("lurpka", 1, prefix=False), "lurpak") is True


def test_prefix_with_typo_matches_longer_words() -> None:
    assert word_matches(QueryWord("chokol", 1, prefix=True), "chocolate") is True


def test_highlight_wraps_matched_words_and_escapes_the_rest() -> None:
    plan = plan_query("<b> smør")
    assert highlight_name("Smør & <b>Smørbar</b>", plan) == (
        "<mark>Smør</mark> &amp; &lt;<mark>b</mark>&gt;<mark>Smørbar</mark>&lt;/<mark>b</mark>&gt;"
    )


def test_highlight_is_none_for_barcode_queries() -> None:
    assert highlight_name("Smør", plan_query("5740900")) is None


@pytest.mark.parametrize(
    ("offset", "limit", "first_total", "split"),
    [(0, 5, 2, (0, 2, 0, 3)), (3, 5, 2, (2, 0, 1, 5)), (0, 2, 7, (0, 2, 0, 0))],
)
def test_split_page_over_two_groups(
    offset: int, limit: int, first_total: int, split: tuple[int, int, int, int]
) -> None:
    assert split_page(offset, limit, first_total) == split


def test_facets_sort_by_count_then_value() -> None:
    assert sorted_facet({"b": 2, "a": 2, "c": 5, "d": 0}) == [("c", 5), ("a", 2), ("b", 2)]


@pytest.mark.parametrize(
    "options",
    [{"offset": -1}, {"limit": 1001}, {"sort": "popularity"}, {"facets": ("colour",)}],
)
def test_invalid_search_requests_are_refused(options: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SearchRequest(**options)  # type: ignore[arg-type]


def doc(id: int, name: str, **fields: object) -> ProductDocument:
    return ProductDocument(id=id, name=name, categories=["Mejeri", "Mælk"], **fields)  # type: ignore[arg-type]


def test_rank_alternatives_orders_by_stock_similarity_price_and_id() -> None:
    scanned = doc(1, "Skummetmælk", brand="Arla", price=1000)
    candidates = [
        doc(2, "Sødmælk", brand="Thise", price=1000, in_stock_online=True),
        doc(3, "Letmælk", brand="Arla", price=1300, in_stock_online=True),
        doc(4, "Minimælk", brand="Arla", price=1100, in_stock_online=True),
        doc(5, "Kærnemælk", price=900, in_stock_at=[7]),
        doc(6, "Mælk", price=1000),
        doc(1, "Skummetmælk", brand="Arla", price=1000, in_stock_at=[7]),
    ]
    assert rank_alternatives(scanned, candidates, [], store_id=7, limit=10) == [5, 4, 3, 2, 6]


def test_rank_alternatives_uses_the_parent_category_only_when_short() -> None:
    scanned = doc(1, "Skummetmælk")
    same = [doc(2, "Letmælk")]
    parent = [doc(3, "Smør", in_stock_at=[7]), doc(2, "Letmælk")]
    assert (
        rank_alternatives(scanned, same, parent, store_id=7, limit=1),
        rank_alternatives(scanned, same, parent, store_id=7, limit=3),
    ) == ([2], [2, 3])
