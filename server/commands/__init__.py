"""The ``omnicart`` sub-commands that work on the chain's data, one module per concern.

Each imports what it shares with the others from ``server.commands.console`` (settings,
migrated database, one transaction per command); ``server.cli`` gathers them.
"""
