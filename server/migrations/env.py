"""Alembic environment: always run with a connection handed in by ``upgrade_to_head``."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context

from server.models import Base
from server.models.base import UtcDateTime


def _render_item(type_: str, obj: Any, autogen_context: Any) -> str | Literal[False]:
    """Render our UtcDateTime as a plain timezone-aware DateTime so migrations stay portable."""
    if type_ == "type" and isinstance(obj, UtcDateTime):
        return "sa.DateTime(timezone=True)"
    return False


config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "run migrations with `omnicart db upgrade`, which hands Alembic a connection"
    )

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
    render_item=_render_item,
)
with context.begin_transaction():
    context.run_migrations()
