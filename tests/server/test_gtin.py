"""Barcode parsing: every printed form maps to one canonical GTIN; bad input fails by reason."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum import ean

from server.errors import InvalidGtin, InvalidInput
from server.gtin import (
    DEFAULT_TEMPLATE_SPEC,
    DEFAULT_TEMPLATES,
    Gtin,
    RestrictedCode,
    RestrictedTemplate,
    ScannedCode,
    parse_gtin,
    parse_scan,
    parse_template,
    unreadable_restricted,
)

EAN13 = "04006381333931"
EAN8 = "00000059032823"
UPCA = "00036000291452"
SAMPLE = "09506000134352"  # GS1's own example GTIN in Digital Link and element strings
GTIN14 = "10012345678902"


def _check_digit(body: str) -> str:
    """Compute the GS1 mod-10 check digit independently of the code under test."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return str(-total % 10)


def _restricted(digits: str) -> bool:
    """Say whether a GTIN-14 lies in a restricted-circulation range (RCN-8, 02, 04, 2x)."""
    if digits.startswith("000000"):
        return digits[6] in "02"
    return digits[0] == "0" and (digits[1] == "2" or digits[1:3] in ("02", "04"))


def _reason(text: str) -> str:
    with pytest.raises(InvalidGtin) as caught:
        parse_gtin(text)
    return str(caught.value.details["reason"])


# --- accepted forms -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("4006381333931", EAN13),
        ("04006381333931", EAN13),
        ("400 6381 333931", EAN13),
        ("400-6381-333931", EAN13),
        ("4\u2013006381\u2014333931", EAN13),
        ("  4006381333931\r\n", EAN13),
        ("59032823", EAN8),
        ("0000059032823", EAN8),
        ("00000059032823", EAN8),
        ("5903 2823", EAN8),
        ("036000291452", UPCA),
        ("0036000291452", UPCA),
        ("00036000291452", UPCA),
        ("0 36000 29145 2", UPCA),
        (GTIN14, GTIN14),
        ("1 00 12345 67890 2", GTIN14),
    ],
)
def test_plain_forms_map_to_one_canonical_gtin(text: str, digits: str) -> None:
    assert parse_gtin(text) == Gtin(digits)


@pytest.mark.parametrize(
    ("upc_e", "upc_a"),
    [
        ("01234505", "012000003455"),  # last digit 0-2: maker ends in X00, product 00XXX
        ("01234514", "012100003454"),
        ("01234531", "012300000451"),  # 3: maker ends in 00, product 000XX
        ("01234543", "012340000053"),  # 4: maker ends in 0, product 0000X
        ("01234558", "012345000058"),  # 5-9: product 0000X
        ("01234565", "012345000065"),  # also a valid RCN-8: UPC-E wins for a leading 0
    ],
)
def test_upc_e_expands_to_its_upc_a(upc_e: str, upc_a: str) -> None:
    assert parse_gtin(upc_e) == parse_gtin(upc_a)
    assert parse_gtin(upc_e).digits == "00" + upc_a


