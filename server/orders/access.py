"""Who may see an order: the shopper who placed it, and staff where the order belongs."""

from __future__ import annotations

from server.orders.views import OrderView
from server.staff import StaffActor, staff_actor
from server.states import FulfilmentMethod
from server.viewer import Viewer


def shopper_placed(viewer: Viewer, order: OrderView) -> bool:
    """Tell whether the viewer is the shopper: the order's customer, or the guest cart's holder."""
    if order.customer_id is not None:
        return viewer.customer_id == order.customer_id
    return order.cart_token_hash is not None and viewer.cart_token_hash == order.cart_token_hash


def staff_may_see(actor: StaffActor, order: OrderView) -> bool:
    """Tell whether staff may see an order: their store's, any delivery order; admins all."""
    return (
        actor.is_admin
        or order.fulfilment == FulfilmentMethod.DELIVERY
        or (
            actor.store_id is not None and actor.store_id in (order.pickup_store_id, order.store_id)
        )
    )


def may_see(viewer: Viewer, order: OrderView) -> bool:
    """Tell whether the viewer may read (and follow) the order; others get "no such order"."""
    if shopper_placed(viewer, order):
        return True
    actor = staff_actor(viewer)
    return actor is not None and staff_may_see(actor, order)
