"""A NUL character in any text is refused as INVALID_INPUT, on PostgreSQL as on SQLite.

PostgreSQL's text and JSONB cannot hold U+0000: before, such a string failed the statement
and answered INTERNAL there (found while fuzzing the schema on PostgreSQL).
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from server.db import Database
from server.models import Customer, StaffAuditEntry
from tests.clients import client_for, graphql, staff_sign_in
from tests.rows import add_staff

SIGN_UP_LITERAL = """
mutation { customerSignUp(input: {email: "kari\\u0000@example.com", password: "correct horse 1"}) {
  token errors { code } } }
"""
SIGN_UP = """
mutation SignUp($input: CustomerSignUpInput!) {
  customerSignUp(input: $input) { token errors { code field } }
}
"""
CUSTOMER_SEARCH = "query Find($q: String!) { customerSearch(query: $q) { customer { email } } }"
MESSAGE = "Text may not contain the NUL character (U+0000)."


async def rows_of(db: Database, model: type) -> int:
    async with db.transaction(write=False) as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_a_nul_in_a_literal_refuses_the_operation(db: Database, tmp_path: Path) -> None:
    async with client_for(db, tmp_path) as client:
        body = await graphql(client, SIGN_UP_LITERAL)
    assert body == {
        "data": None,
        "errors": [
            {
                "message": MESSAGE,
                "locations": [{"line": 2, "column": 42}],
                "extensions": {"code": "INVALID_INPUT"},
            }
        ],
    }
    assert await rows_of(db, Customer) == 0


async def test_a_nul_in_a_variable_is_refused_naming_where(db: Database, tmp_path: Path) -> None:
    variables = {"input": {"email": "kari@example.com", "password": "correct\x00horse 1"}}
    async with client_for(db, tmp_path) as client:
        body = await graphql(client, SIGN_UP, variables)
    assert body == {
        "data": None,
        "errors": [
            {"message": MESSAGE, "extensions": {"code": "INVALID_INPUT", "field": "input.password"}}
        ],
    }
    assert await rows_of(db, Customer) == 0


async def test_a_staff_search_with_a_nul_is_refused_before_it_is_audited(
    db: Database, tmp_path: Path
) -> None:
    await add_staff(db, "admin@example.com", role="admin")
    async with client_for(db, tmp_path) as client:
        admin = await staff_sign_in(client, "admin@example.com")
        refused = await graphql(client, CUSTOMER_SEARCH, {"q": "kari\x00"}, admin)
        audited_before = await rows_of(db, StaffAuditEntry)
        found = await graphql(client, CUSTOMER_SEARCH, {"q": "kari"}, admin)
    assert refused == {
        "data": None,
        "errors": [{"message": MESSAGE, "extensions": {"code": "INVALID_INPUT", "field": "q"}}],
    }
    assert found == {"data": {"customerSearch": []}}
    assert (audited_before, await rows_of(db, StaffAuditEntry)) == (0, 1)
