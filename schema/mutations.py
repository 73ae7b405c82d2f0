"""The one way a mutation runs its service call and turns the outcome into its payload.

Every mutation resolver converts its input and hands ``run_mutation`` three things: the
payload type, the service call, and how a result becomes the payload::

    return await run_mutation(
        info,
        StaffSignOutPayload,
        lambda call: staff_service.sign_out(call.session, call.viewer),
        StaffSignOutPayload.of,
    )

The runner resolves who is asking, opens a savepoint in the operation's transaction and
runs the call in it. An ``AppError`` (from the call, or from converting the input inside
it) rolls the savepoint back, so a refusal leaves nothing behind while the operation still
commits, and becomes the payload through the payload type's ``failed`` (which is where
``details`` travel: the current cart on VERSION_CONFLICT, the short lines on
INSUFFICIENT_STOCK). Anything else is unexpected and propagates, failing the operation.

An operation that is one mutation counting no attempts (``schema.writes.OperationShape``,
the usual case) needs no savepoint: a refusal rolls the operation's whole transaction back,
which leaves nothing behind just the same, and a success sends no SAVEPOINT/RELEASE. Its
service call is all it writes, so it commits the moment the call returns, before
``payload_of`` runs (``Context.commit_write``): SQLite's writer turn and file lock, and
PostgreSQL's row locks on hot stock rows, are held for the call's statements only, not
while the payload resolves (loaders, prices, pages, JSON), which reads committed state in a
read session. A refusal releases them just as soon. Who is asking is resolved before the
transaction begins (``Context.viewer(ahead_of_write=True)``: a bearer token is read in a
short read session of its own). So a failure after the commit (a payload field's, say) no
longer undoes the write: the answer carries the error, as a reply lost on the way would,
and a retry with the same idempotency key replays the result. A failed commit answers no
data, as before.

Operations of several root fields keep one transaction to the end, so a field that fails
at the top level rolls its siblings back; so do those that count attempts (their count must
survive the rollback in the same transaction) and queries that write (their audit rows
commit with the answer).

Failed attempts counted for rate limiting (``call.attempts()``) outlive the savepoint's
rollback: ``schema.context.Context.attempts`` counts them in side transactions, or, in a
SQLite write operation, keeps them aside and writes them however the operation ends.

Queries that write (the audited customer lookups of staff) are declared with
``metadata=WRITES`` (``schema.writes``), so the operation opens its one transaction for
writing, and run their call with ``run_in_operation``.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, Self, TypeVar

from strawberry.types import Info

from schema.context import Context, context_of
from server.db import Session
from server.errors import AppError
from server.messages import localized
from server.models import utcnow
from server.ratelimit import AttemptCounter
from server.viewer import Viewer

T = TypeVar("T")
P = TypeVar("P", bound="Refusable")


class Refusable(Protocol):
    """A mutation payload: it can say why nothing happened."""

    @classmethod
    def failed(cls, error: AppError) -> Self:
        """Build the payload of a refused call: ``errors`` from ``error``, the rest empty."""
        ...


@dataclass(frozen=True, slots=True)
class Call:
    """What a mutation's service call gets: the operation's context and session, who, when."""

    ctx: Context
    session: Session
    viewer: Viewer
    now: datetime

    @property
    def settings(self) -> Any:
        """Return the settings in force."""
        return self.ctx.settings

    async def attempts(self) -> AttemptCounter:
        """Return the operation's counter of failed attempts (it outlives any rollback)."""
        return await self.ctx.attempts()


async def _call_of(ctx: Context, *, ahead_of_write: bool) -> Call:
    viewer = await ctx.viewer(ahead_of_write=ahead_of_write)
    return Call(ctx, await ctx.session(), viewer, utcnow())


async def run_mutation(
    info: Info,
    payload: type[P],
    call: Callable[[Call], Awaitable[T]],
    payload_of: Callable[[T], P | Awaitable[P]],
) -> P:
    """Run ``call`` in a savepoint; answer ``payload_of`` its result, or ``payload.failed``.

    A lone mutation needs no savepoint and commits before ``payload_of``; see the module
    docstring for why, and for what a refusal leaves behind.
    """
    ctx = context_of(info)
    if ctx.shape.lone and not ctx.write:
        raise RuntimeError("a lone mutation has committed: one run_mutation per mutation field")
    given = await _call_of(ctx, ahead_of_write=True)
    if ctx.shape.lone:
        return await _run_lone(ctx, given, payload, call, payload_of)
    try:
        async with given.session.begin_nested():
            result = await call(given)
    except AppError as error:
        return payload.failed(localized(error, ctx.language))
    built = payload_of(result)
    return await built if inspect.isawaitable(built) else built


async def _run_lone(
    ctx: Context,
    given: Call,
    payload: type[P],
    call: Callable[[Call], Awaitable[T]],
    payload_of: Callable[[T], P | Awaitable[P]],
) -> P:
    """Run a lone mutation's call, commit (or roll back) at once, then build the payload.

    The hooks ``payload_of`` registers (the events it announces) run as soon as it returns:
    the write they announce has committed already.
    """
    try:
        result = await call(given)
    except AppError as error:
        await ctx.roll_back_write()
        return payload.failed(localized(error, ctx.language))
    await ctx.commit_write()
    built = payload_of(result)
    answer = await built if inspect.isawaitable(built) else built
    await ctx.run_after_commit()
    return answer


async def run_in_operation(info: Info, call: Callable[[Call], Awaitable[T]]) -> T:
    """Run a writing query's ``call`` in a savepoint of the operation's write transaction.

    An ``AppError`` rolls back what the call wrote and propagates as the field's GraphQL
    error; what it wrote otherwise commits with the operation (see ``schema.writes``).
    """
    ctx = context_of(info)
    assert ctx.write, "a query that writes is declared with metadata=WRITES (schema.writes)"
    # Its viewer is read in its one transaction, with the lookup and the audit row.
    given = await _call_of(ctx, ahead_of_write=False)
    async with given.session.begin_nested():
        return await call(given)
