"""The GraphQL layer: Strawberry types and operations over the ``server`` services.

``schema.build.build_schema`` puts the schema together; ``schema.view`` serves it.
"""
