"""A kiosk or staff device looking up a member: first name and points, guesses rate-limited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from server.club.membership import KioskMember, kiosk_member
from server.errors import PermissionDenied
from server.ratelimit import AttemptCounter
from server.viewer import Viewer


async def member_at_kiosk(
    session: AsyncSession,
    viewer: Viewer,
    code: str,
    *,
    client_address: str,
    attempts: AttemptCounter,
    now: datetime,
) -> KioskMember:
    """Return the first name and points of the member a card or phone number names.

    Only kiosks and staff answer (``UNAUTHORIZED`` for shoppers and guests). Like a handoff
    claim, each lookup is admitted against the device (or staff user) and the client address
    first, and a code that names nobody stays counted, so past the limit every lookup
    answers ``RATE_LIMITED``: numbers and phones cannot be tried one after another.
    """
    device = viewer.device
    if device is not None and device.kind in ("kiosk", "staff"):
        who = f"device:{device.id}"
    elif viewer.staff is not None:
        who = f"staff:{viewer.staff.id}"
    else:
        raise PermissionDenied("Only a kiosk or staff can look up a member.")
    buckets = [f"member:{who}", f"member:addr:{client_address}"]
    async with attempts.attempt(buckets, now) as attempt:
        found = await kiosk_member(session, code)
        attempt.succeeded()
    return found
