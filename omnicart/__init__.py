"""The application put together: ``server``'s ASGI app serving ``schema``'s GraphQL, and the CLI.

The only package that sees every layer: ``omnicart`` → ``schema`` → ``server`` → ``search``,
each importing only those below it (pinned by ``tests/test_layers.py``).
"""
