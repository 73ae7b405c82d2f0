"""Listening to a database engine's events for the length of a block (statements, errors)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from server.db import Database


@contextmanager
def listening(db: Database, name: str, listener: Callable[..., Any]) -> Iterator[None]:
    """Let ``listener`` hear the ``name`` events of ``db``'s engine inside the block."""
    engine = db.engine.sync_engine
    event.listen(engine, name, listener)
    try:
        yield
    finally:
        event.remove(engine, name, listener)


@contextmanager
def cursors_seen(db: Database) -> Iterator[list[tuple[str, bool]]]:
    """Collect (first word, sent without a cursor) of every statement the engine sends.

    ``server.db.rows_of`` sends the hot writes straight on the driver: without a cursor.
    """
    seen: list[tuple[str, bool]] = []

    def note(_conn: Any, cursor: Any, statement: str, *_args: Any) -> None:
        seen.append((statement.split()[0], cursor is None))

    with listening(db, "before_cursor_execute", note):
        yield seen
