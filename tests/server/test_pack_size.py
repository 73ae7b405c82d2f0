"""Pack sizes from printed quantities, and the comparison price: certain or none at all."""

from __future__ import annotations

from fractions import Fraction

import pytest

from server.pack_size import Pack, parse_pack, price_per_unit


@pytest.mark.parametrize(
    ("printed", "amount", "unit"),
    [
        ("500 g", Fraction(1, 2), "kg"),
        ("500g", Fraction(1, 2), "kg"),
        ("1 kg", Fraction(1), "kg"),
        ("1,5 l", Fraction(3, 2), "l"),
        ("1.5 L", Fraction(3, 2), "l"),
        ("6 x 0.33 l", Fraction(198, 100), "l"),
        ("6x0,33L", Fraction(198, 100), "l"),
        ("75 cl", Fraction(3, 4), "l"),
        ("330 ml", Fraction(33, 100), "l"),
        ("4 dl", Fraction(2, 5), "l"),
        ("4 stk", Fraction(4), "piece"),
        ("10 pcs", Fraction(10), "piece"),
        ("400 g ℮", Fraction(2, 5), "kg"),
        ("3.75 oz (106 g)", Fraction(106, 1000), "kg"),
        ("1 gallon (3.78 L)", Fraction(378, 100), "l"),
    ],
)
def test_a_stated_pack_size_is_read(printed: str, amount: Fraction, unit: str) -> None:
    assert parse_pack(printed) == Pack(amount, unit)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "printed",
    [
        None,
        "",
        "1",
        "100",
        "12 oz",
        "1 pakke",
        "ca. 400 g",
        "500 g / 2 stk",
        "0 g",
        "g 500",
        "2 x 3 x 100 g",
        "3.75 oz (106 g) (3 stk)",
    ],
)
def test_an_uncertain_pack_size_gives_none(printed: str | None) -> None:
    assert parse_pack(printed) is None


def test_the_price_per_unit_is_rounded_half_up_to_whole_minor_units() -> None:
    assert price_per_unit(2990, Pack(Fraction(1, 2), "kg")) == 5980
    assert price_per_unit(1990, Pack(Fraction(198, 100), "l")) == 1005  # 1005.05…
    assert price_per_unit(1000, Pack(Fraction(3), "piece")) == 333  # 333.33…
    assert price_per_unit(500, Pack(Fraction(3), "piece")) == 167  # 166.67
    assert price_per_unit(5, Pack(Fraction(2), "piece")) == 3  # 2.5 → 3