@pytest.mark.parametrize(
    "text",
    [
        "(01)09506000134352",
        "(01)09506000134352(10)ABC123(21)XYZ",
        "(17)251231(01)09506000134352",
        "(01) 09506000134352 (10) ABC",
        "0109506000134352",
        "010950600013435210ABC123",
        "0109506000134352\x1d10ABC\x1d21XYZ",
        "\x1d0109506000134352",
        "10ABC\x1d0109506000134352",
        "17251231" + "0109506000134352" + "\x1d10AB",
        "]C10109506000134352\x1d10ABC",
        "]C1\x1d0109506000134352",
        "]d20109506000134352\x1d21SER",
        "]Q30109506000134352",
        "]e00109506000134352",
    ],
)
def test_gs1_element_strings_yield_ai_01(text: str) -> None:
    assert parse_gtin(text) == Gtin(SAMPLE)


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("https://id.gs1.org/01/09506000134352/10/ABC?x=y", SAMPLE),
        ("https://id.gs1.org/01/09506000134352", SAMPLE),
        ("HTTPS://shop.example.com/products/01/09506000134352/21/12", SAMPLE),
        ("http://example.com/gtin/9506000134352", SAMPLE),
        ("https://example.com/01/0950600013435%32", SAMPLE),
        ("https://id.gs1.org/01/59032823", EAN8),
        ("https://id.gs1.org/01/036000291452", UPCA),
        ("]Q1https://id.gs1.org/01/09506000134352", SAMPLE),
    ],
)
def test_digital_link_urls_yield_their_gtin(text: str, digits: str) -> None:
    assert parse_gtin(text) == Gtin(digits)


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("]E04006381333931", EAN13),
        ("]E0036000291452", UPCA),
        ("]E001234565", "00012345000065"),
        ("]E459032823", EAN8),
        ("]I110012345678902", GTIN14),
    ],
)
def test_symbology_identifiers_are_stripped(text: str, digits: str) -> None:
    assert parse_gtin(text) == Gtin(digits)


def test_ean8_symbology_identifier_reads_eight_digits_as_ean8() -> None:
    # 01234565 is both a valid UPC-E and a valid EAN-8; ]E4 says which symbol was scanned,
    # and an EAN-8 starting with 0 is one of the chain's own codes (RCN-8).
    gtin = parse_gtin("]E401234565")
    assert (gtin, gtin.restricted, gtin.display) == (Gtin("00000001234565"), True, "01234565")


# --- the Gtin value --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("digits", "kind", "display", "forms", "symbology"),
    [
        (EAN8, "EAN-8", "59032823", (EAN8, "0000059032823", "59032823"), "ean8"),
        (UPCA, "UPC-A", "0036000291452", (UPCA, "0036000291452", "036000291452"), "upca"),
        (
            "00012345000065",
            "UPC-A",
            "0012345000065",
            ("00012345000065", "0012345000065", "012345000065", "01234565"),
            "upca",
        ),
        (EAN13, "EAN-13", "4006381333931", (EAN13, "4006381333931"), "ean13"),
        (GTIN14, "GTIN-14", GTIN14, (GTIN14,), "itf"),
    ],
)
def test_gtin_kind_display_forms_and_symbology(
    digits: str, kind: str, display: str, forms: tuple[str, ...], symbology: str
) -> None:
    gtin = Gtin(digits)
    assert (gtin.kind, gtin.display, gtin.forms, gtin.symbology) == (
        kind,
        display,
        forms,
        symbology,
    )
    assert str(gtin) == display


@pytest.mark.parametrize("digits", ["4006381333931", "0400638133393X", "04006381333932", "٠" * 14])
def test_gtin_constructor_refuses_non_canonical_digits(digits: str) -> None:
    with pytest.raises(ValueError):
        Gtin(digits)


# --- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("   ", "empty"),
        (" - - ", "empty"),
        ("]E0", "empty"),
        ("ABC123", "characters"),
        ("40063813339.31", "characters"),
        ("4006381333931x", "characters"),
        ("4006381333931\x00", "characters"),
        ("٤٠٠٦٣٨١٣٣٣٩٣١", "non_ascii_digits"),  # Arabic-Indic
        ("４００６３８１３３３９３１", "non_ascii_digits"),  # full-width
        ("400638133393\u00b9", "non_ascii_digits"),  # superscript one: isdigit() is True
        ("1234567", "length"),
        ("123456", "length"),  # a bare UPC-E body has no check digit to catch typos
        ("12345678901", "length"),
        ("123456789012345", "length"),
        ("(01)9506000134352", "length"),
        ("4006381333932", "check_digit"),
        ("59032824", "check_digit"),
        ("01234566", "check_digit"),
        ("(01)09506000134353", "check_digit"),
        ("https://id.gs1.org/01/09506000134353", "check_digit"),
        ("https://example.com/products/123", "no_gtin"),
        ("(10)ABC123", "no_gtin"),
        ("]C110ABC", "no_gtin"),
        ("31000\x1d0", "no_gtin"),  # stdnum's info() raises decimal errors on this one
    ],
)
def test_invalid_input_fails_with_its_reason(text: str, reason: str) -> None:
    with pytest.raises(InvalidGtin) as caught:
        parse_gtin(text)
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert (error.code, error.field, error.details["reason"]) == ("INVALID_GTIN", None, reason)


