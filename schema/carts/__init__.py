"""Carts over GraphQL: the cart types, queries, mutations, handoff and live updates.

One module per part; importers name the module (``schema.carts.types``), so a module of
this package never waits on the package's own ``__init__``.
"""
