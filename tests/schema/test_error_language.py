"""Error messages speak the request's Accept-Language (nb or en, else English); codes stay."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.db import Database
from tests.clients import client_for, graphql, new_cart

ADD = """
mutation Add($input: CartLinesAddInput!) {
  cartLinesAdd(input: $input) { cart { id } errors { code field message } }
}
"""
CART = "query Cart($id: ID!) { cart(id: $id) { id } }"
ENGLISH_GTIN = "The barcode 12345 has 5 digits; product barcodes have 8, 12, 13 or 14."
NORWEGIAN_GTIN = "Strekkoden 12345 har 5 sifre; strekkoder på varer har 8, 12, 13 eller 14."


@pytest.mark.parametrize(
    ("accept", "message"),
    [
        ("en-US", ENGLISH_GTIN),
        ("en-GB,en;q=0.9", ENGLISH_GTIN),
        ("nb-NO", NORWEGIAN_GTIN),
        ("no", NORWEGIAN_GTIN),
        ("nn", NORWEGIAN_GTIN),
        ("de-DE, nb;q=0.8, en;q=0.5", NORWEGIAN_GTIN),
        ("nb;q=0.4, en-US;q=0.9", ENGLISH_GTIN),
        ("de-DE", ENGLISH_GTIN),
        ("fr, sv;q=0.8", ENGLISH_GTIN),
        ("", ENGLISH_GTIN),
    ],
)
async def test_a_refused_mutation_answers_in_the_requested_language(
    db: Database, tmp_path: Path, accept: str, message: str
) -> None:
    async with client_for(db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        variables = {"input": {"cartId": cart_id, "lines": [{"gtin": "12345", "quantity": 1}]}}
        headers = {**reach, "Accept-Language": accept} if accept else reach
        body = await graphql(client, ADD, variables, headers)
    payload = body["data"]["cartLinesAdd"]  # type: ignore[index]
    assert payload["errors"] == [
        {"code": "INVALID_GTIN", "field": "lines[0].gtin", "message": message}
    ]


async def test_a_message_with_a_translated_part_in_a_placeholder(
    sqlite_db: Database, tmp_path: Path
) -> None:
    """A quantity past the cap: the number is kept, the sentence around it translated."""
    async with client_for(sqlite_db, tmp_path) as client:
        cart_id, reach = await new_cart(client)
        line = {"gtin": "7038010009457", "quantity": 0}
        variables = {"input": {"cartId": cart_id, "lines": [line]}}
        answers = {
            accept: (await graphql(client, ADD, variables, {**reach, "Accept-Language": accept}))
            for accept in ("en", "nb")
        }
    english, norwegian = (answers[a]["data"]["cartLinesAdd"]["errors"][0] for a in ("en", "nb"))  # type: ignore[index]
    assert english["code"] == norwegian["code"] == "INVALID_QUANTITY"
    assert english["field"] == norwegian["field"]
    assert english["message"] == "A quantity is between 1 and 99; got 0."
    assert norwegian["message"] == "Et antall er mellom 1 og 99; fikk 0."


async def test_a_query_error_answers_in_the_requested_language(
    sqlite_db: Database, tmp_path: Path
) -> None:
    async with client_for(sqlite_db, tmp_path) as client:
        answers = {
            accept: await graphql(client, CART, {"id": "nonsense"}, {"Accept-Language": accept})
            for accept in ("en-US", "nb-NO", "xx")
        }
    messages = {accept: body["errors"][0]["message"] for accept, body in answers.items()}  # type: ignore[index]
    codes = {body["errors"][0]["extensions"]["code"] for body in answers.values()}  # type: ignore[index]
    assert messages == {
        "en-US": "'nonsense' is not a valid id.",
        "nb-NO": "'nonsense' er ikke en gyldig id.",
        "xx": "'nonsense' is not a valid id.",
    }
    assert codes == {"INVALID_INPUT"}


async def test_a_plain_route_answers_in_the_requested_language(
    sqlite_db: Database, tmp_path: Path
) -> None:
    async with client_for(sqlite_db, tmp_path) as client:
        url = "/barcodes/7038010009457.gif"
        english = await client.get(url, headers={"Accept-Language": "en"})
        norwegian = await client.get(url, headers={"Accept-Language": "nb"})
    assert english.status_code == norwegian.status_code == 400
    assert english.json()["error"] == {
        "code": "INVALID_INPUT", "field": "format", "message": "Ask for CODE.svg or CODE.png."
    }  # fmt: skip
    assert norwegian.json()["error"] == {
        "code": "INVALID_INPUT", "field": "format", "message": "Be om KODE.svg eller KODE.png."
    }  # fmt: skip
