"""The transactional outbox: changes written with the data, drained later by workers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow


class OutboxEvent(Base):
    """A change that another system (the search index) must learn about."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        Index("ix_outbox_events_pending", "topic", "processed_at", "id"),
        # The page read asks "is a change of this product still pending?" on every miss.
        Index("ix_outbox_events_entity", "topic", "entity_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    topic: Mapped[str] = mapped_column(String(32))
    entity_id: Mapped[int] = mapped_column()
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column()
