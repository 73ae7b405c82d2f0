"""Extension hooks run as Strawberry's exit stack runs them: in order, left in reverse.

Every test runs against our ``StageHooks`` and against Strawberry's own context manager,
so they pin Strawberry's behaviour rather than ours.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from strawberry.extensions import SchemaExtension
from strawberry.extensions.context import OperationContextManager

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


@contextmanager
def turning_value_error_into_key_error() -> Iterator[None]:
    EVENTS.append("inner in")
    try:
        yield
    except ValueError as exc:
        EVENTS.append("inner turned ValueError into KeyError")
        raise KeyError("inner") from exc
    EVENTS.append("inner out")


class Inner(SchemaExtension):
    async def on_operation(self) -> AsyncIterator[None]:  # type: ignore[override]
        with turning_value_error_into_key_error():
            yield


class SyncInner(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        with turning_value_error_into_key_error():
            yield


class Plain(SchemaExtension):
    def on_operation(self) -> None:  # type: ignore[override]
        EVENTS.append("plain called")


class RaisesOnLeaving(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        yield
        EVENTS.append("leaving raised KeyError")
        raise KeyError("leaving")


class YieldsTwice(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        try:
            yield
        finally:
            yield


Stage = Callable[[list[SchemaExtension]], Any]


def ours(extensions: list[SchemaExtension]) -> StageHooks:
    return StageHooks(extensions, "on_operation")


each_runner = pytest.mark.parametrize(
    "stage", [ours, OperationContextManager], ids=["ours", "strawberry"]
)


def extensions(*classes: type[SchemaExtension]) -> list[SchemaExtension]:
    EVENTS.clear()
    return [extension_class() for extension_class in classes]


@each_runner
async def test_hooks_enter_in_order_and_leave_in_reverse(stage: Stage) -> None:
    async with stage(extensions(Outer, Plain, Inner)):
        EVENTS.append("stage")
    assert EVENTS == ["outer in", "plain called", "inner in", "stage", "inner out", "outer out"]


@each_runner
async def test_a_hook_swallows_an_exception_from_the_hooks_left_but_it_goes_on(
    stage: Stage,
) -> None:
    # As in Strawberry's runner, which drops what its exit stack returns.
    with pytest.raises(ValueError, match="stage"):
        async with stage(extensions(Outer, Plain, Inner)):
            raise ValueError("stage")
    assert EVENTS[-2:] == ["inner turned ValueError into KeyError", "outer swallowed KeyError"]


@each_runner
async def test_an_exception_a_hook_raises_anew_goes_on_instead(stage: Stage) -> None:
    with pytest.raises(KeyError, match="inner"):
        async with stage(extensions(Plain, Inner)):
            raise ValueError("stage")


@each_runner
async def test_an_exception_no_hook_handles_goes_on(stage: Stage) -> None:
    with pytest.raises(RuntimeError, match="stage"):
        async with stage(extensions(Outer, Plain, Inner)):
            raise RuntimeError("stage")
    assert EVENTS == ["outer in", "plain called", "inner in"]


@each_runner
async def test_a_hook_swallows_what_a_later_hook_raised_on_leaving(stage: Stage) -> None:
    async with stage(extensions(Outer, RaisesOnLeaving)):
        EVENTS.append("stage")
    assert EVENTS == ["outer in", "stage", "leaving raised KeyError", "outer swallowed KeyError"]


@each_runner
async def test_what_a_hook_raises_on_leaving_goes_on(stage: Stage) -> None:
    with pytest.raises(KeyError, match="leaving"):
        async with stage(extensions(Plain, RaisesOnLeaving)):
            pass


@each_runner
@pytest.mark.parametrize("raised", [None, ValueError("stage")], ids=["clean", "raised"])
async def test_a_hook_that_yields_twice_is_an_error(
    stage: Stage, raised: ValueError | None
) -> None:
    with pytest.raises(RuntimeError, match="generator didn't stop"):
        async with stage(extensions(YieldsTwice)):
            if raised is not None:
                raise raised


@each_runner
def test_a_synchronous_stage_enters_in_order_and_leaves_in_reverse(stage: Stage) -> None:
    with stage(extensions(Outer, Plain, SyncInner)):
        EVENTS.append("stage")
    assert EVENTS == ["outer in", "plain called", "inner in", "stage", "inner out", "outer out"]


@each_runner
def test_a_synchronous_stage_hands_its_exception_on_though_a_hook_swallowed_it(
    stage: Stage,
) -> None:
    with pytest.raises(ValueError, match="stage"):
        with stage(extensions(Outer, Plain, SyncInner)):
            raise ValueError("stage")
    assert EVENTS[-2:] == ["inner turned ValueError into KeyError", "outer swallowed KeyError"]


@each_runner
def test_a_synchronous_stage_hands_on_what_a_hook_raised_anew(stage: Stage) -> None:
    with pytest.raises(KeyError, match="inner"):
        with stage(extensions(Plain, SyncInner)):
            raise ValueError("stage")


@each_runner
def test_a_synchronous_stage_lets_a_hook_swallow_what_a_later_one_raised_on_leaving(
    stage: Stage,
) -> None:
    with stage(extensions(Outer, RaisesOnLeaving)):
        pass
    assert EVENTS == ["outer in", "leaving raised KeyError", "outer swallowed KeyError"]


@each_runner
def test_an_async_hook_refuses_a_synchronous_stage(stage: Stage) -> None:
    with pytest.raises(RuntimeError, match="failed to complete synchronously"):
        with stage(extensions(Outer, Plain, Inner)):
            pass