def test_check_digit_error_names_the_expected_digit() -> None:
    with pytest.raises(InvalidGtin) as caught:
        parse_gtin("4006381333932")
    assert caught.value.message == (
        "The barcode 4006381333932 has a wrong check digit (expected 1)."
    )
    assert caught.value.details == {"reason": "check_digit", "expected": "1"}


def test_check_digit_error_for_leading_zero_eight_digits_names_the_upc_e_digit() -> None:
    with pytest.raises(InvalidGtin) as caught:
        parse_gtin("01234566")
    assert caught.value.message == "The barcode 01234566 has a wrong check digit (expected 5)."


def test_non_ascii_digits_are_named_not_converted() -> None:
    with pytest.raises(InvalidGtin) as caught:
        parse_gtin("٤٠٠٦٣٨١٣٣٣٩٣١")
    assert caught.value.details == {"reason": "non_ascii_digits", "character": "٤"}
    assert "other than 0-9" in caught.value.message


def test_length_error_says_which_lengths_exist() -> None:
    with pytest.raises(InvalidGtin) as caught:
        parse_gtin("12-345")
    assert caught.value.message == (
        "The barcode 12345 has 5 digits; product barcodes have 8, 12, 13 or 14."
    )
    assert caught.value.details == {"reason": "length", "length": 5}


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("2312345012340", "02312345012340"),
        ("2012345012349", "02012345012349"),
        ("0412345678903", "00412345678903"),
        ("212345601235", "00212345601235"),  # U.P.C. number system 2
        ("0212345601235", "00212345601235"),
        ("2612345678905", "02612345678905"),
        ("21234569", "00000021234569"),  # RCN-8, prefix 2
        ("02000206", "00000002000206"),  # RCN-8, prefix 0 (not a valid UPC-E)
    ],
)
def test_the_chains_own_codes_parse_as_restricted_gtins(text: str, digits: str) -> None:
    gtin = parse_gtin(text)
    assert (gtin.digits, gtin.restricted) == (digits, True)


@pytest.mark.parametrize("text", ["4006381333931", "59032823", "036000291452", GTIN14])
def test_global_gtins_are_not_restricted(text: str) -> None:
    assert parse_gtin(text).restricted is False


def test_a_code_nothing_reads_is_refused_with_the_restricted_reason() -> None:
    error = unreadable_restricted(parse_gtin("2612345678905"))
    assert error.code == "INVALID_GTIN"
    assert error.message == (
        "The barcode 2612345678905 is one of the chain's own codes (restricted circulation "
        "number), but no product carries it and no price or weight label template reads it."
    )
    assert error.details == {"reason": "restricted", "raw": "2612345678905"}


# --- price and weight labels -----------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "2012345012349",
            RestrictedCode("20", "12345", None, 1234, "2012345012349", "2012345000001"),
        ),
        (
            "2212345000128",
            RestrictedCode("22", "12345", None, 1200, "2212345000128", "2212345000005"),
        ),
        (
            "2312345012340",
            RestrictedCode("23", "12345", 1234, None, "2312345012340", "2312345000002"),
        ),
        (
            "2412345001235",
            RestrictedCode("24", "12345", 1230, None, "2412345001235", "2412345000009"),
        ),
        # U.P.C. number system 2 random-weight label: item, price check digit, 4-digit price
        (
            "212345601235",
            RestrictedCode("02", "12345", None, 123, "0212345601235", "0212345000007"),
        ),
    ],
)
def test_parse_scan_reads_labels_with_the_templates(text: str, expected: RestrictedCode) -> None:
    scanned = parse_scan(text)
    assert scanned == ScannedCode(parse_gtin(text), expected)
    assert ean.is_valid(expected.base_code)


