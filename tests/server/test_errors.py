"""The error codes are declared once: every AppError's code is a member of ErrorCode."""

from __future__ import annotations

import json

from server.errors import AppError, ErrorCode, NotFound


def _tree(cls: type[AppError]) -> list[type[AppError]]:
    return [cls, *(c for sub in cls.__subclasses__() for c in _tree(sub))]


# In the public contract's ErrorCode enum, but nothing raises it today: a short line is
# INSUFFICIENT_STOCK, which names what is available (zero included).
CONTRACT_ONLY = {ErrorCode.OUT_OF_STOCK}


def test_every_error_class_has_a_declared_code_and_every_code_a_class() -> None:
    codes = [cls.code for cls in _tree(AppError)]

    assert all(type(code) is ErrorCode for code in codes)
    assert sorted(codes) == sorted(set(ErrorCode) - CONTRACT_ONLY)


def test_a_code_reads_and_serialises_as_its_plain_text() -> None:
    error = NotFound("There is no such cart.", field="cartId")

    assert json.dumps(error.to_dict()) == (
        '{"code": "NOT_FOUND", "message": "There is no such cart.", "field": "cartId"}'
    )
    assert f"{error.code}" == "NOT_FOUND"
