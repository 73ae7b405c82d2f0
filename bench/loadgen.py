"""Servers on loopback for the benches, load from wrk, and the figures the write benches print."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
console = Console(width=120)


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
        _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Ask a server process to stop; kill it after 10 s."""
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(10)


# --- servers with workers, their CPU, and wrk driving prepared requests --------------------


def pinning(workers: int, *, pin: bool = True) -> tuple[str | None, str | None, str]:
    """Return the CPU lists of server and load generator, and how the run was pinned.

    The server gets the first ``workers`` CPUs and wrk the rest, when there are more CPUs
    than workers and taskset exists; else nothing is pinned.
    """
    cpus = sorted(os.sched_getaffinity(0))
    if not pin or shutil.which("taskset") is None or len(cpus) < workers + 1:
        return None, None, f"unpinned ({len(cpus)} CPUs)"
    server, load = cpus[:workers], cpus[workers:]
    as_list = lambda group: ",".join(map(str, group))  # noqa: E731
    return as_list(server), as_list(load), f"server {as_list(server)}, wrk {as_list(load)}"


def cpu_seconds(pid: int) -> float:
    """Return the CPU seconds (user + system) used so far by ``pid`` and its descendants.

    Read from /proc, so a uvicorn master counts with its worker processes; on a busy shared
    machine CPU per request stays comparable where requests per second do not.
    """
    children: dict[int, list[int]] = {}
    used: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:  # gone meanwhile
            continue
        # The command name may hold spaces: the fields start after its closing parenthesis.
        fields = stat[stat.rindex(")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
        used[int(entry)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [pid]
    while todo:
        current = todo.pop()
        total += used.get(current, 0.0)
        todo.extend(children.get(current, []))
    return total


@dataclass(frozen=True)
class Server:
    """A server process running for a block: its base URL and process id."""

    base: str
    pid: int


@contextmanager
def served(
    target: str, env: dict[str, str], *, workers: int = 1, cpus: str | None = None
) -> Iterator[Server]:
    """Run ``uvicorn --factory target --workers N`` (on ``cpus`` by taskset); yield it.

    As ``omnicart serve`` runs it: with more than one worker, live events go through the
    database unless ``env`` names a broker.
    """
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", "--factory", target, "--host", "127.0.0.1",
        "--port", str(port), "--workers", str(workers), "--log-level", "warning",
        "--no-access-log", "--ws", "websockets-sansio",
        # wrk's connections idle only at the end of a run, waiting for the others: not closed.
        "--timeout-keep-alive", "600",
    ]  # fmt: skip
    if cpus is not None:
        command = ["taskset", "--cpu-list", cpus, *command]
    full_env = {"PYTHONPATH": str(ROOT), **env}
    if workers > 1:
        full_env.setdefault("OMNICART_BROKER_URL", "database")
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(command, env={**os.environ, **full_env}, cwd=ROOT)
    try:
        _wait_ready(process, base, workers)
        yield Server(base, process.pid)
    finally:
        _stop(process)


def _wait_ready(process: subprocess.Popen[bytes], base: str, workers: int) -> None:
    """Wait until ``base`` answers, every worker process exists and their start-up (imports,
    migrations: CPU-bound) is over, so no measured run shares the CPUs with it (120 s at most).
    """
    deadline = time.monotonic() + 120
    wanted = workers + 1 if workers > 1 else 1  # uvicorn's master, when it has workers
    while not (_processes(process.pid) >= wanted and answers(base + "/healthz")):
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not start within 120 s")
        time.sleep(0.05)
    used = cpu_seconds(process.pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        used, before = cpu_seconds(process.pid), used
        if used - before < 0.1:  # the processes are idle now
            return


def _processes(pid: int) -> int:
    """Return how many processes ``pid`` and its descendants are (a master counts too)."""
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                    count += 1
    return count + 1


WRITES_LUA = Path(__file__).with_name("writes.lua")


@dataclass(frozen=True)
class Prepared:
    """One write wrk sends: the path, the cart's token (or none) and the JSON body."""

    path: str
    body: object
    token: str = ""


def write_requests(path: Path, requests: Sequence[Prepared]) -> Path:
    """Write what bench/writes.lua reads: one request a line, path, token and body."""
    with path.open("w") as out:
        for r in requests:
            out.write(f"{r.path}\t{r.token}\t{json.dumps(r.body, separators=(',', ':'))}\n")
    return path


@dataclass(frozen=True)
class Measured:
    """wrk's figures of one run, with the server's CPU time over it."""

    name: str
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_seconds: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def cpu_ms(self) -> float:
        """Server CPU milliseconds per answered request."""
        return 1000 * self.cpu_seconds / self.requests if self.requests else float("nan")


def combined(name: str, parts: Sequence[Measured]) -> Measured:
    """Return the figures of several runs of one setup as one: their requests, time, errors
    and CPU summed, the median of their p50s and the highest of their p99s."""
    return Measured(
        name=name,
        requests=sum(p.requests for p in parts),
        seconds=sum(p.seconds for p in parts),
        p50_ms=statistics.median(p.p50_ms for p in parts),
        p99_ms=max(p.p99_ms for p in parts),
        errors=sum(p.errors for p in parts),
        cpu_seconds=sum(p.cpu_seconds for p in parts),
    )


@dataclass(frozen=True)
class Drive:
    """How wrk drives a run: connections, the CPUs it may use, and the longest it may take."""

    connections: int
    seconds: float
    cpus: str | None = None


def wrk_writes(
    name: str,
    server: Server,
    requests: Path,
    *,
    mode: str,
    ok: str,
    drive: Drive,
    pause_ms: float = 0,
) -> Measured:
    """Run wrk with bench/writes.lua over the prepared ``requests`` against ``server``.

    ``mode`` "once" sends every request once (the run lasts until all are answered, at most
    ``drive.seconds``); "cycle" repeats them for ``drive.seconds``, each connection waiting
    ``pause_ms`` before each request. Counts as errors the answers that are not a 200
    holding ``ok`` and no error, and socket errors.
    """
    lines = len(requests.read_text().splitlines())
    threads = min(2, len(drive.cpus.split(",")) if drive.cpus else 2, lines, drive.connections)
    command = [
        "wrk", "--threads", str(threads), "--connections", str(drive.connections),
        "--duration", f"{max(1, round(drive.seconds))}s", "--timeout", "30s",
        "--script", str(WRITES_LUA), server.base, "--", mode, str(requests), ok, str(threads),
        f"{pause_ms:g}",
    ]  # fmt: skip
    if drive.cpus is not None:
        command = ["taskset", "--cpu-list", drive.cpus, *command]
    before = cpu_seconds(server.pid)
    out = _run_wrk(command, threads if mode == "once" else 0)
    used = cpu_seconds(server.pid) - before
    figures = json.loads(next(x for x in out.splitlines() if x.startswith("BENCH "))[6:])
    return Measured(
        name=name,
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        errors=figures["failed"] + figures["socket_errors"],
        cpu_seconds=used,
    )


def _run_wrk(command: list[str], finishing_threads: int) -> str:
    """Run wrk; return its standard output. With ``finishing_threads``, interrupt it once
    that many threads said DONE (wrk would sleep out its duration, and count it)."""
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT
    )
    assert process.stderr is not None
    done = 0
    interrupted = False
    for line in process.stderr if finishing_threads else ():
        done += line.startswith("DONE")
        if done == finishing_threads:
            process.send_signal(signal.SIGINT)
            interrupted = True
            break
    while True:
        try:
            out, err = process.communicate(timeout=0.2 if interrupted else None)
            break
        except subprocess.TimeoutExpired:
            # Threads that finish before wrk's main thread starts sleeping out the duration
            # (a short run) meet a SIGINT that only sets its stop flag; the sleep after it
            # then lasts the whole duration. Another SIGINT cuts that sleep short.
            process.send_signal(signal.SIGINT)
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {err}")
    return out


@dataclass(frozen=True)
class Load:
    """One of several wrk processes run at once: its name, prepared requests, mode ("once" or
    "cycle"), what an answer must hold, its connections and their pause (as ``wrk_writes``)."""

    name: str
    requests: Path
    mode: str
    ok: str
    connections: int
    pause_ms: float = 0


def wrk_together(
    server: Server, loads: Sequence[Load], *, seconds: float, cpus: str | None = None
) -> tuple[list[Measured], float]:
    """Run one wrk process per load against ``server`` at the same time, for ``seconds``.

    Each process is ``wrk_writes``' and prints its own figures, so latencies stay apart per
    load. Returns each load's figures, with NaN for their own ``cpu_seconds`` (the processes
    overlap, so the server's CPU cannot be told apart per load), and the server's CPU
    seconds over them all.
    """

    def one(load: Load) -> Measured:
        drive = Drive(load.connections, seconds, cpus)
        return wrk_writes(
            load.name, server, load.requests, mode=load.mode, ok=load.ok, drive=drive,
            pause_ms=load.pause_ms,
        )  # fmt: skip

    before = cpu_seconds(server.pid)
    with ThreadPoolExecutor(len(loads)) as pool:
        measured = list(pool.map(one, loads))
    used = cpu_seconds(server.pid) - before
    return [replace(m, cpu_seconds=float("nan")) for m in measured], used


def print_measured(title: str, rows: Sequence[tuple[str, int, Measured, Measured]]) -> None:
    """Print one row per (database, workers, run, its baseline): per second, p50/p99, errors,
    the server's CPU ms per request and the ratio of per second to the baseline's."""
    table = Table(title=title)
    columns = ("database", "workers", "run", "requests", "per s", "p50 ms", "p99 ms", "errors",
               "CPU ms each", "× baseline")  # fmt: skip
    for column in columns:
        table.add_column(column, justify="left" if column in ("database", "run") else "right")
    for database, workers, run, baseline in rows:
        ratio = run.rps / baseline.rps if baseline.rps else float("nan")
        table.add_row(
            database, str(workers), run.name, str(run.requests), f"{run.rps:,.0f}",
            f"{run.p50_ms:.1f}", f"{run.p99_ms:.1f}", str(run.errors), f"{run.cpu_ms:.2f}",
            f"{ratio:.2f}",
        )  # fmt: skip
    console.print(table)
