"""Who may do staff work, and where: staff users by role and store, staff devices by store.

A signed-in ``staff`` user works in one store, an ``admin`` in every store. A registered
staff device (a shared tablet, issue 4's ``dv_…`` token) works in its store as ``staff``
but is not a person: it may run the store's order desk (lists, ready, collected, cancel,
returns) and read its scan report, while looking customers up and the audit trail need a
person signed in, so that the audit trail names who looked. Customers, kiosks and guests
are not staff.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.errors import PermissionDenied
from server.viewer import StaffRole, Viewer

NOT_STAFF = "Only staff can do this."


@dataclass(frozen=True, slots=True)
class StaffActor:
    """Someone doing staff work: a staff user or a staff device, with a role and a store."""

    role: StaffRole
    store_id: int | None
    staff_user_id: int | None = None
    device_id: int | None = None

    @property
    def is_admin(self) -> bool:
        """Tell whether the actor works for every store."""
        return self.role == "admin"

    @property
    def is_person(self) -> bool:
        """Tell whether a signed-in person (not a shared device) is acting."""
        return self.staff_user_id is not None

    @property
    def kind(self) -> str:
        """Return how history and audit rows name the actor's kind: staff or device."""
        return "staff" if self.is_person else "device"

    @property
    def actor_id(self) -> int | None:
        """Return the staff user's or the device's id."""
        return self.staff_user_id if self.is_person else self.device_id

    def works_at(self, store_id: int | None) -> bool:
        """Tell whether the actor may act for a store (admins for every store)."""
        return self.is_admin or (store_id is not None and store_id == self.store_id)


def staff_actor(viewer: Viewer) -> StaffActor | None:
    """Return the staff actor a viewer stands for, or None for customers, kiosks and guests."""
    if viewer.staff is not None:
        return StaffActor(viewer.staff.role, viewer.staff.store_id, staff_user_id=viewer.staff.id)
    if viewer.device is not None and viewer.device.kind == "staff":
        return StaffActor("staff", viewer.device.store_id, device_id=viewer.device.id)
    return None


def require_staff(viewer: Viewer, *, person: bool = False, admin: bool = False) -> StaffActor:
    """Return the viewer's staff actor or raise PermissionDenied (saying nothing else).

    ``person`` asks for a signed-in staff user (not a device), ``admin`` for an admin.
    """
    actor = staff_actor(viewer)
    if actor is None or (person and not actor.is_person) or (admin and not actor.is_admin):
        raise PermissionDenied(NOT_STAFF if actor is None else "Your staff role cannot do this.")
    return actor
