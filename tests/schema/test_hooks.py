"""Extension hooks run as Strawberry's exit stack runs them: in order, left in reverse."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from strawberry.extensions import SchemaExtension

from schema.hooks import StageHooks

EVENTS: list[str] = []


class Outer(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        EVENTS.append("outer in")
        try:
            yield
        except KeyError:
            EVENTS.append("outer swallowed KeyError")
            return
        EVENTS.append("outer out")


class Inner(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:  # type: ignore[override]
        EVENTS.append("inner in")
        try:
            yield
        except ValueError as exc:
            EVENTS.append("inner turned ValueError into KeyError")
            raise KeyError("inner") from exc
        EVENTS.append("inner out")


class Plain(SchemaExtension):
    def on_operation(self) -> None:  # type: ignore[override]
        EVENTS.append("plain called")


def extensions() -> list[SchemaExtension]:
    EVENTS.clear()
    return [Outer(), Plain(), Inner()]


async def test_hooks_enter_in_order_and_leave_in_reverse() -> None:
    async with StageHooks(extensions(), "on_operation"):
        EVENTS.append("stage")
    assert EVENTS == ["outer in", "plain called", "inner in", "stage", "inner out", "outer out"]


async def test_a_hook_swallows_an_exception_from_the_hooks_left_but_it_goes_on() -> None:
    # As in Strawberry's runner, which drops what its exit stack returns.
    with pytest.raises(ValueError, match="stage"):
        async with StageHooks(extensions(), "on_operation"):
            raise ValueError("stage")
    assert EVENTS[-2:] == ["inner turned ValueError into KeyError", "outer swallowed KeyError"]


async def test_an_exception_a_hook_raises_anew_goes_on_instead() -> None:
    hooks = extensions()[1:]
    with pytest.raises(KeyError, match="inner"):
        async with StageHooks(hooks, "on_operation"):
            raise ValueError("stage")


async def test_an_exception_no_hook_handles_goes_on() -> None:
    with pytest.raises(RuntimeError, match="stage"):
        async with StageHooks(extensions(), "on_operation"):
            raise RuntimeError("stage")
    assert EVENTS == ["outer in", "plain called", "inner in"]


def test_an_async_hook_refuses_a_synchronous_stage() -> None:
    with pytest.raises(RuntimeError, match="failed to complete synchronously"):
        with StageHooks(extensions(), "on_operation"):
            pass
