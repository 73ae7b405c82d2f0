"""The per-operation context: one database session, the DataLoaders, and who is asking."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from functools import cached_property
from typing import Any

from graphql import OperationType
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types import Info

from schema.loaders import Loaders
from server.runtime import Runtime

log = logging.getLogger("omnicart.graphql")


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
        self._session: AsyncSession | None = None
        # Sibling fields resolve concurrently, but one AsyncSession must not run two
        # statements at once: loaders take this lock around each batch query.
        self.session_lock = asyncio.Lock()
        self._open_lock = asyncio.Lock()
        self._after_commit: list[Callable[[], Awaitable[None]]] = []

    @property
    def settings(self) -> Any:
        """Return the settings in force."""
        return self.runtime.settings

    async def session(self) -> AsyncSession:
        """Return this operation's session, opening it (and its transaction) on first use."""
        async with self._open_lock:
            if self._session is None:
                session = self.runtime.db.session(write=self.write)
                await session.begin()
                self._session = session
        return self._session

    @cached_property
    def loaders(self) -> Loaders:
        """Return this operation's DataLoaders, so each relation costs one query per list."""
        return Loaders(self)

    def after_commit(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Run ``callback`` once the operation's transaction has committed (e.g. to publish).

        Events announce committed state only: a subscriber that reads the database on a
        notice must find the change there.
        """
        self._after_commit.append(callback)

    async def finish(self, *, commit: bool) -> None:
        """Commit or roll back the operation's transaction, close it, then run commit hooks."""
        session, self._session = self._session, None
        callbacks, self._after_commit = self._after_commit, []
        if session is not None:
            try:
                if commit:
                    await session.commit()
                else:
                    await session.rollback()
            finally:
                await session.close()
        if commit:
            for callback in callbacks:
                try:
                    await callback()
                except Exception:  # a lost notice must not fail a committed operation
                    log.exception("after-commit hook failed")


def context_of(info: Info[Any, Any]) -> Context:
    """Return the omnicart context of a resolver call."""
    ctx = info.context
    assert isinstance(ctx, Context)
    return ctx


class OperationTransaction(SchemaExtension):
    """One transaction per operation: mutations lock for writing; commit only when error-free."""

    def on_execute(self) -> Iterator[None]:
        ctx = self.execution_context.context
        if isinstance(ctx, Context):
            ctx.write = self.execution_context.operation_type == OperationType.MUTATION
        yield

    async def on_operation(self) -> AsyncIterator[None]:  # type: ignore[override]
        yield
        ctx = self.execution_context.context
        if isinstance(ctx, Context):
            result = self.execution_context.result
            ok = result is not None and not getattr(result, "errors", None)
            await ctx.finish(commit=ok)
