"""Who is asking: the identity one request or subscription carries, as services see it.

A viewer is resolved from the request's credentials by ``server.accounts.resolve_viewer``
(``Authorization: Bearer …`` and ``X-Cart-Token``, or the same two values in a WebSocket's
``connection_init`` payload). Services take it as a plain value and decide from it what the
caller may reach; they never look at headers.

Signed-in staff users (``ss_…`` bearer tokens) get a ``staff`` field, next to
``customer_id`` and ``device``; what staff may do is decided in ``server.staff``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

DeviceKind = Literal["kiosk", "staff", "pos", "warehouse"]
# Devices that may record stock movements (server.stock).
INTEGRATION_KINDS: frozenset[str] = frozenset({"pos", "warehouse"})
StaffRole = Literal["staff", "admin"]


@dataclass(frozen=True, slots=True)
class DeviceIdentity:
    """A registered device of one store: a kiosk, a staff tablet, a till (pos) or a warehouse."""

    id: int
    store_id: int
    kind: DeviceKind
    name: str


@dataclass(frozen=True, slots=True)
class StaffIdentity:
    """A signed-in staff user: ``staff`` works in ``store_id``, ``admin`` for every store."""

    id: int
    role: StaffRole
    store_id: int | None
    name: str
    session_id: int


@dataclass(frozen=True, slots=True)
class Viewer:
    """The identity of a caller; every field is optional, an empty viewer is anonymous."""

    customer_id: int | None = None
    session_id: int | None = None
    device: DeviceIdentity | None = None
    # The hash of the X-Cart-Token the caller sent (the token itself is never kept).
    cart_token_hash: str | None = None
    staff: StaffIdentity | None = None

    @property
    def is_anonymous(self) -> bool:
        """Tell whether the caller proved nothing at all."""
        return (
            self.customer_id is None
            and self.device is None
            and self.cart_token_hash is None
            and self.staff is None
        )

    def as_cart_holder(self) -> Viewer:
        """Return this viewer without its device: what the cart's own holder (phone) may do."""
        return replace(self, device=None)
