"""Following a row live: what a subscription sends now, then after every committed change."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import Any, Protocol, TypeVar

from schema.context import Context
from server.errors import AppError
from server.events import Broker
from server.outages import is_lost_connection
from server.viewer import Viewer

log = logging.getLogger("omnicart.graphql")
# While the event broker is unreachable, how often a subscription tries to listen again.
LIVE_RETRY_SECONDS = 2.0


class Versioned(Protocol):
    """A snapshot whose ``version`` counts its row's changes."""

    @property
    def version(self) -> int: ...


V = TypeVar("V", bound=Versioned)


async def _listen(
    stack: contextlib.AsyncExitStack, broker: Broker, topic: str
) -> AsyncIterator[dict[str, Any]] | None:
    """Subscribe to ``topic`` inside ``stack``; None when the broker cannot be reached."""
    try:
        return await stack.enter_async_context(broker.subscribe(topic))
    except Exception as exc:
        if not is_lost_connection(exc):
            raise
        log.warning("live updates paused on %s: event broker unreachable (%s)", topic, exc)
        return None


async def follow_versions(
    ctx: Context,
    topic: str,
    read: Callable[[Viewer], Awaitable[V | None]],
    missing: AppError,
) -> AsyncGenerator[tuple[V, bool], None]:
    """Yield ``(snapshot, live)`` now, then again whenever ``topic`` announces a newer version.

    Each read runs in a short read transaction of its own (``ctx.delivery()``, which
    ``ctx.session()`` answers from) with the viewer resolved again, and the snapshot is
    yielded inside it so its fields resolve there too. When ``read`` finds nothing (the row
    went out of the caller's reach) the subscription ends with ``missing``. Quick changes may
    arrive as one: a notice for a version already shown is skipped.

    ``live`` is False while the event broker cannot be reached: the subscriber still gets the
    current state from the database, and every ``LIVE_RETRY_SECONDS`` the subscription tries
    to listen again; once it can, it sends the state afresh with ``live`` True.
    """
    shown, shown_live = 0, None
    while True:
        async with contextlib.AsyncExitStack() as stack:
            # Listen before the first read, so a change committed in between is not missed.
            notices = await _listen(stack, ctx.runtime.events, topic)
            live = notices is not None
            while True:
                async with ctx.delivery():
                    found = await read(await ctx.viewer())
                    if found is None:
                        raise missing
                    if found.version > shown or live != shown_live:
                        shown, shown_live = found.version, live
                        yield found, live
                if notices is None:
                    break
                async for notice in notices:
                    if int(notice.get("version", 0)) > shown:
                        break
        await asyncio.sleep(LIVE_RETRY_SECONDS)


T = TypeVar("T")


async def follow_notices(
    ctx: Context,
    topic: str,
    concerns: Callable[[dict[str, Any]], bool],
    read: Callable[[], Awaitable[T | None]],
    missing: AppError,
) -> AsyncGenerator[T, None]:
    """Yield ``read()`` now, then again after notices on ``topic`` that ``concerns`` accepts.

    Notices are gathered while the subscriber is busy, so a burst of changes is answered by
    one read of the newest state. Each read runs in ``ctx.delivery()`` and is yielded inside
    it (its fields resolve there). When the broker cannot be reached the state is still sent,
    and every ``LIVE_RETRY_SECONDS`` the subscription tries to listen again (then sends the
    state afresh). ``read`` finding nothing ends the subscription with ``missing``.
    """
    while True:
        async with contextlib.AsyncExitStack() as stack:
            notices = await _listen(stack, ctx.runtime.events, topic)
            changed = asyncio.Event()
            if notices is not None:
                stack.push_async_callback(
                    _stop, asyncio.create_task(_watch(notices, concerns, changed))
                )
            while True:
                async with ctx.delivery():
                    found = await read()
                    if found is None:
                        raise missing
                    yield found
                if notices is None:
                    break
                await changed.wait()
                changed.clear()
        await asyncio.sleep(LIVE_RETRY_SECONDS)


async def _watch(
    notices: AsyncIterator[dict[str, Any]],
    concerns: Callable[[dict[str, Any]], bool],
    changed: asyncio.Event,
) -> None:
    async for notice in notices:
        if concerns(notice):
            changed.set()


async def _stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
