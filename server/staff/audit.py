"""The staff audit trail: every staff action, who did it, when and on what; read by admins."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.models import StaffAuditEntry
from server.staff.access import StaffActor


@dataclass(frozen=True, slots=True)
class AuditView:
    """One recorded staff action."""

    id: int
    staff_user_id: int | None
    device_id: int | None
    action: str
    subject_type: str
    subject_id: int | None
    store_id: int | None
    details: dict[str, Any]
    at: datetime


async def record_action(
    session: AsyncSession,
    actor: StaffActor,
    action: str,
    *,
    subject_type: str,
    subject_id: int | None,
    store_id: int | None,
    now: datetime,
    details: Mapping[str, Any] | None = None,
) -> None:
    """Write one audit row in the caller's transaction: it stands or falls with the action."""
    await session.execute(
        insert(StaffAuditEntry).values(
            staff_user_id=actor.staff_user_id,
            device_id=actor.device_id,
            action=action,
            subject_type=subject_type,
            subject_id=subject_id,
            store_id=store_id,
            details=dict(details or {}),
            at=now,
        )
    )


async def list_actions(
    session: AsyncSession,
    *,
    staff_user_id: int | None = None,
    action: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> tuple[list[AuditView], bool]:
    """Return the newest audit rows matching the filters, and whether older ones follow."""
    stmt = select(StaffAuditEntry)
    if staff_user_id is not None:
        stmt = stmt.where(StaffAuditEntry.staff_user_id == staff_user_id)
    if action is not None:
        stmt = stmt.where(StaffAuditEntry.action == action)
    if since is not None:
        stmt = stmt.where(StaffAuditEntry.at >= _aware(since))
    if until is not None:
        stmt = stmt.where(StaffAuditEntry.at < _aware(until))
    if before_id is not None:
        stmt = stmt.where(StaffAuditEntry.id < before_id)
    rows = (
        (await session.execute(stmt.order_by(StaffAuditEntry.id.desc()).limit(limit + 1)))
        .scalars()
        .all()
    )
    views = [
        AuditView(
            r.id,
            r.staff_user_id,
            r.device_id,
            r.action,
            r.subject_type,
            r.subject_id,
            r.store_id,
            dict(r.details or {}),
            r.at,
        )
        for r in rows[:limit]
    ]
    return views, len(rows) > limit


def _aware(moment: datetime) -> datetime:
    """Take a time without a zone as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
