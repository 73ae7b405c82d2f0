"""The Bokmål catalog of error messages covers every message raised, placeholders and all."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import server.errors
from server.messages import error_language, localized, translate
from server.messages_nb import FRAGMENTS, NB

ROOT = Path(__file__).resolve().parents[2]
# Command-line tools for operators (import, reports) speak English only.
ENGLISH_ONLY = ("server/importer/", "server/commands/", "server/migrations/")
ERRORS = {
    name
    for name, value in vars(server.errors).items()
    if isinstance(value, type) and issubclass(value, server.errors.AppError)
}
PLACEHOLDER = re.compile(r"\{([^{}]+)\}")


def _templates(node: ast.expr, constants: dict[str, str]) -> list[str] | None:
    """Return the message templates an argument can be (an f-string's fields as placeholders)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.Name) and node.id in constants:
        return [constants[node.id]]
    if isinstance(node, ast.IfExp):
        body, orelse = _templates(node.body, constants), _templates(node.orelse, constants)
        return None if body is None or orelse is None else body + orelse
    if isinstance(node, ast.JoinedStr):
        parts = [
            part.value if isinstance(part, ast.Constant) else f"{{{ast.unparse(part.value)}}}"  # type: ignore[attr-defined]
            for part in node.values
        ]
        return ["".join(str(part) for part in parts)]
    return None


def raised_messages() -> tuple[dict[str, str], list[str]]:
    """Return every message template given to an AppError (where), and the arguments not read."""
    found: dict[str, str] = {}
    unread: list[str] = []
    for path in sorted([*ROOT.glob("server/**/*.py"), *ROOT.glob("schema/**/*.py")]):
        where = str(path.relative_to(ROOT))
        if where.startswith(ENGLISH_ONLY):
            continue
        tree = ast.parse(path.read_text())
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in node.targets
            if isinstance(target, ast.Name)
        }  # fmt: skip
        for call in ast.walk(tree):
            if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name):
                continue
            if call.func.id in ERRORS and call.args:
                argument = call.args[0]
            elif call.func.id == "_fail" and len(call.args) > 1:  # server.gtin's raiser
                argument = call.args[1]
            else:
                continue
            templates = _templates(argument, constants)
            if templates is None:
                unread.append(f"{where}:{call.lineno}: {ast.unparse(argument)}")
            for template in templates or []:
                found.setdefault(template, f"{where}:{call.lineno}")
    return found, unread


def test_every_raised_message_has_its_bokmal_translation() -> None:
    found, _ = raised_messages()
    assert len(found) > 100, "the scan found too few messages to be reading the code"
    missing = {template: where for template, where in found.items() if template not in NB}
    assert missing == {}


def test_messages_passed_through_are_the_known_few() -> None:
    """Arguments that are not a literal: another error's message passed on, an engine's text."""
    _, unread = raised_messages()
    assert sorted(line.split(": ", 1)[1] for line in unread) == sorted(
        ["message", "error.message", "str(exc)", "str(exc)", "what", "error.message",
         "error.message", "problem"]
    )  # fmt: skip


def test_the_catalog_holds_no_message_nobody_raises() -> None:
    found, _ = raised_messages()
    assert sorted(set(NB) - set(found)) == []


@pytest.mark.parametrize("english", sorted({**NB, **FRAGMENTS}))
def test_a_translation_keeps_the_placeholders(english: str) -> None:
    norwegian = {**NB, **FRAGMENTS}[english]
    assert sorted(PLACEHOLDER.findall(norwegian)) == sorted(PLACEHOLDER.findall(english))
    assert norwegian != english


def test_parts_in_placeholders_are_translated_too() -> None:
    english = (
        "Not enough stock at Oslo Storo. Few: 3 asked, 2 available; None: 1 asked, 0 available."
    )
    assert translate(english, "nb") == (
        "Ikke nok på lager på Oslo Storo. Few: 3 ønsket, 2 tilgjengelig; "
        "None: 1 ønsket, 0 tilgjengelig."
    )
    assert translate(english, "en") == english


def test_an_unknown_message_stays_english() -> None:
    assert translate("Something no one wrote down.", "nb") == "Something no one wrote down."


def test_localized_keeps_code_field_and_details() -> None:
    error = server.errors.NotFound("There is no such cart.", field="cartId", details={"a": 1})
    norwegian = localized(error, "nb")
    assert (norwegian.message, str(norwegian)) == ("Handlekurven finnes ikke.",) * 2
    assert (norwegian.code, norwegian.field, norwegian.details) == ("NOT_FOUND", "cartId", {"a": 1})
    assert isinstance(norwegian, server.errors.NotFound)
    assert error.message == "There is no such cart."


@pytest.mark.parametrize(
    ("header", "language"),
    [("nb-NO", "nb"), ("no", "nb"), ("nn-NO", "nb"), ("en-US", "en"), ("sv-SE", "en"),
     (None, "en"), ("", "en"), ("sv, nn;q=0.5", "nb"), ("nb;q=0, en;q=0.1", "en")],
)  # fmt: skip
def test_the_error_language_of_a_header(header: str | None, language: str) -> None:
    assert error_language(header) == language
