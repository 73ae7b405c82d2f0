"""The background sender: claims due notifications, sends them, and records what happened.

A pass claims up to ``batch`` due rows in one short transaction — ``UPDATE … SET attempts
= attempts + 1, next_attempt_at = now + lease WHERE id IN (…) AND status = 'pending' AND
next_attempt_at <= now`` (the candidates read ``FOR UPDATE SKIP LOCKED`` on PostgreSQL) —
so of several senders each row goes to one. It sends outside any transaction (an SMTP
server that does not answer holds no lock and delays nothing but mail), then records each
outcome: sent; a failure retried after ``first · 2^(attempts-1)`` seconds, capped; or failed
for good (a permanent refusal, or ``MAX_ATTEMPTS`` tries). A channel that is not configured
marks its rows ``skipped``; rows older than ``STALE_AFTER`` are not sent any more.

**What "once" means.** A notification row is written once per (event, channel, recipient),
and marked sent in the transaction after the far side accepted it. Should the process die
between the acceptance and that mark, the claim's lease runs out and the message is sent
again: at least once, and more than once only after such a crash (at most once more per
crash). The key travels with every send (the mail's Message-ID, the SMS gateway's ``id``,
the push payload's ``tag``, which makes the browser replace rather than add), so a repeat
can be recognised; SMTP itself has no idempotency.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Protocol

from filelock import FileLock, Timeout
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.config import Settings
from server.db import Database
from server.models import Notification, PushSubscription, utcnow
from server.notifications.channels import (
    DeliveryError,
    Mailer,
    Outgoing,
    Pusher,
    PushTarget,
    SmsGateway,
)
from server.notifications.push import vapid_key
from server.notifications.templates import render

log = logging.getLogger("omnicart.notifications")
LEASE = timedelta(minutes=5)
STALE_AFTER = timedelta(days=2)
MAX_ATTEMPTS = 20
LOCK_FILE = "notify.sender.lock"


class Channel(Protocol):
    """Anything that delivers a written-out notification or raises DeliveryError."""

    async def send(self, item: Outgoing) -> None: ...


@dataclass(frozen=True, slots=True)
class Channels:
    """The configured channels (None where not configured) and the shop's public address."""

    email: Channel | None
    sms: Channel | None
    push: Channel | None
    base_url: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> Channels:
        """Build the channels the settings configure; push is always there (keys are local)."""
        return cls(
            email=Mailer(settings.smtp_url, settings.mail_from) if settings.smtp_url else None,
            sms=SmsGateway(settings.sms_webhook_url, settings.resolved_secret_key())
            if settings.sms_webhook_url
            else None,
            push=Pusher(vapid_key(settings.data_dir), f"mailto:{settings.mail_from}"),
            base_url=settings.public_url,
        )

    def of(self, channel: str) -> Channel | None:
        """Return the channel named ``email``, ``sms`` or ``push``, or None when not set up."""
        return {"email": self.email, "sms": self.sms, "push": self.push}[channel]


def backoff(attempts: int, first: float, cap: float) -> float:
    """Return seconds to wait after the ``attempts``-th failed try: doubling, capped."""
    return min(cap, first * 2 ** max(attempts - 1, 0))