@pytest.mark.parametrize(
    "text",
    [
        "2612345678905",  # no default template for 26
        "0412345678903",
        "21234569",  # templates read 13 digits, never an RCN-8
        "02000206",
        "4006381333931",  # a global GTIN is never a label
    ],
)
def test_parse_scan_reads_no_label_where_no_template_applies(text: str) -> None:
    assert parse_scan(text) == ScannedCode(parse_gtin(text), None)


def test_parse_scan_returns_the_gtin_after_a_symbology_identifier() -> None:
    assert parse_scan("]E04006381333931") == ScannedCode(Gtin(EAN13), None)


def test_parse_scan_uses_the_templates_it_is_given() -> None:
    templates = parse_template("20-29:PPIIIIICWWWWK")
    assert parse_scan("2312345012340", templates).label == RestrictedCode(
        "23", "12345", 1234, None, "2312345012340", "2312345000002"
    )
    assert parse_scan("2612345678905", templates).label == RestrictedCode(
        "26", "12345", 7890, None, "2612345678905", "2612345000003"
    )


def test_parse_scan_without_templates_reads_no_label() -> None:
    assert parse_scan("2312345012340", ()).label is None


def test_parse_scan_still_checks_the_ean_check_digit_of_labels() -> None:
    with pytest.raises(InvalidGtin) as caught:
        parse_scan("2312345012341")
    assert caught.value.details == {"reason": "check_digit", "expected": "0"}


# --- template specs --------------------------------------------------------------------


def test_default_templates_come_from_the_default_spec() -> None:
    assert DEFAULT_TEMPLATES == parse_template(DEFAULT_TEMPLATE_SPEC)
    assert sorted(p for t in DEFAULT_TEMPLATES for p in t.prefixes) == [
        "02",
        "20",
        "21",
        "22",
        "23",
        "24",
        "25",
    ]


def test_template_spec_with_ranges_lists_and_scale() -> None:
    assert parse_template(" 20-22:PPIIIIIWWWWWK ; 02, 23:PPIIIIIMMMMMK*10 ;") == (
        RestrictedTemplate(frozenset({"20", "21", "22"}), "PPIIIIIWWWWWK"),
        RestrictedTemplate(frozenset({"02", "23"}), "PPIIIIIMMMMMK", 10),
    )


