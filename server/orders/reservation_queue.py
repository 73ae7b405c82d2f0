"""The queue of a worker's reservations at a stock location: first come, first served.

On PostgreSQL every checkout at a location ends on the same few hot stock rows. Left to
themselves, dozens of a worker's transactions wait on those row locks at once, and each
commit wakes them to race for the new row version: the lucky ones pass, the unlucky ones
wait again and again, so the slowest checkouts take many times the median. Here a
worker's reservations at a location line up in an ``asyncio.Semaphore`` (its waiters are
woken in the order they came) and each takes its turn for exactly its reservation
statement. ``AT_THE_ROWS`` turns are out at once: one reservation holds the rows until it
commits while the next one's statement already waits for them, so PostgreSQL hands the
rows over on commit without waiting for this event loop; between workers PostgreSQL
queues the few that remain. A turn is given up when the statement returns, raises or is
cancelled, and it is never held while the transaction waits for anything else, so the
queue cannot deadlock with row locks. It only orders; the rows' locks still decide.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

# Reservations of a worker that may wait on a location's stock rows at once.
AT_THE_ROWS = 2
# One queue per location and event loop (tests run several loops in one process).
_queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[int, asyncio.Semaphore]] = (
    weakref.WeakKeyDictionary()
)


@asynccontextmanager
async def reservation_turn(location_id: int) -> AsyncIterator[None]:
    """Wait, first come first served, for this worker's turn to reserve at a location."""
    loop = asyncio.get_running_loop()
    queues = _queues.get(loop)
    if queues is None:
        queues = _queues[loop] = {}
    turn = queues.get(location_id)
    if turn is None:
        turn = queues[location_id] = asyncio.Semaphore(AT_THE_ROWS)
    async with turn:
        yield
