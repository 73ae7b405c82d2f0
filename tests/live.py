"""Real servers on loopback and a small graphql-transport-ws client, for socket-level tests.

``serve_in_thread`` runs the app in a ``uvicorn.Server`` on a thread with its own event
loop; ``serve_in_process`` starts ``uvicorn omnicart.app:app_from_env`` as a separate
process (as ``omnicart serve`` workers run), configured by environment variables only.
Both listen on a socket bound here to a free port, and both are always stopped.
``serve_command_in_process`` runs ``omnicart serve`` itself, so what the command hands
uvicorn (trusted proxies, log level) is what the test sees.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

from omnicart.cli import WORKER_HEALTHCHECK_SECONDS
from server.config import Settings

ROOT = Path(__file__).resolve().parents[1]
PROTOCOL = Subprotocol("graphql-transport-ws")
WAIT = 10.0  # seconds any single step of a socket test may take


def listening_socket() -> socket.socket:
    """Return a TCP socket listening on a free loopback port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # uvicorn's --fd takes an inherited socket for a Unix one and never sets TCP_NODELAY;
    # accepted connections inherit it from the listener (else Nagle adds ~40 ms per answer).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


# uvicorn closes a connection idle for its keep-alive (5 s by default) and httpx's pool reuses
# one idle for up to 5 s: a request sent on such a connection while the server's loop is busy
# (the close runs after the request's bytes arrived, unread) is answered by a reset,
# httpx.ReadError, and a checkout cannot be retried blindly. Test servers keep idle
# connections open longer than any test runs.
KEEP_ALIVE_S = 600


@contextmanager
def serve_in_thread(settings: Settings) -> Iterator[str]:
    """Serve a fresh app for ``settings`` with uvicorn on a thread; yield its base URL."""
    from omnicart.app import create_app

    app = create_app(settings, migrate=False)
    sock = listening_socket()
    config = uvicorn.Config(
        app,
        ws="websockets-sansio",
        log_level="warning",
        lifespan="on",
        timeout_keep_alive=KEEP_ALIVE_S,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + WAIT
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(WAIT)
        sock.close()


@contextmanager
def serve_in_process(env: dict[str, str], *, workers: int = 1) -> Iterator[str]:
    """Start ``uvicorn omnicart.app:app_from_env`` in a subprocess; yield its base URL.

    ``env`` holds the ``OMNICART_*`` settings; the process inherits the listening socket.
    """
    sock = listening_socket()
    fd = sock.fileno()
    command = [
        sys.executable, "-m", "uvicorn", "omnicart.app:app_from_env", "--factory",
        "--fd", str(fd), "--ws", "websockets-sansio", "--log-level", "warning",
        "--workers", str(workers), "--timeout-keep-alive", str(KEEP_ALIVE_S),
        "--timeout-worker-healthcheck", str(WORKER_HEALTHCHECK_SECONDS),
    ]  # fmt: skip
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    process = subprocess.Popen(command, cwd=ROOT, env=full_env, pass_fds=(fd,))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        wait_until_healthy(process, url)
        yield url
    finally:
        stop(process)
        sock.close()


@contextmanager
def serve_command_in_process(env: dict[str, str]) -> Iterator[str]:
    """Run ``omnicart serve --port N`` in a subprocess; yield its base URL.

    ``env`` holds the ``OMNICART_*`` settings. The command binds the port itself, so the
    free port is found by binding and closing a socket just before (a small window).
    """
    with listening_socket() as probe:
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "omnicart.cli", "serve", "--port", str(port)]
    full_env = {**os.environ, "PYTHONPATH": str(ROOT), **env}
    process = subprocess.Popen(command, cwd=ROOT, env=full_env)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(process, url)
        yield url
    finally:
        stop(process)


def wait_until_healthy(
    process: subprocess.Popen[bytes], url: str, *, within: float = 3 * WAIT
) -> None:
    """Wait until the server process answers ``url``'s /healthz; raise if it exits first."""
    deadline = time.monotonic() + within
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("the server did not answer /healthz in time")
        time.sleep(0.05)


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ask a server process to stop (SIGTERM); kill it when it has not within ``WAIT``."""
    process.terminate()
    try:
        process.wait(WAIT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(WAIT)


class GraphQLWebSocket:
    """One graphql-transport-ws connection: connection_init, subscribe, next, complete."""

    def __init__(self, websocket: ClientConnection) -> None:
        self.websocket = websocket
        self._ids = 0

    @classmethod
    @asynccontextmanager
    async def connect(
        cls, base_url: str, payload: dict[str, Any] | None = None
    ) -> AsyncIterator[GraphQLWebSocket]:
        """Open a connection to ``base_url``'s /graphql and wait for its connection_ack."""
        url = base_url.replace("http://", "ws://", 1) + "/graphql"
        async with connect(url, subprotocols=[PROTOCOL], open_timeout=WAIT) as websocket:
            client = cls(websocket)
            await client.send({"type": "connection_init", "payload": payload or {}})
            ack = await client.receive()
            if ack.get("type") != "connection_ack":
                raise AssertionError(f"expected connection_ack, got {ack}")
            yield client

    async def send(self, message: dict[str, Any]) -> None:
        """Send one protocol message."""
        await self.websocket.send(json.dumps(message))

    async def receive(self, within: float = WAIT) -> dict[str, Any]:
        """Return the next protocol message (waiting ``within`` seconds), answering pings."""
        while True:
            raw = await asyncio.wait_for(self.websocket.recv(), within)
            message: dict[str, Any] = json.loads(raw)
            if message.get("type") == "ping":
                await self.send({"type": "pong"})
                continue
            return message

    async def subscribe(self, query: str, variables: dict[str, Any] | None = None) -> str:
        """Start an operation; return its id."""
        self._ids += 1
        op_id = str(self._ids)
        payload = {"query": query, "variables": variables or {}}
        await self.send({"id": op_id, "type": "subscribe", "payload": payload})
        return op_id

    async def next(self, op_id: str, within: float = WAIT) -> dict[str, Any]:
        """Return the next ``next``, ``error`` or ``complete`` message of an operation."""
        while True:
            message = await self.receive(within)
            if message.get("id") == op_id:
                return message

    async def complete(self, op_id: str) -> None:
        """Stop an operation."""
        await self.send({"id": op_id, "type": "complete"})
