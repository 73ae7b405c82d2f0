"""Writing a placed order's rows: the order, its first step, its lines, their holds, its outbox.

The statements are built once, at import, and executed as Core statements (no ORM bulk
path, nothing compiled per checkout). On SQLite they are five: the order (``RETURNING`` its
id), the history step, the lines (one batched INSERT ``RETURNING`` their ids), the held
reservations (executemany) and the outbox rows. On PostgreSQL they are one statement:
data-modifying CTEs insert the order, then from its id the step and the lines (bound as
arrays, ``unnest``), then from the lines' ids the reservations, and the outbox rows (the
products' stock, the order), so the locked cart waits on one round trip, not five.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import Order, OrderLine, OrderStatusChange, OutboxEvent, StockReservation
from server.orders.placed import ORDER_PLACED
from server.outbox import STOCK_TOPIC, note_changed_products, record_product_changes
from server.states import OrderStatus, ReservationStatus

_ORDERS = cast(Table, Order.__table__)
_LINES = cast(Table, OrderLine.__table__)
_HISTORY = cast(Table, OrderStatusChange.__table__)
_RESERVATIONS = cast(Table, StockReservation.__table__)
_OUTBOX = cast(Table, OutboxEvent.__table__)

_INSERT_ORDER = insert(_ORDERS).returning(_ORDERS.c.id)
_INSERT_HISTORY = insert(_HISTORY)
_INSERT_LINES = insert(_LINES).returning(_LINES.c.position, _LINES.c.id)
_INSERT_RESERVATIONS = insert(_RESERVATIONS)

# The columns a checkout writes (the ids are the database's).
_ORDER_COLUMNS = [c.name for c in _ORDERS.c if c.name != "id"]
_LINE_COLUMNS = [c.name for c in _LINES.c if c.name not in ("id", "order_id")]


def _array_of(table: Table, column: str) -> str:
    """Return the PostgreSQL array type of a column, for a CAST of its bound list."""
    return f"{table.c[column].type.compile(dialect=postgresql.dialect())}[]"


_PLACE_POSTGRES = text(
    "WITH o AS (INSERT INTO orders ({columns}) VALUES ({values}) RETURNING id),"
    " h AS (INSERT INTO order_status_changes"
    " (order_id, from_status, to_status, actor_kind, actor_id, at)"
    " SELECT o.id, NULL, CAST(:h_to AS varchar), CAST(:h_kind AS varchar),"
    " CAST(:h_actor AS integer), CAST(:now AS timestamptz) FROM o),"
    " l AS (INSERT INTO order_lines (order_id, {line_columns})"
    " SELECT o.id, x.* FROM o, unnest({arrays}) AS x ({line_columns})"
    " RETURNING id, position, product_id, quantity),"
    " r AS (INSERT INTO stock_reservations"
    " (order_id, order_line_id, location_id, product_id, quantity, status, created_at)"
    " SELECT o.id, l.id, CAST(:location AS integer), l.product_id, l.quantity,"
    " CAST(:held AS varchar), CAST(:now AS timestamptz) FROM o, l),"
    " e AS (INSERT INTO outbox_events (topic, entity_id, payload, created_at)"
    " SELECT CAST(:e_stock AS varchar), x.id, CAST('{{}}' AS {payload}), CAST(:now AS timestamptz)"
    " FROM unnest(CAST(:e_products AS integer[])) AS x (id)"
    " UNION ALL SELECT CAST(:e_placed AS varchar), o.id, CAST('{{}}' AS {payload}),"
    " CAST(:now AS timestamptz) FROM o)"
    " SELECT o.id AS order_id, l.position, l.id AS line_id FROM o LEFT JOIN l ON true".format(
        columns=", ".join(_ORDER_COLUMNS),
        values=", ".join(f":o_{name}" for name in _ORDER_COLUMNS),
        line_columns=", ".join(_LINE_COLUMNS),
        arrays=", ".join(f"CAST(:l_{name} AS {_array_of(_LINES, name)})" for name in _LINE_COLUMNS),
        payload=_OUTBOX.c.payload.type.compile(dialect=postgresql.dialect()),
    )
).bindparams(
    *(bindparam(f"o_{name}", type_=_ORDERS.c[name].type) for name in _ORDER_COLUMNS),
    bindparam("now", type_=_ORDERS.c.created_at.type),
)


@dataclass(frozen=True, slots=True)
class PlacedRows:
    """What a checkout writes: the order row, who placed it, its line rows, where it holds."""

    order: dict[str, Any]
    # The actor of the first history step: (kind, id).
    actor: tuple[str, int | None]
    # The order line rows in checkout order (without order_id).
    lines: Sequence[dict[str, Any]]
    location_id: int
    now: datetime
    # The products whose stock the order takes: their outbox rows go with the order's.
    product_ids: Sequence[int] = ()


async def write_order(session: AsyncSession, rows: PlacedRows) -> tuple[int, list[int]]:
    """Insert the order, its "placed" step, its lines, a held reservation per line, and
    the outbox rows: the products' stock (search follows it; their pages stay usable) and
    the order (``server.orders.placed`` follows it after commit).

    Return the order's id and its lines' ids in the order of ``rows.lines`` (matched by
    position, which RETURNING names; its row order is not promised).
    """
    if session.get_bind().dialect.name == "postgresql":
        return await _write_in_one(session, rows)
    order_id, line_ids = await _write_apart(session, rows)
    await record_product_changes(
        session, rows.product_ids, stock_only=True, also=[(ORDER_PLACED, order_id)]
    )
    return order_id, line_ids


async def _write_apart(session: AsyncSession, rows: PlacedRows) -> tuple[int, list[int]]:
    """SQLite: the order, its step, its lines and their holds, a statement each."""
    order_id = (await session.execute(_INSERT_ORDER, rows.order)).scalar_one()
    kind, actor_id = rows.actor
    step = {
        "order_id": order_id,
        "from_status": None,
        "to_status": OrderStatus.PLACED,
        "actor_kind": kind,
        "actor_id": actor_id,
        "at": rows.now,
    }
    await session.execute(_INSERT_HISTORY, step)
    returned = await session.execute(
        _INSERT_LINES, [{"order_id": order_id, **row} for row in rows.lines]
    )
    by_position: dict[int, int] = {position: line_id for position, line_id in returned}
    line_ids = [by_position[row["position"]] for row in rows.lines]
    holds = [
        {
            "order_id": order_id,
            "order_line_id": line_id,
            "location_id": rows.location_id,
            "product_id": row["product_id"],
            "quantity": row["quantity"],
            "status": ReservationStatus.HELD,
            "created_at": rows.now,
        }
        for line_id, row in zip(line_ids, rows.lines, strict=True)
    ]
    await session.execute(_INSERT_RESERVATIONS, holds)
    return order_id, line_ids


async def _write_in_one(session: AsyncSession, rows: PlacedRows) -> tuple[int, list[int]]:
    """PostgreSQL: the same rows in one statement of data-modifying CTEs."""
    kind, actor_id = rows.actor
    params: dict[str, Any] = {f"o_{name}": rows.order[name] for name in _ORDER_COLUMNS}
    params.update({f"l_{name}": [row[name] for row in rows.lines] for name in _LINE_COLUMNS})
    params.update(
        e_products=note_changed_products(session, rows.product_ids),
        e_stock=STOCK_TOPIC,
        e_placed=ORDER_PLACED,
        h_to=str(OrderStatus.PLACED),
        h_kind=kind,
        h_actor=actor_id,
        now=rows.now,
        location=rows.location_id,
        held=str(ReservationStatus.HELD),
    )
    returned = (await session.execute(_PLACE_POSTGRES, params)).all()
    by_position = {int(r.position): int(r.line_id) for r in returned if r.line_id is not None}
    return int(returned[0].order_id), [by_position[row["position"]] for row in rows.lines]
