"""The per-operation context: one database session, the DataLoaders, and who is asking.

Over HTTP a context lives for one operation. Over a WebSocket Strawberry keeps one context
for the whole connection, so a subscription must not hold the connection's session between
events: each event runs inside ``ctx.delivery()``, a short read transaction of its own that
``session()``, ``loaders`` and ``viewer()`` use while that event's fields resolve.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from graphql.error import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types import Info
from strawberry.types.graphql import OperationType

from schema.loaders import Loaders
from schema.writes import UNKNOWN_SHAPE, OperationShape, shape_of, writes_in_query
from server.accounts import guest_viewer, resolve_viewer
from server.db import Session
from server.messages import error_language
from server.models import utcnow
from server.notifications.language import Language
from server.outages import is_lost_connection
from server.outbox import take_changed_products
from server.product_pages import PageRead
from server.ratelimit import AttemptCounter, AttemptLimit, OperationAttemptCounter
from server.runtime import Runtime
from server.viewer import Viewer

log = logging.getLogger("omnicart.graphql")


@dataclass
class _Delivery:
    """The session, loaders and viewer of one subscription event."""

    ctx: Context
    session: Session
    loaders: Loaders | None = None
    viewer: Viewer | None = None


# The delivery in progress in this task; async generators run in their caller's context, so
# a subscription's fields see the delivery its generator opened.
_DELIVERY: ContextVar[_Delivery | None] = ContextVar("omnicart_delivery", default=None)


class Context:
    """Everything a resolver may use; created once per GraphQL operation."""

    def __init__(
        self,
        runtime: Runtime,
        request: Request | WebSocket,
        response: Response | WebSocket | None,
        connection_params: dict[str, Any] | None = None,
    ) -> None:
        self.runtime = runtime
        self.request = request
        self.response = response
        self.connection_params = connection_params or {}
        self.write = False
        # A lone mutation commits its write before its payload resolves (``commit_write``):
        # from then on hooks run as they come, and a failed commit is kept for the answer.
        self.committed = False
        self.failed_commit: Exception | None = None
        # The operation's root fields, known when it starts (``OperationTransaction``).
        self.shape: OperationShape = UNKNOWN_SHAPE
        # Sibling fields resolve concurrently and share it; SerializedSession (server.db)
        # runs their statements one at a time.
        self._session: Session | None = None
        self._operation_attempts: OperationAttemptCounter | None = None
        self._open_lock = asyncio.Lock()
        self._resources = contextlib.AsyncExitStack()
        self._after_commit: list[Callable[[], Awaitable[None]]] = []
        self._loaders: Loaders | None = None
        self._viewer: Viewer | None = None
        self._viewer_lock = asyncio.Lock()

    @property
    def settings(self) -> Any:
        """Return the settings in force."""
        return self.runtime.settings

    @property
    def language(self) -> Language:
        """Return the language error messages answer in (the request's Accept-Language)."""
        return error_language(self.request.headers.get("accept-language"))

    async def session(self) -> Session:
        """Return this operation's session, opening it (and its transaction) on first use."""
        delivery = self._delivery()
        if delivery is not None:
            return delivery.session
        async with self._open_lock:
            if self._session is None:
                if self.write:
                    await self._resources.enter_async_context(self.runtime.db.writer_turn())
                session = self.runtime.db.operation_session(write=self.write)
                if not self.write:
                    await session.begin()
                else:
                    # Begun by its first statement, or on SQLite by lock_for_writing, which
                    # takes the connection: one greenlet switch less than begin() first.
                    try:
                        await self.runtime.db.lock_for_writing(session)
                    except BaseException:
                        await session.close()
                        raise
                if self.write and self.runtime.db.is_sqlite and self.shape.counts_attempts:
                    self._operation_attempts = await OperationAttemptCounter.begin(
                        self.runtime.db, self._attempt_limit(), session
                    )
                self._session = session
        return self._session

    async def read_pages(self, product_ids: list[int]) -> Mapping[int, PageRead]:
        """Return the clean read-model pages of these products, with live stock (one read)."""
        return await self.runtime.pages.by_ids(product_ids)

    async def attempts(self) -> AttemptCounter:
        """Return the counter of failed attempts (codes, passwords) for this operation.

        Its count commits whatever becomes of the operation: inside a SQLite write operation
        it counts in the operation's transaction and ``finish`` keeps the count through a
        rollback; otherwise it counts in side transactions of its own.
        """
        await self.session()
        if self._operation_attempts is not None and self._delivery() is None:
            return self._operation_attempts
        if self.write and self.runtime.db.is_sqlite and self._delivery() is None:
            # Side transactions would wait for the write lock this operation holds.
            raise RuntimeError("a root field that counts attempts declares COUNTS_ATTEMPTS")
        return AttemptCounter(self.runtime.db, self._attempt_limit())

    def _attempt_limit(self) -> AttemptLimit:
        return AttemptLimit.from_settings(self.settings)

    @property
    def loaders(self) -> Loaders:
        """Return this operation's DataLoaders, so each relation costs one query per list."""
        delivery = self._delivery()
        if delivery is not None:
            if delivery.loaders is None:
                delivery.loaders = Loaders(self)
            return delivery.loaders
        if self._loaders is None:
            self._loaders = Loaders(self)
        return self._loaders

    def credentials(self) -> tuple[str | None, str | None]:
        """Return the bearer token and the cart token the caller sent (headers or WS payload)."""
        params = self.connection_params
        authorization = params.get("authorization") or self.request.headers.get("authorization")
        cart_token = params.get("cartToken") or self.request.headers.get("x-cart-token")
        bearer = None
        if isinstance(authorization, str) and authorization.strip():
            scheme, _, value = authorization.strip().partition(" ")
            bearer = value.strip() if scheme.lower() == "bearer" else authorization.strip()
        return bearer or None, cart_token if isinstance(cart_token, str) and cart_token else None

    @property
    def client_address(self) -> str:
        """Return the caller's network address, as rate limits count it."""
        client = self.request.client
        return client.host if client else "unknown"

    async def viewer(self, *, ahead_of_write: bool = False) -> Viewer:
        """Return who is asking, resolved from the credentials once per operation (or event).

        ``ahead_of_write``: a mutation asks before its service call, and while its write
        transaction has not begun a bearer token is read in a short read session of its
        own, outside SQLite's writer turn and before any row lock, so the write transaction
        holds only the service's statements. A guest (cart token only) reads nothing.
        """
        bearer, cart_token = self.credentials()
        delivery = self._delivery()
        if delivery is not None:
            if delivery.viewer is None:
                delivery.viewer = await resolve_viewer(
                    delivery.session, bearer=bearer, cart_token=cart_token, now=utcnow()
                )
            return delivery.viewer
        async with self._viewer_lock:
            if self._viewer is None:
                ahead = ahead_of_write and self.write and self._session is None
                self._viewer = await self._resolve_viewer(bearer, cart_token, ahead=ahead)
        return self._viewer

    async def _resolve_viewer(
        self, bearer: str | None, cart_token: str | None, *, ahead: bool
    ) -> Viewer:
        guest = guest_viewer(bearer, cart_token)
        if guest is not None:
            return guest  # no session: a guest's viewer reads nothing
        if not ahead:
            session = await self.session()
            return await resolve_viewer(session, bearer=bearer, cart_token=cart_token, now=utcnow())
        read = self.runtime.db.operation_session(write=False)
        try:
            return await resolve_viewer(read, bearer=bearer, cart_token=cart_token, now=utcnow())
        finally:
            await read.close()

    @asynccontextmanager
    async def delivery(self) -> AsyncIterator[Session]:
        """Open a short read transaction for one subscription event and scope it to this task.

        Until the block ends, ``session()``, ``loaders`` and ``viewer()`` answer from it, so
        every event reads committed state afresh and no transaction stays open in between.
        """
        async with self.runtime.db.transaction(write=False) as session:
            _DELIVERY.set(_Delivery(self, session))
            try:
                yield session
            finally:
                # Not reset(token): a generator closed from another task has another context.
                _DELIVERY.set(None)

    def _delivery(self) -> _Delivery | None:
        delivery = _DELIVERY.get()
        return delivery if delivery is not None and delivery.ctx is self else None

    def after_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``callback`` once the operation's transaction has committed (e.g. to publish).

        Events announce committed state only: a subscriber that reads the database on a
        notice must find the change there. Once a lone mutation's write has committed
        (``commit_write``), a hook registered later runs at the next ``run_after_commit``
        (``run_mutation`` calls it as soon as the payload is built), else at ``finish``.
        """
        self._after_commit.append(callback)

    async def commit_write(self) -> None:
        """Commit the operation's write now, release the writer turn, and read from here on.

        For a lone mutation (``schema.mutations.run_mutation``): its service call is all it
        writes, so it commits the moment the call returns, before the payload resolves
        (loaders, prices, pages), and another writer need not wait for that. The commit's
        hooks run at once (pages forgotten, products announced, events published); fields
        resolved after it open a read session. A failed commit is kept in ``failed_commit``,
        which the operation answers instead of any data (``OperationTransaction``).
        """
        try:
            await self.finish(commit=True)
        except Exception as exc:
            self.failed_commit = exc
            raise
        finally:
            self.write = False
        self.committed = True

    async def roll_back_write(self) -> None:
        """Roll the operation's write back now and release the writer turn (a lone refusal)."""
        try:
            await self.finish(commit=False)
        finally:
            self.write = False

    async def run_after_commit(self) -> None:
        """Run the hooks registered since the operation's write committed (``commit_write``)."""
        if self.committed:
            callbacks, self._after_commit = self._after_commit, []
            await self._run_hooks(callbacks)

    async def finish(self, *, commit: bool) -> None:
        """Commit or roll back the operation's transaction, close it, then run commit hooks."""
        session, self._session = self._session, None
        attempts, self._operation_attempts = self._operation_attempts, None
        callbacks, self._after_commit = self._after_commit, []
        changed = take_changed_products(session) if session is not None else set()
        try:
            if session is not None:
                try:
                    if attempts is not None:
                        await (attempts.commit() if commit else attempts.roll_back())
                    elif commit:
                        await session.commit()
                    else:
                        await session.rollback()
                finally:
                    await session.close()
        finally:
            # Hands SQLite's write turn to the next writer once this one is done.
            await self._resources.aclose()
        if commit and changed:
            # This process's next page read shows the change, before any notice arrives.
            self.runtime.pages.forget(changed)
        if (commit or self.committed) and changed:
            # Published from the background, coalesced with other operations' changes.
            self.runtime.publisher.announce_products(changed)
        if commit or self.committed:
            # After ``commit_write`` only reads are left to end: its hooks run regardless.
            await self._run_hooks(callbacks)

    async def _run_hooks(self, callbacks: list[Callable[[], Awaitable[None]]]) -> None:
        for callback in callbacks:
            try:
                await callback()
            except Exception as exc:  # a lost notice must not fail a committed operation
                if is_lost_connection(exc):
                    log.warning("after-commit hook: event broker unreachable: %s", exc)
                else:
                    log.exception("after-commit hook failed")


def context_of(info: Info[Any, Any]) -> Context:
    """Return the omnicart context of a resolver call."""
    ctx = info.context
    assert isinstance(ctx, Context)
    return ctx


class OperationTransaction(SchemaExtension):
    """One transaction per operation: mutations (and queries that write) lock for writing.

    A mutation commits only when error-free; a query that writes whatever its fields did.
    A lone mutation (one root field, no attempts counted) commits as soon as its service
    call returns (``Context.commit_write``), so that its payload resolves outside the write
    lock; several root fields keep one transaction, so a failing field undoes its siblings.
    """

    # The root shape and "a query that writes" of the documents run lately, by schema, text
    # and operation name: the same few documents come again and again, and walking their
    # AST on every request cost more than this lookup. The oldest is forgotten past 512.
    _root_facts: dict[tuple[Any, str, str | None], tuple[OperationShape, bool]] = {}

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context.context
        if isinstance(ctx, Context):
            ec = self.execution_context
            schema, document, name = ec.schema._schema, ec.graphql_document, ec.operation_name
            key = (schema, ec.query, name) if ec.query is not None else None
            facts = self._root_facts.get(key) if key is not None else None
            if facts is None:
                facts = shape_of(schema, document, name), writes_in_query(schema, document, name)
                if key is not None:
                    self._root_facts[key] = facts
                    if len(self._root_facts) > 512:
                        del self._root_facts[next(iter(self._root_facts))]
            # Strawberry's OperationType, not graphql-core's: comparing across the two enums
            # is always False and would start every mutation as a deferred (read) transaction.
            ctx.shape = facts[0]
            ctx.write = ec.operation_type == OperationType.MUTATION or (
                ec.operation_type == OperationType.QUERY and facts[1]
            )
        yield

    async def on_operation(self) -> AsyncIterator[None]:  # type: ignore[override]
        ctx = self.execution_context.context
        if isinstance(ctx, Context):
            # A WebSocket's context serves operation after operation.
            ctx.committed, ctx.failed_commit = False, None
        yield
        if not isinstance(ctx, Context):
            return
        result = self.execution_context.result
        # A query that writes commits despite a failed field: each write is whole on its own
        # and an answered field keeps its audit row (schema.writes).
        ok = result is not None and (
            not getattr(result, "errors", None)
            or (ctx.write and self.execution_context.operation_type == OperationType.QUERY)
        )
        # A lone mutation committed (or failed to) before its payload (``commit_write``);
        # what is left to end here is its payload's reads.
        failure = ctx.failed_commit
        try:
            await ctx.finish(commit=ok)
        except Exception as exc:
            if result is not None and ok and not ctx.committed:
                failure = exc
            else:
                # Already failed, or only a committed write's payload reads were left to end:
                # a dead connection adds nothing to tell.
                log.warning("ending the operation's transaction failed: %s", type(exc).__name__)
        if failure is not None and result is not None:
            # The commit did not happen (or cannot be known to have): answer the error,
            # never the data, and let CodedErrors name it (SERVICE_UNAVAILABLE or INTERNAL).
            result.data = None  # type: ignore[union-attr]
            result.errors = [GraphQLError("Commit failed.", original_error=failure)]  # type: ignore[union-attr]
