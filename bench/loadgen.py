"""Closed-loop HTTP load against servers on loopback, and the figures every bench prints."""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
console = Console(width=120)


@dataclass(frozen=True)
class Figures:
    """Throughput and latency of one measured run."""

    name: str
    requests: int
    seconds: float
    latencies_ms: Sequence[float]
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def percentile(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    @property
    def p99(self) -> float:
        return self.percentile(99)


def percentile(values: Sequence[float], q: float) -> float:
    """Return the ``q``-th percentile (0 to 100) of ``values`` by nearest rank; NaN for none."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
    return ordered[index]


def free_port() -> int:
    """Return a TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def answers(url: str, *, status: int | None = None) -> bool:
    """Return whether ``url`` answers right now (with ``status``, when one is given)."""
    try:
        response = httpx.get(url, timeout=1)
    except httpx.HTTPError:
        return False
    return status is None or response.status_code == status


@contextmanager
def running(
    command: Sequence[str],
    env: dict[str, str],
    ready: Callable[[], bool],
    *,
    pass_fds: Sequence[int] = (),
) -> Iterator[None]:
    """Run a server command in a subprocess for the block, once ``ready()`` (120 s at most:
    two workers importing the app on a busy shared machine took over 30)."""
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT, pass_fds=pass_fds)
    try:
        deadline = time.monotonic() + 120
        while not ready():
            if process.poll() is not None:
                raise RuntimeError(f"{command} exited with {process.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command} did not start within 120 s")
            time.sleep(0.05)
        yield
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


@contextmanager
def uvicorn_server(target: str, env: dict[str, str], *, app_dir: Path = ROOT) -> Iterator[str]:
    """Run ``uvicorn --factory target`` in a subprocess on a free port; yield its base URL."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        target,
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--log-level",
        "warning",
        "--app-dir",
        str(app_dir),
        "--ws",
        "websockets-sansio",
    ]
    base = f"http://127.0.0.1:{port}"
    with running(command, env, lambda: answers(base + "/healthz", status=200)):
        yield base


async def closed_loop(
    name: str,
    base_url: str,
    request: Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]],
    *,
    concurrency: int,
    seconds: float,
    warmup: float = 1.0,
) -> Figures:
    """Keep ``concurrency`` requests in flight for ``seconds``; time each one."""
    latencies: list[float] = []
    errors = 0
    counter = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base_url, limits=limits, timeout=30) as client:

        async def worker(stop_at: float, record: bool) -> None:
            nonlocal errors, counter
            while time.perf_counter() < stop_at:
                counter += 1
                started = time.perf_counter()
                response = await request(client, counter)
                elapsed = (time.perf_counter() - started) * 1000
                if not record:
                    continue
                if response.status_code >= 400 or b'"errors"' in response.content[:200]:
                    errors += 1
                latencies.append(elapsed)

        await asyncio.gather(
            *(worker(time.perf_counter() + warmup, False) for _ in range(concurrency))
        )
        started = time.perf_counter()
        await asyncio.gather(*(worker(started + seconds, True) for _ in range(concurrency)))
        took = time.perf_counter() - started
    return Figures(name, len(latencies), took, latencies, errors)


def print_figures(title: str, runs: Sequence[Figures], baseline: Figures) -> None:
    """Print a table of each run with its throughput ratio against the baseline run."""
    table = Table(title=title)
    for column in ("run", "requests", "req/s", "p50 ms", "p99 ms", "errors", "req/s vs baseline"):
        table.add_column(column, justify="right" if column != "run" else "left")
    for run in runs:
        ratio = run.rps / baseline.rps if baseline.rps else float("nan")
        table.add_row(
            run.name,
            str(run.requests),
            f"{run.rps:,.0f}",
            f"{run.p50:.2f}",
            f"{run.p99:.2f}",
            str(run.errors),
            f"{ratio:.2f}",
        )
    console.print(table)
