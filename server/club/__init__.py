"""The customer club: membership and consents, points in every channel, member prices, history.

Membership
----------
A customer joins at sign-up (``joinClub``) or later (``clubJoin``), accepting the club terms;
marketing by email and by SMS are separate consents, each one row per (customer, kind) with
when it was given and when withdrawn. A member gets a ten-digit member number whose last
digit is a Luhn check digit (``numbers``); the PWA shows it as Code 128 and QR, and the till,
the kiosk and the staff tablet take either that number or the member's phone number.

Points
------
A ledger (``point_entries``), one row per change with its kind, reason and source (order or
receipt); the balance is always the sum of the rows (``points``). Earning is integer
arithmetic on paid value: ``paid * OMNICART_POINTS_PER_10_KR // 1000`` (paid in øre), and
nothing on the part paid with points. One point is worth ``POINT_VALUE`` = 10 øre, so the
default rate (1 point per 10 kr) gives 1 % back.

* Orders (web, app, kiosk, staff) earn when collected or delivered.
* Till sales recorded with the member's phone or number earn at once (``record_receipt``).
* Returns take back what the returned goods earned, and give back the points that paid for
  them (proportionally, rounded for the member).
* ``checkout(usePoints: N)`` holds N points with a ``held`` row (the balance drops at once)
  under the customer's row lock, refused with ``INSUFFICIENT_POINTS`` when the balance is
  short, so concurrent checkouts never spend a point twice. The hold becomes ``spent`` when
  the order is collected or delivered; a cancellation or expiry adds a ``released`` row.

The modules: ``numbers`` (member numbers), ``membership`` (joining, consents, identifying a
member), ``points`` (the ledger), ``purchases`` (orders and receipts as one history),
``account`` (preferences, export and deletion of the customer's data).
"""