def test_empty_template_spec_means_no_templates() -> None:
    assert parse_template("") == ()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("20-22", "must look like"),
        ("20:PPIIIIIMMMMMK*x", "must look like"),
        ("20:PPIIIIIMMMMM", "13 letters"),
        ("20:PPIIIIIMMMMMZ", "13 letters"),
        ("20:IPPIIIIMMMMMK", "start with P"),
        ("20:PPIIIIIMMMMKK", "end with its only K"),
        ("20:PPMMMMMMMMMMK", "no item number"),
        ("20:PPIIMIIMMMMMK", "adjacent"),
        ("20:PPIIIIICCMMMK", "more than one C"),
        ("20:PPIIIIIMMMMMK*0", "scale"),
        ("20:PPIIIIIXXXXXK*10", "scale"),
        ("2:PPIIIIIMMMMMK", "prefixes of 2 digits"),
        ("2a:PPIIIIIMMMMMK", "must be digits"),
        ("20-2:PPIIIIIMMMMMK", "equal width"),
        ("22-20:PPIIIIIMMMMMK", "backwards"),
        ("20-22:PPIIIIIMMMMMK;22:PPIIIIIWWWWWK", "prefix 22 appears in more than one"),
    ],
)
def test_bad_template_specs_raise_value_error(spec: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_template(spec)


# --- properties ------------------------------------------------------------------------

# Many zeros make UPC-E zero suppression and short forms likely, not one-in-a-million.
_zero_heavy = st.sampled_from("000000123456789")


@st.composite
def gtin_bodies(draw: st.DrawFn) -> str:
    """Draw a 13-digit body in the EAN-8, UPC-A, EAN-13 or GTIN-14 range."""
    fixed = draw(st.sampled_from(["000000", "00", "0", ""]))
    rest = draw(st.lists(_zero_heavy, min_size=13 - len(fixed), max_size=13 - len(fixed)))
    return fixed + "".join(rest)


@st.composite
def global_gtins(draw: st.DrawFn) -> Gtin:
    body = draw(gtin_bodies().filter(lambda b: not _restricted(b + _check_digit(b))))
    return Gtin(body + _check_digit(body))


@st.composite
def spaced(draw: st.DrawFn, text: str) -> str:
    """Insert random spaces and dashes between (and around) the characters of ``text``."""
    separators = st.sampled_from(["", "", " ", "-", " - "])
    gaps = draw(st.lists(separators, min_size=len(text) + 1, max_size=len(text) + 1))
    return "".join(gap + ch for gap, ch in zip(gaps, text, strict=False)) + gaps[-1]


@given(st.data(), global_gtins())
def test_every_form_with_any_separators_parses_back_to_the_same_gtin(
    data: st.DataObject, gtin: Gtin
) -> None:
    for form in gtin.forms:
        assert parse_gtin(form) == gtin
        assert parse_gtin(data.draw(spaced(form))) == gtin


@given(global_gtins())
def test_display_form_parses_back(gtin: Gtin) -> None:
    assert parse_gtin(gtin.display) == gtin


@given(global_gtins())
def test_element_string_and_digital_link_carry_the_same_gtin(gtin: Gtin) -> None:
    assert parse_gtin(f"]C101{gtin.digits}\x1d10LOT") == gtin
    assert parse_gtin(f"https://id.gs1.org/01/{gtin.digits}/21/1") == gtin


@given(gtin_bodies(), st.data())
def test_a_single_changed_digit_is_always_a_check_digit_error(
    body: str, data: st.DataObject
) -> None:
    # Eight-digit forms are left out: a changed EAN-8 may read as a valid UPC-E (see parse_gtin).
    for form in (f for f in Gtin(body + _check_digit(body)).forms if len(f) >= 12):
        position = data.draw(st.integers(0, len(form) - 1))
        new = data.draw(st.sampled_from([d for d in "0123456789" if d != form[position]]))
        assert _reason(form[:position] + new + form[position + 1 :]) == "check_digit"


@given(st.text(max_size=40))
def test_any_text_either_parses_or_fails_with_invalid_gtin(text: str) -> None:
    try:
        result = parse_scan(text)
    except InvalidGtin as error:
        assert error.details["reason"] in {
            "empty",
            "characters",
            "non_ascii_digits",
            "length",
            "check_digit",
            "no_gtin",
        }
    else:
        assert isinstance(result, ScannedCode)


@given(
    st.sampled_from(["02", "04", "20", "23", "26", "29"]),
    st.text("0123456789", min_size=10, max_size=10),
)
def test_the_chains_own_13_digit_codes_parse_back_from_every_form(prefix: str, rest: str) -> None:
    body = prefix + rest
    gtin = Gtin("0" + body + _check_digit(body))
    assert gtin.restricted
    for form in gtin.forms:
        assert parse_gtin(form) == gtin


def test_a_short_code_read_again_is_the_kept_reading_and_a_refusal_is_never_kept() -> None:
    first = parse_gtin(" 4006381333931 ")
    assert parse_gtin(" 4006381333931 ") is first  # kept: no second parse
    assert first.digits == EAN13
    for _ in range(2):  # refused each time, by the same reason
        with pytest.raises(InvalidGtin) as refused:
            parse_gtin("4006381333932")
        assert refused.value.details["reason"] == "check_digit"
    long_text = "(01)04006381333931(21)" + "7" * 40  # read anew, not kept
    assert parse_gtin(long_text) == first
    assert parse_gtin(long_text) is not parse_gtin(long_text)
