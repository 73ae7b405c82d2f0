"""Following a row live: what a subscription sends now, then after every committed change."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Protocol, TypeVar

from schema.context import Context
from server.errors import AppError
from server.viewer import Viewer


class Versioned(Protocol):
    """A snapshot whose ``version`` counts its row's changes."""

    @property
    def version(self) -> int: ...


V = TypeVar("V", bound=Versioned)


async def follow_versions(
    ctx: Context,
    topic: str,
    read: Callable[[Viewer], Awaitable[V | None]],
    missing: AppError,
) -> AsyncGenerator[V, None]:
    """Yield what ``read`` finds now, then again whenever ``topic`` announces a newer version.

    Each read runs in a short read transaction of its own (``ctx.delivery()``, which
    ``ctx.session()`` answers from) with the viewer resolved again, and the snapshot is
    yielded inside it so its fields resolve there too. When ``read`` finds nothing (the row
    went out of the caller's reach) the subscription ends with ``missing``. Quick changes may
    arrive as one: a notice for a version already shown is skipped.
    """
    # Listen before the first read, so a change committed in between is not missed.
    async with ctx.runtime.events.subscribe(topic) as notices:
        shown = 0
        while True:
            async with ctx.delivery():
                found = await read(await ctx.viewer())
                if found is None:
                    raise missing
                if found.version > shown:
                    shown = found.version
                    yield found
            async for notice in notices:
                if int(notice.get("version", 0)) > shown:
                    break
