"""Staff: accounts with roles, what staff may do where, customer lookup and the audit trail.

Roles
-----
``staff`` works in one store; ``admin`` works for every store (and reads the audit
trail). Accounts are added with ``omnicart staff add`` and sign in with email and
password (``staffSignIn`` → ``ss_…`` bearer token). A store's staff device token (issue 4)
also works at that store's order desk, but not for anything that looks at a person.

What staff may do
-----------------
=============================  ==================================  =====================
operation                      staff (store S)                     admin
=============================  ==================================  =====================
read an order, follow it       collected or placed at S; every     every order
                               delivery order (returns happen in
                               any store)
list orders by status          orders collected at S               any store, or all
mark ready / collected         click-and-collect orders of S       any
cancel                         click-and-collect orders of S       any order
mark shipped / delivered       no (the online warehouse's work)    delivery orders
take a return                  into S                              into a store named
look customers up              yes (person only)                   yes
scan report                    S                                   any store
audit trail                    no                                  yes
=============================  ==================================  =====================

Customers, kiosks and guests calling staff operations get ``UNAUTHORIZED`` before
anything is looked up; staff reaching an order outside their reach get ``NOT_FOUND``, as
if it did not exist. Every staff change and every customer lookup writes an audit row
(who: staff user or device; what; when; on what) in the same transaction.
"""

from __future__ import annotations

from server.staff.access import StaffActor, require_staff, staff_actor
from server.staff.accounts import (
    StaffRecord,
    StaffSignedIn,
    add_staff,
    list_staff,
    sign_in,
    sign_out,
    staff_by_ids,
    staff_identity,
)
from server.staff.audit import AuditView, list_actions, record_action
from server.staff.customers import (
    PurchasedProduct,
    customer_for_staff,
    purchase_history,
    search_customers,
)

__all__ = [
    "AuditView",
    "PurchasedProduct",
    "StaffActor",
    "StaffRecord",
    "StaffSignedIn",
    "add_staff",
    "customer_for_staff",
    "list_actions",
    "list_staff",
    "purchase_history",
    "record_action",
    "require_staff",
    "search_customers",
    "sign_in",
    "sign_out",
    "staff_actor",
    "staff_by_ids",
    "staff_identity",
]
