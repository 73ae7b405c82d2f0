"""The ``omnicart`` command end to end: real processes, each test on a fresh SQLite data dir.

(One serves a PostgreSQL database instead, to show the warning about its connection limit.)

The command runs as ``python -m omnicart.cli``, which is what the ``omnicart`` console script
calls (``[project.scripts]``, pinned below), so the tests need no installed script.
"""

from __future__ import annotations

import csv
import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from server.migrations import head_revision
from server.models import Base
from tests.conftest import LimitedPostgres
from tests.documents import INTROSPECTION, STORES
from tests.live import stop, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]
COMMAND = [sys.executable, "-m", "omnicart.cli"]
WAIT = 60.0  # seconds any one command, or the server's start, may take

MILK_GTIN = "7038010069307"
COLA_GTIN = "5000112637922"
BAD_GTIN = "7038010000000"  # the check digit should be 3
BAD_LINE = json.dumps({"code": BAD_GTIN, "product_name": "Wrong check digit"})
CATALOG_LINES = [
    json.dumps({"code": MILK_GTIN, "product_name": "Lettmelk 1 l", "brands": "Tine"}),
    BAD_LINE,
    json.dumps({"code": COLA_GTIN, "product_name": "Coca-Cola 0,5 l", "quantity": "0.5 l"}),
]

DEMO_STORE_CODES = ["BGO-LAGUNEN", "OSL-STORO", "SVG-KVADRAT", "TRD-SOLSIDEN"]
DEMO_MILK_GTIN = "7025110118769"
PRODUCT_QUERY = '{ product(gtin: "7025110118769") { gtin name sku } }'
HANDOFF_CODE = "K7QM3XPA"
TOKEN = "ct_" + "Zq9" * 14
PASSWORD = "hunter2-correct-horse"


# ---------------------------------------------------------------------------------------------
# Small builders


def command_env(data_dir: Path, **settings: str) -> dict[str, str]:
    """Return the environment of one command: no inherited OMNICART_* settings, wide output."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("OMNICART_") and k not in ("FORCE_COLOR", "COLUMNS")
    }
    # A wide, colourless console keeps rich from wrapping or styling what the tests read.
    return {**env, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "300",
            "OMNICART_DATA_DIR": str(data_dir), **settings}  # fmt: skip


def omnicart(data_dir: Path, *args: str, **settings: str) -> subprocess.CompletedProcess[str]:
    """Run ``omnicart ARGS`` to completion with ``OMNICART_DATA_DIR=data_dir``."""
    return subprocess.run(
        [*COMMAND, *args],
        cwd=ROOT,
        env=command_env(data_dir, **settings),
        capture_output=True,
        text=True,
        timeout=WAIT,
    )


def one_line(text: str) -> str:
    """Return the text with every run of whitespace as one space (rich may wrap or indent)."""
    return " ".join(text.split())


def write_catalog(path: Path) -> Path:
    """Write the three-row JSON Lines catalog whose second row has a bad barcode."""
    path.write_text("\n".join(CATALOG_LINES) + "\n", encoding="utf-8")
    return path


def database_file(data_dir: Path) -> Path:
    """Return where the default settings keep the SQLite database."""
    return data_dir / "omnicart.db"


def query_sqlite(data_dir: Path, sql: str) -> list[tuple[Any, ...]]:
    """Return the rows of one query against the data dir's SQLite file."""
    with closing(sqlite3.connect(database_file(data_dir))) as conn:
        return conn.execute(sql).fetchall()


def table_counts(data_dir: Path) -> dict[str, int]:
    """Return the number of rows of every table of the schema."""
    return {
        name: query_sqlite(data_dir, f'SELECT count(*) FROM "{name}"')[0][0]
        for name in Base.metadata.tables
    }