class Sender:
    """Drains the notification outbox through the channels."""

    def __init__(
        self,
        db: Database,
        channels: Channels,
        *,
        retry_seconds: float,
        retry_max_seconds: float,
        batch: int = 50,
    ) -> None:
        self.db = db
        self.channels = channels
        self.retry_seconds = retry_seconds
        self.retry_max_seconds = retry_max_seconds
        self.batch = batch

    async def send_due(self, now: datetime | None = None) -> int:
        """Claim and send what is due; return how many were sent."""
        claimed = await self._claim(now or utcnow())
        outcomes = await asyncio.gather(*(self._deliver(item) for item in claimed))
        async with self.db.transaction() as session:
            for item, outcome in zip(claimed, outcomes, strict=True):
                await self._record(session, item, outcome, utcnow())
        return sum(1 for outcome in outcomes if outcome is None)

    async def run_forever(self, interval: float = 1.0) -> None:
        """Send due notifications every ``interval`` seconds, for ever; errors are logged."""
        while True:
            try:
                while await self.send_due() or await self._more_due():
                    pass
            except Exception:  # the database away, say: try again next round
                log.exception("notification sender pass failed")
            await asyncio.sleep(interval)

    async def _more_due(self) -> bool:
        async with self.db.transaction(write=False) as session:
            return (await session.scalar(_due(utcnow()).limit(1))) is not None

    async def _claim(self, now: datetime) -> list[Outgoing]:
        """Take due rows for this pass (see the module docstring); write them out."""
        async with self.db.transaction() as session:
            await session.execute(
                update(Notification)
                .where(
                    Notification.status == "pending", Notification.created_at < now - STALE_AFTER
                )
                .values(status="failed", last_error="not sent in time")
            )
            pick = _due(now).order_by(Notification.id).limit(self.batch)
            if not self.db.is_sqlite:
                pick = pick.with_for_update(skip_locked=True)
            ids = list((await session.execute(pick)).scalars())
            if not ids:
                return []
            rows = (
                (
                    await session.execute(
                        update(Notification)
                        .where(
                            Notification.id.in_(ids),
                            Notification.status == "pending",
                            Notification.next_attempt_at <= now,
                        )
                        .values(attempts=Notification.attempts + 1, next_attempt_at=now + LEASE)
                        .returning(Notification)
                        .execution_options(synchronize_session=False)
                    )
                )
                .scalars()
                .all()
            )
            targets = await _push_targets(session, [r.push_subscription_id for r in rows])
        return [self._outgoing(row, targets) for row in sorted(rows, key=lambda r: r.id)]

    def _outgoing(self, row: Notification, targets: dict[int, PushTarget]) -> Outgoing:
        message = render(row.kind, row.language, row.payload, self.channels.base_url)
        push = targets.get(row.push_subscription_id) if row.push_subscription_id else None
        return Outgoing(row.id, row.key, row.channel, row.recipient, message, push)

    async def _deliver(self, item: Outgoing) -> DeliveryError | None:
        channel = self.channels.of(item.channel)
        if channel is None:
            return DeliveryError(f"no {item.channel} channel is configured", permanent=True)
        try:
            await channel.send(item)
        except DeliveryError as error:
            return error
        return None

    async def _record(
        self, session: AsyncSession, item: Outgoing, outcome: DeliveryError | None, now: datetime
    ) -> None:
        """Mark a claimed row sent, due again later, failed or skipped."""
        values: dict[str, object]
        attempts = await session.scalar(
            select(Notification.attempts).where(Notification.id == item.id)
        )
        if outcome is None:
            values = {"status": "sent", "sent_at": now, "last_error": None}
        elif self.channels.of(item.channel) is None:
            values = {"status": "skipped", "last_error": str(outcome)}
        elif outcome.permanent or (attempts or 0) >= MAX_ATTEMPTS:
            values = {"status": "failed", "last_error": str(outcome)[:500]}
        else:
            wait = backoff(attempts or 1, self.retry_seconds, self.retry_max_seconds)
            values = {
                "next_attempt_at": now + timedelta(seconds=wait),
                "last_error": str(outcome)[:500],
            }
            log.info("notification %s not sent (%s); retry in %.1fs", item.key, outcome, wait)
        await session.execute(
            update(Notification).where(Notification.id == item.id).values(**values)
        )
        if outcome is not None and outcome.permanent and item.push is not None:
            # The push service says the browser unsubscribed: forget the subscription.
            await session.execute(
                delete(PushSubscription).where(PushSubscription.id == item.push.id)
            )


def _due(now: datetime):  # type: ignore[no-untyped-def]
    return select(Notification.id).where(
        Notification.status == "pending", Notification.next_attempt_at <= now
    )


async def _push_targets(session: AsyncSession, ids: list[int | None]) -> dict[int, PushTarget]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(
        select(
            PushSubscription.id,
            PushSubscription.endpoint,
            PushSubscription.p256dh,
            PushSubscription.auth,
        ).where(PushSubscription.id.in_(wanted))
    )
    return {row.id: PushTarget(*row) for row in rows}


def sender_from_settings(db: Database, settings: Settings) -> Sender:
    """Build the sender the settings describe."""
    return Sender(
        db,
        Channels.from_settings(settings),
        retry_seconds=settings.notify_retry_seconds,
        retry_max_seconds=settings.notify_retry_max_seconds,
    )


async def lead_sending(
    db: Database, settings: Settings, *, interval: float = 1.0, retry: float = 5.0
) -> None:
    """Run the sender in the one process of this machine holding the sender's lock.

    Like the indexer's lock: the others try again each ``retry`` seconds and take over when
    the holder exits. Senders on other machines (PostgreSQL) are kept apart by the claims.
    """
    path = Path(settings.data_dir) / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(path, thread_local=False, fallback_to_soft=False)
    while True:
        try:
            lock.acquire(blocking=False)
            break
        except Timeout:
            await asyncio.sleep(retry)
    try:
        log.info("this process sends the notifications (lock %s)", path)
        await sender_from_settings(db, settings).run_forever(interval)
    finally:
        lock.release()
