"""The failed-attempt counter: admission before verification, bursts, rollbacks, the window."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from server.db import Database
from server.errors import RateLimited
from server.housekeeping import expire_rows
from server.models import AuthFailure, Store, utcnow
from server.ratelimit import AttemptCounter, AttemptLimit, OperationAttemptCounter
from tests.clients import graphql
from tests.documents import HANDOFF_CLAIM
from tests.live import serve_in_process
from tests.rows import add_device, add_store

TEN_MINUTES = timedelta(minutes=10)


async def stored(db: Database) -> list[str]:
    """Return the buckets of every stored failure, in insertion order."""
    async with db.transaction(write=False) as session:
        rows = await session.execute(select(AuthFailure.bucket).order_by(AuthFailure.id))
        return list(rows.scalars())


async def test_a_burst_of_wrong_attempts_gets_exactly_the_limit_verified(db: Database) -> None:
    counter = AttemptCounter(db, AttemptLimit(10, TEN_MINUTES))
    verified: list[int] = []

    async def guess(i: int) -> str:
        try:
            async with counter.attempt(["claim:device:1", "claim:addr:10.0.0.1"], utcnow()):
                verified.append(i)
                await asyncio.sleep(0)  # let the rest of the burst in while this one checks
        except RateLimited:
            return "RATE_LIMITED"
        return "WRONG"

    answers = await asyncio.gather(*(guess(i) for i in range(60)))
    assert len(verified) == 10
    assert answers.count("WRONG") == 10 and answers.count("RATE_LIMITED") == 50
    assert sorted(await stored(db)) == ["claim:addr:10.0.0.1"] * 10 + ["claim:device:1"] * 10


async def test_a_full_bucket_refuses_even_the_right_answer_without_running_it(
    db: Database,
) -> None:
    counter = AttemptCounter(db, AttemptLimit(2, TEN_MINUTES))
    for _ in range(2):
        async with counter.attempt(["signin:email:k"], utcnow()):
            pass
    ran = False
    with pytest.raises(RateLimited, match="try again in up to 10 minutes"):
        async with counter.attempt(["signin:email:k"], utcnow()) as attempt:
            ran = True
            attempt.succeeded()
    assert ran is False
    assert await stored(db) == ["signin:email:k"] * 2


async def test_a_right_attempt_is_uncounted(db: Database) -> None:
    counter = AttemptCounter(db, AttemptLimit(1, TEN_MINUTES))
    for _ in range(3):
        async with counter.attempt(["signin:email:k"], utcnow()) as attempt:
            attempt.succeeded()
    assert await stored(db) == []


async def test_failures_age_out_of_the_sliding_window(db: Database) -> None:
    counter = AttemptCounter(db, AttemptLimit(2, TEN_MINUTES))
    start = utcnow()
    for _ in range(2):
        async with counter.attempt(["claim:device:1"], start):
            pass
    with pytest.raises(RateLimited):
        async with counter.attempt(["claim:device:1"], start + timedelta(minutes=9)):
            pass
    async with counter.attempt(["claim:device:1"], start + timedelta(minutes=10, seconds=1)):
        pass
    # Counting deletes nothing (housekeeping does, off the request path): the two aged-out
    # failures stay until it runs, then only the new one is kept.
    async with db.transaction(write=False) as session:
        assert (await session.execute(select(func.count(AuthFailure.id)))).scalar_one() == 3
    expired = await expire_rows(
        db, failure_window=TEN_MINUTES, now=start + timedelta(minutes=10, seconds=1)
    )
    assert expired.auth_failures == 2
    async with db.transaction(write=False) as session:
        times = list((await session.execute(select(AuthFailure.occurred_at))).scalars())
    assert [t.replace(tzinfo=None) for t in times] == [
        (start + timedelta(minutes=10, seconds=1)).replace(tzinfo=None)
    ]


async def test_a_failure_counted_inside_a_sqlite_operation_outlives_its_rollback(
    sqlite_db: Database,
) -> None:
    rule = AttemptLimit(3, TEN_MINUTES)
    async with sqlite_db.writer_turn():
        session = sqlite_db.session(write=True)
        await session.begin()
        counter = await OperationAttemptCounter.begin(sqlite_db, rule, session)
        session.add(Store(code="GONE", name="Rolled back"))
        await session.flush()
        with pytest.raises(PermissionError):
            async with counter.attempt(["signin:email:k"], utcnow()):
                raise PermissionError("wrong password")
        async with counter.attempt(["signin:email:k"], utcnow()) as right:
            right.succeeded()
        await counter.roll_back()
        await session.close()
    async with sqlite_db.transaction(write=False) as check:
        stores = await check.scalar(select(func.count()).select_from(Store))
    assert stores == 0
    assert await stored(sqlite_db) == ["signin:email:k"]


async def test_admissions_inside_a_sqlite_operation_count_its_own_failures(
    sqlite_db: Database,
) -> None:
    rule = AttemptLimit(2, TEN_MINUTES)
    answers = []
    async with sqlite_db.writer_turn():
        session = sqlite_db.session(write=True)
        await session.begin()
        counter = await OperationAttemptCounter.begin(sqlite_db, rule, session)
        for bucket in ["claim:device:1", "claim:device:1", "signin:email:k", "claim:device:1"]:
            try:
                async with counter.attempt([bucket], utcnow()):
                    answers.append("WRONG")
            except RateLimited:
                answers.append("RATE_LIMITED")
        await counter.commit()
        await session.close()
    assert answers == ["WRONG", "WRONG", "WRONG", "RATE_LIMITED"]
    assert sorted(await stored(sqlite_db)) == ["claim:device:1"] * 2 + ["signin:email:k"]


async def test_two_server_processes_share_one_limit_under_a_burst(
    db: Database, tmp_path: Path
) -> None:
    await add_store(db, "OSL")
    kiosk = {"Authorization": f"Bearer {await add_device(db, 'OSL')}"}
    env = {
        "OMNICART_DATABASE_URL": db.url,
        "OMNICART_SECRET_KEY": uuid.uuid4().hex,
        "OMNICART_DATA_DIR": str(tmp_path / "data"),
        "OMNICART_INDEX_ON_START": "false",
        "OMNICART_AUTH_FAILURE_LIMIT": "10",
    }
    with serve_in_process(env) as first, serve_in_process(env) as second:
        async with (
            httpx.AsyncClient(base_url=first, timeout=30) as one,
            httpx.AsyncClient(base_url=second, timeout=30) as other,
        ):
            bodies = await asyncio.gather(
                *(
                    graphql(
                        one if i % 2 else other, HANDOFF_CLAIM, {"input": {"code": code}}, kiosk
                    )
                    for i, code in enumerate(f"ZZZZ-ZZ{a}{b}" for a in "234" for b in "2345678")
                )
            )
    codes = [b["data"]["cartHandoffClaim"]["errors"][0]["code"] for b in bodies]  # type: ignore[index]
    assert len(codes) == 21
    assert codes.count("CODE_EXPIRED") == 10
    assert codes.count("RATE_LIMITED") == 11
    assert sorted(set(await stored(db))) == ["claim:addr:127.0.0.1", "claim:device:1"]