def free_port() -> int:
    """Return a loopback TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def serving(data_dir: Path, *args: str, **settings: str) -> Iterator[str]:
    """Run ``omnicart serve ARGS --port <free>`` until /healthz answers; yield its base URL.

    The server is always stopped (SIGTERM, then SIGKILL); its output lands in ``data_dir``
    and is shown when it does not come up.
    """
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = data_dir / "serve.log"
    with log.open("w", encoding="utf-8") as output:
        process = subprocess.Popen(
            [*COMMAND, "serve", *args, "--port", str(port)],
            cwd=ROOT,
            env=command_env(data_dir, **settings),
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            try:
                wait_until_healthy(process, url, within=WAIT)
            except RuntimeError as exc:
                raise AssertionError(f"serve did not come up ({exc}):\n{log.read_text()}") from exc
            yield url
        finally:
            stop(process)


def graphql(url: str, query: str) -> dict[str, Any]:
    """POST one GraphQL document; return the whole JSON answer."""
    response = httpx.post(f"{url}/graphql", json={"query": query}, timeout=10)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


# ---------------------------------------------------------------------------------------------
# The command


def test_the_omnicart_script_is_omnicart_cli_main() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["scripts"] == {"omnicart": "omnicart.cli:main"}


def test_db_upgrade_creates_the_sqlite_file_with_every_table(tmp_path: Path) -> None:
    result = omnicart(tmp_path, "db", "upgrade")

    assert result.returncode == 0, result.stderr
    assert one_line(result.stderr) == "Database schema is up to date."
    assert database_file(tmp_path).is_file()
    # sqlite_sequence is SQLite's own book of AUTOINCREMENT counters (event_notices has one).
    tables = query_sqlite(
        tmp_path,
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name != 'sqlite_sequence'",
    )
    assert {name for (name,) in tables} == {*Base.metadata.tables, "alembic_version"}
    assert query_sqlite(tmp_path, "SELECT version_num FROM alembic_version") == [(head_revision(),)]


def test_import_prints_counts_and_writes_the_bad_row_to_the_rejected_report(
    tmp_path: Path,
) -> None:
    catalog = write_catalog(tmp_path / "catalog.jsonl")

    result = omnicart(tmp_path, "import", str(catalog))

    assert result.returncode == 0, result.stderr
    assert "rows=3, created=2, updated=0, unchanged=0, rejected=1," in one_line(result.stderr)
    with (tmp_path / "catalog.jsonl.rejected.csv").open(newline="", encoding="utf-8") as report:
        assert list(csv.DictReader(report)) == [
            {
                "line": "2",
                "reason": "gtin_check_digit",
                "message": f"The barcode {BAD_GTIN} has a wrong check digit (expected 3).",
                "raw": BAD_LINE,
            }
        ]
    assert query_sqlite(tmp_path, "SELECT sku, name FROM products ORDER BY sku") == [
        (COLA_GTIN, "Coca-Cola 0,5 l"),
        (MILK_GTIN, "Lettmelk 1 l"),
    ]


def test_importing_the_same_file_twice_leaves_every_count_as_it_was(tmp_path: Path) -> None:
    catalog = write_catalog(tmp_path / "catalog.jsonl")
    first = omnicart(tmp_path, "import", str(catalog))
    assert first.returncode == 0, first.stderr
    counts = table_counts(tmp_path)

    again = omnicart(tmp_path, "import", str(catalog))

    assert again.returncode == 0, again.stderr
    assert "rows=3, created=0, updated=0, unchanged=2, rejected=1," in one_line(again.stderr)
    assert table_counts(tmp_path) == counts
    assert (counts["products"], counts["product_barcodes"]) == (2, 2)


def test_importing_a_missing_file_exits_2_saying_it_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "missing.jsonl"

    result = omnicart(tmp_path, "import", str(missing))

    assert result.returncode == 2
    assert f"Invalid value for 'file': file '{missing}' does not exist." in one_line(result.stderr)
    assert "Traceback" not in result.stderr
    assert not database_file(tmp_path).exists()


def test_an_invalid_setting_exits_2_naming_the_variable(tmp_path: Path) -> None:
    result = omnicart(tmp_path, "db", "upgrade", OMNICART_DATABASE_URL="mysql://x")

    assert result.returncode == 2
    assert one_line(result.stderr) == (
        "Invalid setting OMNICART_DATABASE_URL: Value error, OMNICART_DATABASE_URL must start "
        "with sqlite+aiosqlite:/// or postgresql+asyncpg:// (got mysql://…)"
    )
    assert not database_file(tmp_path).exists()


def test_seed_without_demo_exits_2_and_seeds_nothing(tmp_path: Path) -> None:
    result = omnicart(tmp_path, "seed")

    assert result.returncode == 2
    assert one_line(result.stderr) == (
        "Nothing to seed: pass --demo for the demo stores, catalog and stock."
    )
    assert not database_file(tmp_path).exists()


def test_serve_demo_answers_graphql_with_the_demo_stores_and_products(tmp_path: Path) -> None:
    with serving(tmp_path, "--demo") as url:
        stores = graphql(url, STORES)
        product = graphql(url, PRODUCT_QUERY)
        introspection = graphql(url, INTROSPECTION)
    output = (tmp_path / "serve.log").read_text()
    # Never mistaken for production: it says so, and answers introspection.
    assert "THIS IS THE DEMO: demo stores and catalog, GraphiQL and introspection on." in output
    assert "omnicart DEMO on http://127.0.0.1:" in output
    assert introspection == {"data": {"__schema": {"queryType": {"name": "Query"}}}}

    assert "errors" not in stores, stores
    assert sorted(s["code"] for s in stores["data"]["stores"]) == DEMO_STORE_CODES
    assert product == {
        "data": {
            "product": {
                "gtin": DEMO_MILK_GTIN,
                "name": "Økologisk lettmelk fra Rørosmeieriet",
                "sku": DEMO_MILK_GTIN,
            }
        }
    }


def test_serve_with_two_workers_shares_events_through_the_database_and_builds_one_index(
    tmp_path: Path,
) -> None:
    with serving(tmp_path, "--demo", "--workers", "2") as url:
        ready = httpx.get(f"{url}/readyz", timeout=10)
        deadline = time.monotonic() + WAIT
        while True:
            found = graphql(url, '{ search(query: "lettmelk Rørosmeieriet") { totalCount } }')
            if found["data"]["search"]["totalCount"] or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        lock_file = tmp_path / "search.indexer.lock"

    # "events" is checked only when a broker is set: serve chose the database broker.
    assert ready.json() == {
        "status": "ok",
        "checks": {"database": "ok", "search": "ok", "events": "ok"},
    }
    assert found == {"data": {"search": {"totalCount": 1}}}
    assert lock_file.is_file()


def test_serve_writes_json_access_lines_without_codes_tokens_or_documents(tmp_path: Path) -> None:
    sign_in = f'customerSignIn(input: {{email: "a@b.c", password: "{PASSWORD}", x: 1}})'
    leaky = f"mutation In {{ {sign_in}"
    with serving(tmp_path, OMNICART_LOG_FORMAT="json") as url:
        image = httpx.get(f"{url}/handoff/{HANDOFF_CODE}.svg", timeout=10)
        qr = httpx.get(f"{url}/handoff/{HANDOFF_CODE.lower()}/qr.png", timeout=10)
        stray = httpx.get(f"{url}/{TOKEN}", headers={"X-Request-ID": "probe-1"}, timeout=10)
        document = httpx.post(f"{url}/graphql", json={"query": leaky + " { token } }"}, timeout=10)
        introspection = graphql(url, INTROSPECTION)
    output = (tmp_path / "serve.log").read_text()
    assert (image.status_code, qr.status_code, stray.status_code) == (404, 404, 404)
    assert document.status_code == 200
    for secret in (HANDOFF_CODE, HANDOFF_CODE.lower(), TOKEN, PASSWORD):
        assert secret not in output
    assert "DEMO" not in output
    # Production by default: no introspection.
    assert introspection["data"] is None
    entries = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    access = [e for e in entries if e["logger"] == "omnicart.access"]
    assert [(e["method"], e["path"], e["status"], e["outcome"]) for e in access][-5:] == [
        ("GET", "/handoff/[code]", 404, "HTTP_404"),
        ("GET", "/handoff/[code]/qr.png", 404, "HTTP_404"),
        ("GET", "/ct_[redacted]", 404, "HTTP_404"),
        ("POST", "/graphql", 200, "GRAPHQL_VALIDATION_FAILED"),
        ("POST", "/graphql", 200, "GRAPHQL_VALIDATION_FAILED"),
    ]
    assert access[-3]["request_id"] == "probe-1" == stray.headers["x-request-id"]
    assert access[-2]["operation"] == "In"
    assert all(isinstance(e["duration_ms"], float) for e in access)
    # uvicorn's own lines are JSON too, and its unredacted access line is gone.
    assert "uvicorn.error" in {e["logger"] for e in entries}
    assert "uvicorn.access" not in {e["logger"] for e in entries}


STAFF_SIGN_IN = """
mutation SignIn($input: StaffSignInInput!) {
  staffSignIn(input: $input) { token staff { email role } errors { code } }
}
"""
CLAIM = 'mutation { cartHandoffClaim(input: {code: "K7QM-3XPA"}) { errors { code } } }'
STAFF_LINE = re.compile(r"/staff \(admin\) email (\S+) password (\S+)")
KIOSK_LINE = re.compile(
    r"Kiosk (\S+): http://127\.0\.0\.1:\d+/kiosk#device=(dv_[\w-]{43})&store=(\S+)"
)


def demo_sign_in(log: str) -> tuple[tuple[str, str], dict[str, str]]:
    """Return the printed staff (email, password) and kiosk token per store code."""
    staff = STAFF_LINE.search(one_line(log))
    assert staff is not None, log
    kiosks = {}
    for code, token, store in KIOSK_LINE.findall(log):
        assert code == store, log
        kiosks[code] = token
    return (staff[1], staff[2]), kiosks


def test_serve_demo_prints_a_working_sign_in_and_prepares_the_data_once(tmp_path: Path) -> None:
    with serving(tmp_path, "--demo") as url:
        first = (tmp_path / "serve.log").read_text()
        (email, password), kiosks = demo_sign_in(first)
        staff = graphql_as(url, STAFF_SIGN_IN, {"input": {"email": email, "password": password}})
        claims = {code: graphql_as(url, CLAIM, token=token) for code, token in kiosks.items()}
        guest_claim = graphql_as(url, CLAIM)
    with serving(tmp_path, "--demo"):
        second = (tmp_path / "serve.log").read_text()

    assert first.count("Preparing the demo data") == 1
    assert "Preparing the demo data" not in second
    assert demo_sign_in(second) == demo_sign_in(first)
    assert sorted(kiosks) == DEMO_STORE_CODES
    payload = staff["data"]["staffSignIn"]
    assert (payload["errors"], payload["staff"]) == ([], {"email": email, "role": "ADMIN"})
    assert payload["token"].startswith("ss_")
    # A signed-in kiosk gets as far as the code (a wrong one); a guest is refused outright.
    expired = {"data": {"cartHandoffClaim": {"errors": [{"code": "CODE_EXPIRED"}]}}}
    assert claims == {code: expired for code in DEMO_STORE_CODES}
    assert guest_claim == {"data": {"cartHandoffClaim": {"errors": [{"code": "UNAUTHORIZED"}]}}}
    assert query_sqlite(tmp_path, "SELECT count(*) FROM staff_users") == [(1,)]
    assert query_sqlite(tmp_path, "SELECT kind, count(*) FROM devices GROUP BY kind") == [
        ("kiosk", 4)
    ]


@pytest.mark.parametrize("limited_postgres", [20], indirect=True)
def test_serve_on_postgres_warns_when_the_pools_may_open_more_than_the_role_is_admitted(
    limited_postgres: LimitedPostgres, tmp_path: Path
) -> None:
    with serving(tmp_path, OMNICART_DATABASE_URL=limited_postgres.db.url) as url:
        stores = graphql(url, STORES)
    output = one_line((tmp_path / "serve.log").read_text())
    assert stores == {"data": {"stores": []}}
    assert (
        " WARNING omnicart [-] 1 worker may open up to 1 × 32 = 32 PostgreSQL connections "
        "(4 × OMNICART_DB_POOL_SIZE 5 + OMNICART_DB_MAX_OVERFLOW 5 + 7 each), but the server "
        "admits 20 (the role's CONNECTION LIMIT 20): under a burst"
    ) in output


def test_serve_without_demo_says_nothing_of_demo_data(tmp_path: Path) -> None:
    with serving(tmp_path):
        log = (tmp_path / "serve.log").read_text()

    assert ("Preparing the demo data" in log, "Demo sign-in" in log) == (False, False)
    assert query_sqlite(tmp_path, "SELECT count(*) FROM staff_users") == [(0,)]


def graphql_as(
    url: str, query: str, variables: dict[str, Any] | None = None, *, token: str | None = None
) -> dict[str, Any]:
    """POST one GraphQL document, with a bearer token when given; return the JSON answer."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = {"query": query, "variables": variables or {}}
    response = httpx.post(f"{url}/graphql", json=body, headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer
