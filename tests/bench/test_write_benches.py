"""The write benches' parts: the plain baselines do the write they stand for, wrk's script sends
each prepared request once, and the server's CPU counts its worker processes."""

from __future__ import annotations

import asyncio
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import select
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench.loadgen import (
    Drive,
    Load,
    Prepared,
    Server,
    cpu_seconds,
    write_requests,
    wrk_together,
    wrk_writes,
)
from bench.plain_writes import plain_app
from server.db import Database
from server.models import Cart, CartLine, StockLevel, utcnow
from server.states import CartStatus
from server.tokens import CART_PREFIX, new_token, token_hash
from tests.live import listening_socket
from tests.rows import add_product, add_store, fresh_ean13


def plain_client(db: Database) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=plain_app(db)), base_url="http://t")


async def levels(db: Database, location: int) -> dict[int, tuple[int, int]]:
    async with db.transaction(write=False) as session:
        rows = await session.execute(
            select(StockLevel.product_id, StockLevel.on_hand, StockLevel.reserved).where(
                StockLevel.location_id == location
            )
        )
        return {pid: (on_hand, reserved) for pid, on_hand, reserved in rows}


async def test_plain_reserve_reserves_every_line_or_none(db: Database) -> None:
    _, location = await add_store(db, "OSL")
    first = await add_product(db, gtins=[fresh_ean13()], stock={location: (5, 0)})
    second = await add_product(db, gtins=[fresh_ean13()], stock={location: (1, 0)})
    async with plain_client(db) as client:
        both = {"location": location, "lines": [[first, 2], [second, 1]]}
        assert (await client.post("/reserve", json=both)).json() == {"reserved": True}
        short = {"location": location, "lines": [[first, 2], [second, 1]]}
        refused = (await client.post("/reserve", json=short)).json()
    assert refused == {"errors": [{"code": "INSUFFICIENT_STOCK"}]}
    assert await levels(db, location) == {first: (5, 2), second: (1, 1)}  # the refusal: nothing


async def test_plain_add_bumps_the_version_and_adds_a_unit(db: Database) -> None:
    product = await add_product(db, gtins=[fresh_ean13()])
    now = utcnow()
    async with db.transaction() as session:
        cart = Cart(token_hash=token_hash(new_token(CART_PREFIX)), status=CartStatus.ACTIVE,
                    version=1, created_at=now, updated_at=now)  # fmt: skip
        session.add(cart)
        await session.flush()
        cart_id = cart.id
    async with plain_client(db) as client:
        answers = [
            (await client.post("/add", json={"cart_id": cart_id, "product_id": product})).json()
            for _ in range(3)
        ]
    async with db.transaction(write=False) as session:
        quantity = await session.scalar(select(CartLine.quantity))
    assert answers == [{"version": 2}, {"version": 3}, {"version": 4}]
    assert quantity == 3


@contextmanager
def recording_server(received: list[dict[str, object]]) -> Iterator[str]:
    """A server on a thread that records each JSON body and its token; bodies with "bad"
    are answered with an error object, the rest with {"errors": []}. A body with "waits" is
    answered once a body with "opens" arrived (an error after 20 s)."""
    opened = asyncio.Event()

    async def take(request: Request) -> JSONResponse:
        body = await request.json()
        received.append({"body": body, "token": request.headers.get("x-cart-token", "")})
        if body.get("opens"):
            opened.set()
        if body.get("waits"):
            try:
                await asyncio.wait_for(opened.wait(), 20)
            except TimeoutError:
                return JSONResponse({"errors": [{"code": "NEVER_OPENED"}]})
        return JSONResponse({"errors": [{"code": "BAD"}] if body.get("bad") else []})

    app = Starlette(routes=[Route("/w", take, methods=["POST"])])
    sock = listening_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install wrk)")
def test_wrk_sends_every_prepared_request_once_and_counts_the_failed(tmp_path: Path) -> None:
    requests = [
        Prepared("/w", {"n": n, "bad": n % 10 == 0}, f"token-{n}" if n % 2 else "")
        for n in range(1, 51)
    ]
    received: list[dict[str, object]] = []
    with recording_server(received) as base:
        measured = wrk_writes(
            "once",
            Server(base, os.getpid()),
            write_requests(tmp_path / "requests.txt", requests),
            mode="once",
            ok='"errors":[]',
            drive=Drive(connections=8, seconds=60),
        )
    sent = sorted((r["body"]["n"], r["token"]) for r in received)  # type: ignore[index]
    assert sent == [(r.body["n"], r.token) for r in requests]  # type: ignore[index]
    assert (measured.requests, measured.errors) == (50, 5)
    assert measured.seconds < 60  # it ended when all were answered, not at wrk's duration


@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install wrk)")
def test_wrk_together_runs_the_loads_at_once_and_keeps_their_figures_apart(
    tmp_path: Path,
) -> None:
    # Every request of the first load waits for one of the second: run one after the
    # other, the first would fail them all.
    first = [Prepared("/w", {"n": n, "waits": True}) for n in range(1, 21)]
    second = [Prepared("/w", {"n": n, "opens": True, "bad": n > 27}, "t") for n in range(21, 31)]
    received: list[dict[str, object]] = []
    with recording_server(received) as base:
        measured, used = wrk_together(
            Server(base, os.getpid()),
            [
                Load("first", write_requests(tmp_path / "1", first), "once", '"errors":[]', 4),
                Load("second", write_requests(tmp_path / "2", second), "once", '"errors":[]', 2),
            ],
            seconds=60,
        )
    assert sorted(r["body"]["n"] for r in received) == list(range(1, 31))  # type: ignore[index]
    assert [(m.name, m.requests, m.errors) for m in measured] == [
        ("first", 20, 0),
        ("second", 10, 3),
    ]
    # The server's CPU is one figure for all loads (here: this process and its wrk children).
    assert all(math.isnan(m.cpu_seconds) for m in measured) and used > 0


@pytest.mark.skipif(shutil.which("wrk") is None, reason="needs wrk (apt-get install wrk)")
def test_a_paused_connection_waits_before_each_request(tmp_path: Path) -> None:
    received: list[dict[str, object]] = []
    with recording_server(received) as base:
        measured = wrk_writes(
            "paused",
            Server(base, os.getpid()),
            write_requests(tmp_path / "requests.txt", [Prepared("/w", {"n": 1})]),
            mode="cycle",
            ok='"errors":[]',
            drive=Drive(connections=1, seconds=2),
            pause_ms=400,
        )
    # 2 s of 400 ms pauses leave room for 5 requests at most (unpaused: thousands).
    assert 1 <= measured.requests <= 5 and measured.errors == 0


def test_prepared_requests_are_one_line_each(tmp_path: Path) -> None:
    body = {"query": "mutation {\n\tcheckout }", "variables": {"a": "b\tc"}}
    path = write_requests(tmp_path / "r.txt", [Prepared("/graphql", body, "tok")])
    (line,) = path.read_text().splitlines()
    route, token, text = line.split("\t")
    assert (route, token, json.loads(text)) == ("/graphql", "tok", body)


def own_cpu_seconds(pid: int) -> float:
    """The CPU seconds of ``pid`` alone, from its /proc stat."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_server_cpu_counts_the_worker_processes() -> None:
    burn = (
        "import time\n"
        "while time.process_time() < 0.3: pass\n"
        "print('burnt', flush=True)\n"
        "time.sleep(30)\n"
    )
    child = subprocess.Popen([sys.executable, "-c", burn], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "burnt\n"
        burnt, own = own_cpu_seconds(child.pid), own_cpu_seconds(os.getpid())
        assert burnt >= 0.29
        assert cpu_seconds(child.pid) == burnt  # the child has no children
        # The parent's figure holds the child's CPU besides its own.
        assert cpu_seconds(os.getpid()) >= own + burnt
    finally:
        child.kill()
        child.wait()
        child.stdout.close()  # type: ignore[union-attr]
