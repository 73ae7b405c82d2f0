"""Tokens and handoff codes: kinds, hashing, and codes people can read aloud and type."""

from __future__ import annotations

import math

from server.tokens import (
    HANDOFF_ALPHABET,
    HANDOFF_LENGTH,
    display_handoff_code,
    handoff_code_hash,
    new_handoff_code,
    new_token,
    normalise_handoff_code,
    token_hash,
)


def test_the_code_alphabet_has_no_look_alike_characters() -> None:
    assert len(set(HANDOFF_ALPHABET)) == len(HANDOFF_ALPHABET) == 30
    assert not set("01OILU") & set(HANDOFF_ALPHABET)
    assert HANDOFF_ALPHABET == HANDOFF_ALPHABET.upper()


def test_codes_carry_about_39_bits() -> None:
    assert HANDOFF_LENGTH == 8
    assert math.log2(len(HANDOFF_ALPHABET) ** HANDOFF_LENGTH) > 39


def test_fresh_codes_are_canonical_and_do_not_repeat() -> None:
    codes = {new_handoff_code() for _ in range(2000)}
    assert len(codes) == 2000
    assert all(normalise_handoff_code(c) == c for c in codes)


def test_codes_are_read_in_any_case_with_or_without_separators() -> None:
    assert normalise_handoff_code("k7qm-3xpa") == "K7QM3XPA"
    assert normalise_handoff_code(" K7QM 3XPA ") == "K7QM3XPA"
    assert display_handoff_code("K7QM3XPA") == "K7QM-3XPA"


def test_anything_else_is_no_code() -> None:
    for text in ("", "K7QM3XP", "K7QM3XPAA", "K7QM3XP0", "K7QM3XPO", "K7QM3XPI", "K7QM3XPÅ"):
        assert normalise_handoff_code(text) is None, text


def test_code_hashes_depend_on_the_secret_key() -> None:
    assert handoff_code_hash("K7QM3XPA", "one") != handoff_code_hash("K7QM3XPA", "two")
    assert len(handoff_code_hash("K7QM3XPA", "one")) == 64


def test_tokens_carry_their_kind_and_256_bits() -> None:
    token = new_token("cs_")
    assert token.startswith("cs_") and len(token) == 3 + 43
    assert token_hash(token) != token and len(token_hash(token)) == 64
