"""A customer as a module below ``schema.carts.types`` answers a field of type ``Customer``.

``Customer`` reaches its purchases, which are ``Order`` objects, and ``Order.customer`` is a
``Customer`` again. So ``schema.orders.types`` names the type lazily
(``strawberry.lazy("schema.carts.types")``, resolved when the schema is built) and answers
this value, which ``Customer.is_type_of`` accepts: it has the attributes the ``Customer``
fields and resolvers read, so no module looks another up at run time.
"""

from __future__ import annotations

from dataclasses import dataclass

import strawberry

from schema.ids import encode_id
from server.models import Customer as CustomerRow


@dataclass(frozen=True, slots=True)
class CustomerRef:
    """The customer of ``row``; ``with_cart`` only where the customer is the one asking."""

    row: CustomerRow
    with_cart: bool = False

    @property
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Customer", self.row.id))

    @property
    def email(self) -> str:
        return self.row.email

    @property
    def name(self) -> str | None:
        return self.row.name

    @property
    def phone(self) -> str | None:
        return self.row.phone
