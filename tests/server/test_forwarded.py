"""Which client address the rate limits count: X-Forwarded-For only from proxies one names.

Each test runs ``omnicart serve`` for real, so ``OMNICART_FORWARDED_ALLOW_IPS`` has to travel
from the settings through the command into uvicorn. The limit here is 2 failures per address:
unknown handoff codes on the image route count against the address alone. The forged
addresses are documentation addresses (RFC 5737) in a header; nothing is sent to them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from sqlalchemy import select

from server.config import Settings
from server.db import Database
from server.models import AuthFailure
from tests.live import serve_command_in_process

UNKNOWN_CODE = "/handoff/K7QM3XPA.svg"
A, B, C = "203.0.113.7", "203.0.113.8", "203.0.113.9"


def settings_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """Return the environment of a server on a fresh data dir counting 2 failures per bucket."""
    return {
        "OMNICART_DATA_DIR": str(data_dir),
        "OMNICART_AUTH_FAILURE_LIMIT": "2",
        "OMNICART_LOG_LEVEL": "WARNING",
        **extra,
    }


def guess_from(url: str, forwarded_for: list[str]) -> list[int]:
    """Ask for an unknown handoff image once per forged address; return the statuses."""
    with httpx.Client(base_url=url, timeout=10) as client:
        return [
            client.get(UNKNOWN_CODE, headers={"X-Forwarded-For": address}).status_code
            for address in forwarded_for
        ]


async def counted_buckets(data_dir: Path) -> list[str]:
    """Return the rate-limit bucket of every recorded failure, sorted."""
    db = Database(f"sqlite+aiosqlite:///{data_dir / 'omnicart.db'}")
    try:
        async with db.transaction(write=False) as session:
            return sorted((await session.execute(select(AuthFailure.bucket))).scalars())
    finally:
        await db.dispose()


async def test_a_forged_forwarded_for_from_a_client_that_is_no_named_proxy_is_ignored(
    tmp_path: Path,
) -> None:
    # uvicorn's own variable, trusting everybody, must not decide either.
    env = settings_env(tmp_path, FORWARDED_ALLOW_IPS="*")
    with serve_command_in_process(env) as url:
        statuses = await asyncio.to_thread(guess_from, url, [A, B, C])
    assert statuses == [404, 404, 429]
    assert await counted_buckets(tmp_path) == ["handoff-image:addr:127.0.0.1"] * 2


async def test_a_named_proxy_forwards_the_address_the_limit_counts(tmp_path: Path) -> None:
    env = settings_env(tmp_path, OMNICART_FORWARDED_ALLOW_IPS="127.0.0.1", FORWARDED_ALLOW_IPS="")
    with serve_command_in_process(env) as url:
        # Behind a proxy a client may still send its own header first: the proxy appends
        # the address it saw, and the rightmost address that is no named proxy counts.
        forwarded = [A, B, C, f"198.51.100.1, {A}", A]
        statuses = await asyncio.to_thread(guess_from, url, forwarded)
    assert statuses == [404, 404, 404, 404, 429]
    assert await counted_buckets(tmp_path) == [
        f"handoff-image:addr:{A}",
        f"handoff-image:addr:{A}",
        f"handoff-image:addr:{B}",
        f"handoff-image:addr:{C}",
    ]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", []),
        ("10.0.0.5", ["10.0.0.5"]),
        (" 10.0.0.5 , 10.1.0.0/16,::1 ", ["10.0.0.5", "10.1.0.0/16", "::1"]),
        ("*", ["*"]),
    ],
)
def test_trusted_proxies_are_addresses_or_networks(value: str, expected: list[str]) -> None:
    assert Settings(forwarded_allow_ips=value).trusted_proxies == expected


@pytest.mark.parametrize("value", ["proxy.internal", "10.0.0.300", "10.0.0.5,,10.0.0.6"])
def test_a_trusted_proxy_that_is_no_address_stops_the_settings(value: str) -> None:
    with pytest.raises(ValidationError, match="OMNICART_FORWARDED_ALLOW_IPS"):
        Settings(forwarded_allow_ips=value)
