"""Live-event notices kept in the database, for workers that share no broker."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, utcnow


class EventNotice(Base):
    """One published event (``topic`` and its small message), read by every worker's poller.

    Ids only grow, even on SQLite after pruning (AUTOINCREMENT), so a poller's "after id N"
    never skips a notice that reused an old id. Rows live about a minute.
    """

    __tablename__ = "event_notices"
    __table_args__ = (
        Index("ix_event_notices_created_at", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True
    )
    topic: Mapped[str] = mapped_column(String(64))
    message: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
