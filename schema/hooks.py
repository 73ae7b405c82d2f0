"""The schema extensions' hooks, run as Strawberry runs them but sized up once per class.

Strawberry's runner looks every hook of every extension up again on each request, checks
what kind of function it is and wraps it in a ``contextlib`` manager inside an exit stack:
four stages times five extensions, some 13 % of a trivial request's CPU. ``HookRunner``
looks each extension class's hooks up once and steps their generators itself, as
Strawberry's exit stack steps them: hooks enter in order and leave in reverse, an exception
raised inside a stage is thrown into each hook at its ``yield`` (a hook may swallow it from
the hooks left to leave, though it still goes on, or raise another one that goes on
instead), and a hook that yields twice is an error.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncGenerator, Callable, Generator
from types import TracebackType
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext
from strawberry.utils.await_maybe import await_maybe

_SYNC_GENERATOR, _ASYNC_GENERATOR, _SYNC_CALL, _ASYNC_CALL = range(4)
Hook = tuple[Callable[..., Any], int]
# A hook under way: its kind and its generator (None for a plain call, which has no exit).
Entered = tuple[int, Generator[None, None, None] | AsyncGenerator[None, None] | None]

_HOOKS: dict[tuple[type[SchemaExtension], str], Hook | None] = {}


def hook_of(extension_class: type[SchemaExtension], stage: str) -> Hook | None:
    """Return an extension class's hook for a stage and its kind, or None when it has none."""
    key = (extension_class, stage)
    if key not in _HOOKS:
        function = getattr(extension_class, stage)
        if function is getattr(SchemaExtension, stage):
            _HOOKS[key] = None
        elif inspect.isgeneratorfunction(function):
            _HOOKS[key] = (function, _SYNC_GENERATOR)
        elif inspect.isasyncgenfunction(function):
            _HOOKS[key] = (function, _ASYNC_GENERATOR)
        elif inspect.iscoroutinefunction(function):
            _HOOKS[key] = (function, _ASYNC_CALL)
        elif callable(function):
            _HOOKS[key] = (function, _SYNC_CALL)
        else:
            raise ValueError(f"Hook {stage} on {extension_class} must be callable")
    return _HOOKS[key]


class StageHooks:
    """The hooks of one stage (operation, parsing, validation, execution) of one request."""

    __slots__ = ("_entered", "_extensions", "_stage")

    def __init__(self, extensions: list[SchemaExtension], stage: str) -> None:
        self._extensions = extensions
        self._stage = stage
        self._entered: list[Entered] = []

    async def __aenter__(self) -> None:
        for extension in self._extensions:
            hook = hook_of(type(extension), self._stage)
            if hook is None:
                continue
            function, kind = hook
            if kind == _SYNC_GENERATOR:
                generator = function(extension)
                next(generator)
                self._entered.append((kind, generator))
            elif kind == _ASYNC_GENERATOR:
                agenerator = function(extension)
                await agenerator.__anext__()
                self._entered.append((kind, agenerator))
            elif kind == _ASYNC_CALL:
                await function(extension)
            else:
                function(extension)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        return await self._unwind(exc)

    def __enter__(self) -> None:
        for extension in self._extensions:
            hook = hook_of(type(extension), self._stage)
            if hook is None:
                continue
            function, kind = hook
            if kind in (_ASYNC_GENERATOR, _ASYNC_CALL):
                raise RuntimeError(
                    f"SchemaExtension hook {extension}.{self._stage} "
                    "failed to complete synchronously."
                )
            if kind == _SYNC_GENERATOR:
                generator = function(extension)
                next(generator)
                self._entered.append((kind, generator))
            else:
                function(extension)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        # __enter__ let in no async hook, so the unwinding never awaits anything that
        # suspends: one step of its coroutine runs it to the end, as ExitStack would.
        unwinding = self._unwind(exc)
        try:
            unwinding.send(None)
        except StopIteration as done:
            return bool(done.value)
        unwinding.close()
        raise RuntimeError(f"SchemaExtension hooks {self._stage} suspended a synchronous stage")

    async def _unwind(self, exc: BaseException | None) -> bool:
        """Leave the entered hooks in reverse, throwing in what is pending, as an exit stack does.

        The stage's exception is thrown into the last hook entered; an exception a hook
        raises while leaving replaces it for the hooks before, and one that swallows it
        leaves them nothing to see.
        """
        pending = exc
        while self._entered:
            kind, generator = self._entered.pop()
            try:
                if kind == _SYNC_GENERATOR:
                    swallowed = _leave(generator, pending)  # type: ignore[arg-type]
                else:
                    swallowed = await _aleave(generator, pending)  # type: ignore[arg-type]
            except BaseException as raised:  # noqa: B036 - handed on, as the exit stack does
                pending = raised
            else:
                pending = None if swallowed else pending
        return _outcome(exc, pending)


def _outcome(received: BaseException | None, pending: BaseException | None) -> bool:
    """End a stage as Strawberry's does: raise an exception a hook raised anew, else go on.

    Strawberry drops what its exit stack returns, so a hook that swallows the stage's own
    exception only keeps it from the hooks left to leave: the exception still goes on.
    """
    if pending is not None and pending is not received:
        raise pending
    return False


def _leave(generator: Generator[None, None, None], exc: BaseException | None) -> bool:
    """Resume a hook after its stage (throwing ``exc`` in); return whether it swallowed it."""
    if exc is None:
        try:
            next(generator)
        except StopIteration:
            return False
        raise RuntimeError("generator didn't stop")
    try:
        generator.throw(exc)
    except StopIteration as stop:
        return stop is not exc
    except BaseException as raised:  # noqa: B036 - the hook's own exception goes on
        if raised is exc:
            return False
        raise
    raise RuntimeError("generator didn't stop after throw()")


async def _aleave(generator: AsyncGenerator[None, None], exc: BaseException | None) -> bool:
    """Resume an async hook after its stage; return whether it swallowed ``exc``."""
    if exc is None:
        try:
            await generator.__anext__()
        except StopAsyncIteration:
            return False
        raise RuntimeError("generator didn't stop")
    try:
        await generator.athrow(exc)
    except StopAsyncIteration as stop:
        return stop is not exc
    except BaseException as raised:  # noqa: B036 - the hook's own exception goes on
        if raised is exc:
            return False
        raise
    raise RuntimeError("generator didn't stop after athrow()")


class HookRunner(SchemaExtensionsRunner):
    """Strawberry's extensions runner, with the stages' hooks looked up once per class."""

    def operation(self) -> StageHooks:  # type: ignore[override]
        return StageHooks(self.extensions, "on_operation")

    def validation(self) -> StageHooks:  # type: ignore[override]
        return StageHooks(self.extensions, "on_validate")

    def parsing(self) -> StageHooks:  # type: ignore[override]
        return StageHooks(self.extensions, "on_parse")

    def executing(self) -> StageHooks:  # type: ignore[override]
        return StageHooks(self.extensions, "on_execute")

    async def get_extensions_results(self, ctx: ExecutionContext) -> dict[str, Any]:
        """Gather the extensions' results, asking only those that override ``get_results``."""
        data: dict[str, Any] = {}
        for extension in self.extensions:
            if type(extension).get_results is not SchemaExtension.get_results:
                data.update(await await_maybe(extension.get_results()))
        data.update(ctx.extensions_results)
        return data
