"""Logs that help and never leak: one access line per request, codes not tracebacks, no secrets."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from server.config import Settings
from server.db import Database
from server.logs import JsonFormatter, RedactingFilter, TextFormatter, redact
from tests.clients import client_for

# Seven digits: no barcode is that long.
BAD_GTINS = "{ " + " ".join(f'p{i}: product(gtin: "{1000000 + i}") {{ name }}'
                            for i in range(30)) + " }"  # fmt: skip
PASSWORD = "hunter2-correct-horse"
LEAKY_DOCUMENT = (
    'mutation SignIn { customerSignIn(input: {email: "a@example.com", '
    f'password: "{PASSWORD}", nickname: "x"}}) {{ errors {{ code }} }} }}'
)


def access_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "omnicart.access"]


async def test_thirty_bad_barcodes_are_one_info_line_with_the_code(
    sqlite_db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with client_for(sqlite_db, tmp_path) as client:
        response = await client.post("/graphql", json={"query": "query Shelf " + BAD_GTINS})
    codes = {e["extensions"]["code"] for e in response.json()["errors"]}
    assert codes == {"INVALID_GTIN"}
    assert len(response.json()["errors"]) == 30
    ours = [r for r in caplog.records if r.name.startswith(("omnicart", "strawberry"))]
    assert [(r.name, r.levelname) for r in ours] == [("omnicart.access", "INFO")]
    (line,) = ours
    assert line.exc_info is None
    assert (line.operation, line.outcome, line.errors) == (  # type: ignore[attr-defined]
        "Shelf",
        "INVALID_GTIN",
        {"INVALID_GTIN": 30},
    )
    assert line.getMessage().startswith("POST /graphql 200 Shelf INVALID_GTIN ")


async def test_a_failing_document_never_puts_its_source_in_the_log(
    sqlite_db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with client_for(sqlite_db, tmp_path) as client:
        response = await client.post(
            "/graphql", json={"query": LEAKY_DOCUMENT, "variables": {"x": PASSWORD}}
        )
    assert response.status_code == 200
    assert "nickname" in response.json()["errors"][0]["message"]
    assert PASSWORD not in caplog.text
    formatted = [JsonFormatter().format(r) for r in caplog.records]
    assert not [line for line in formatted if PASSWORD in line]
    (line,) = access_records(caplog)
    assert line.outcome == "GRAPHQL_VALIDATION_FAILED"  # type: ignore[attr-defined]


async def test_a_lost_database_is_one_warning_without_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    unreachable = Database("postgresql+asyncpg://nobody@127.0.0.1:1/none")
    try:
        async with client_for(unreachable, tmp_path) as client:
            await client.post("/graphql", json={"query": "{ stores { code } }"})
    finally:
        await unreachable.dispose()
    ours = [r for r in caplog.records if r.name.startswith("omnicart")]
    assert [(r.name, r.levelname, r.exc_info) for r in ours] == [
        ("omnicart.graphql", "WARNING", None),
        ("omnicart.access", "INFO", None),
    ]
    assert ours[0].getMessage() == (
        "SERVICE_UNAVAILABLE at ['stores']: ConnectionRefusedError: "
        "[Errno 111] Connect call failed ('127.0.0.1', 1)"
    )
    assert ours[1].outcome == "SERVICE_UNAVAILABLE"  # type: ignore[attr-defined]


async def test_the_request_id_is_taken_from_the_caller_or_made_and_returned(
    sqlite_db: Database, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with client_for(sqlite_db, tmp_path) as client:
        given = await client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.42"})
        made = await client.get("/healthz")
        refused = await client.get("/healthz", headers={"X-Request-ID": "has spaces\tand tabs"})
    assert given.headers["x-request-id"] == "lb-7f3a.42"
    assert len(made.headers["x-request-id"]) == 32
    assert int(made.headers["x-request-id"], 16) >= 0
    assert refused.headers["x-request-id"] not in ("has spaces\tand tabs", "lb-7f3a.42")
    assert [r.request_id for r in access_records(caplog)] == [  # type: ignore[attr-defined]
        "lb-7f3a.42",
        made.headers["x-request-id"],
        refused.headers["x-request-id"],
    ]


def test_redact_hides_handoff_codes_and_prefixed_tokens() -> None:
    line = '"GET /handoff/K7QM3XPA.svg HTTP/1.1" 200'
    assert redact(line) == '"GET /handoff/[code] HTTP/1.1" 200'
    assert redact("/handoff/k7qm-3xpa/qr.png?x=1") == "/handoff/[code]/qr.png?x=1"
    tokens = "cs_AbC123def456_- dv_0123456789abcdef ct_zzzzzzzzzz ss_Q1w2E3r4T5y6"
    assert redact(tokens) == "cs_[redacted] dv_[redacted] ct_[redacted] ss_[redacted]"
    assert redact("/barcodes/7038010009457.svg cs_short") == "/barcodes/7038010009457.svg cs_short"


def test_the_json_formatter_writes_one_object_with_the_access_fields() -> None:
    record = logging.LogRecord(
        "omnicart.access", logging.INFO, __file__, 1, "GET %s 200", ("/handoff/K7QM3XPA.svg",), None
    )
    record.request_id = "r-1"
    record.status, record.operation, record.outcome = 200, "Scan", "OK"
    assert RedactingFilter().filter(record) is True
    line = JsonFormatter().format(record)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry.pop("time").endswith("Z")
    assert entry == {
        "level": "INFO",
        "logger": "omnicart.access",
        "message": "GET /handoff/[code] 200",
        "request_id": "r-1",
        "status": 200,
        "operation": "Scan",
        "outcome": "OK",
    }


def test_the_text_formatter_shows_the_request_id_or_a_dash() -> None:
    record = logging.LogRecord("omnicart", logging.WARNING, __file__, 1, "ct_%s", ("a" * 20,), None)
    RedactingFilter().filter(record)
    assert TextFormatter().format(record).endswith(" WARNING omnicart [-] ct_[redacted]")


def test_log_format_only_takes_text_or_json(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path, log_format="json").log_format == "json"
    with pytest.raises(ValueError, match="log_format"):
        Settings(data_dir=tmp_path, log_format="xml")  # type: ignore[arg-type]
