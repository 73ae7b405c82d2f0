"""Orders over GraphQL: checkout, order types and lists, staff actions and live updates.

One module per part; importers name the module (``schema.orders.types``), so a module of
this package never waits on the package's own ``__init__``.
"""
