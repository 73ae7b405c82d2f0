"""``omnicart notify`` (the notification sender as a worker) and ``omnicart remind-orders``."""

from __future__ import annotations

import contextlib
from typing import Annotated

import typer
from sqlalchemy.ext.asyncio import AsyncSession

from server.commands.console import console, in_transaction, load_settings, run_with_db
from server.db import Database
from server.models import utcnow
from server.notifications.sender import lead_sending
from server.orders.reminders import remind_expiring


def notify(
    interval: Annotated[float, typer.Option(help="Seconds between outbox polls.")] = 1.0,
) -> None:
    """Send the shoppers' notifications (mail, SMS, push) as a worker of its own.

    Set OMNICART_NOTIFY_ON_START=false on the servers then. On one machine, only the process
    holding data/notify.sender.lock sends; running several is safe (claims keep them apart).
    """
    settings = load_settings()

    async def work(db: Database) -> None:
        await lead_sending(db, settings, interval=interval)

    console.print("Sending notifications; Ctrl+C stops.")
    with contextlib.suppress(KeyboardInterrupt):
        run_with_db(settings, work)


async def _remind(session: AsyncSession) -> list[str]:
    return [order.number for order in await remind_expiring(session, now=utcnow())]


def remind_orders() -> None:
    """Remind shoppers of click-and-collect orders whose pickup deadline is within a day.

    Safe to run again (e.g. hourly from cron, beside expire-orders): each order is reminded
    once per deadline.
    """
    numbers = in_transaction(load_settings(), _remind)
    if not numbers:
        console.print("No order needs a reminder.")
        return
    for number in numbers:
        typer.echo(number)
    console.print(f"Reminded the shoppers of {len(numbers)} order(s).")
