"""Running a mutation's service call, so that a refusal becomes the payload's ``errors``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from schema.context import Context
from server.errors import AppError

T = TypeVar("T")


async def in_savepoint(ctx: Context, call: Callable[[], Awaitable[T]]) -> T | AppError:
    """Run ``call`` in a savepoint; return its result, or the AppError that refused it.

    A refusal rolls the savepoint back, so it leaves nothing behind while the operation still
    commits. (Services that open savepoints of their own are called without this; failed
    attempts counted for rate limiting outlive any rollback, see ``server.ratelimit``.)
    """
    session = await ctx.session()
    try:
        async with session.begin_nested():
            return await call()
    except AppError as error:
        return error
