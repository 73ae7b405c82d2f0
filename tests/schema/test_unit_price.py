"""Product.unitPrice: the current price per kg, litre or piece, and null when not certain."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from server.db import Database
from server.models import utcnow
from tests.clients import client_for, graphql
from tests.rows import add_campaign, add_product, fresh_ean13

PAGE = """
query Page($gtin: String!) {
  product(gtin: $gtin) {
    quantity price { current { amount } }
    unitPrice { price { amount currency formatted } unit }
  }
}
"""
MANY = """
query Many($gtins: [String!]!) {
  products(gtins: $gtins) { quantity unitPrice { price { amount } unit } }
}
"""


async def test_the_unit_price_follows_the_printed_size_and_the_current_price(
    db: Database, tmp_path: Path
) -> None:
    grams, litres, pieces, vague = (fresh_ean13() for _ in range(4))
    await add_product(db, gtins=[grams], price=2990, quantity="500 g")
    await add_product(db, gtins=[litres], price=5990, quantity="6 x 0,33 l")
    await add_product(db, gtins=[pieces], price=4990, quantity="10 stk")
    await add_product(db, gtins=[vague], price=2990, quantity="1 pakke")
    async with client_for(db, tmp_path) as client:
        pages = [
            (await graphql(client, PAGE, {"gtin": g}))["data"]
            for g in (grams, litres, pieces, vague)
        ]
        many = await graphql(client, MANY, {"gtins": [grams, vague]})

    assert [p["product"]["unitPrice"] for p in pages] == [  # type: ignore[index]
        {
            "price": {"amount": 5980, "currency": "NOK", "formatted": "59,80\u00a0kr"},
            "unit": "KILOGRAM",
        },
        {
            "price": {"amount": 3025, "currency": "NOK", "formatted": "30,25\u00a0kr"},
            "unit": "LITRE",
        },
        {"price": {"amount": 499, "currency": "NOK", "formatted": "4,99\u00a0kr"}, "unit": "PIECE"},
        None,
    ]
    assert many["data"]["products"] == [  # type: ignore[index]
        {"quantity": "500 g", "unitPrice": {"price": {"amount": 5980}, "unit": "KILOGRAM"}},
        {"quantity": "1 pakke", "unitPrice": None},
    ]


async def test_a_campaign_lowers_the_unit_price_with_the_price(
    db: Database, tmp_path: Path
) -> None:
    code = fresh_ean13()
    product = await add_product(db, gtins=[code], price=4000, quantity="2 kg")
    now = utcnow()
    await add_campaign(
        db, product, 3000, starts_at=now - timedelta(days=1), ends_at=now + timedelta(days=1)
    )
    async with client_for(db, tmp_path) as client:
        body = await graphql(client, PAGE, {"gtin": code})

    product_page = body["data"]["product"]  # type: ignore[index]
    assert product_page["price"]["current"]["amount"] == 3000
    assert product_page["unitPrice"]["price"]["amount"] == 1500
