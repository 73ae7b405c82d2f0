"""Which failures mean a backing service (database, broker) is down, not that the code is wrong.

A PostgreSQL backend killed under a request, a database or Redis that refuses connections,
a PostgreSQL server (or role, or database) out of connection slots, a pool that cannot hand
out a connection in time: the request was fine and may succeed if sent again, so it answers
``SERVICE_UNAVAILABLE`` (retryable) instead of a masked ``INTERNAL``. Everything else
unexpected stays a bug to log with its traceback.
"""

from __future__ import annotations

import errno
import socket
import sqlite3

import asyncpg
import redis.exceptions
from sqlalchemy import exc as sa

from server.errors import ServiceUnavailable

# Exceptions that by themselves say a connection was lost or could not be made.
_LOST_CONNECTION: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, aborted, broken pipe
    socket.gaierror,  # the host name does not resolve
    TimeoutError,
    asyncpg.PostgresConnectionError,  # connection does not exist / failure / rejected
    asyncpg.exceptions.OperatorInterventionError,  # admin shutdown, cannot connect now (57P03)
    # SQLSTATE class 53: the server lacks resources, connection slots above all (53300: "sorry,
    # too many clients already", "remaining connection slots are reserved", a role's or a
    # database's CONNECTION LIMIT reached), memory or disk. Its 53400 is not here.
    asyncpg.exceptions.InsufficientResourcesError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    sa.DisconnectionError,
    sa.TimeoutError,  # the connection pool had none to give in time
)


# The kinds an outage reaches a plain route as (``server.http.outage_handler`` registers for
# them); ``as_unavailable`` tells an outage among them from a bug.
OUTAGE_KINDS: tuple[type[Exception], ...] = (
    sa.SQLAlchemyError,
    OSError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    redis.exceptions.RedisError,
)


_NETWORK_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ETIMEDOUT,
    errno.ENETDOWN,
    errno.ENETUNREACH,
    errno.EHOSTDOWN,
    errno.EHOSTUNREACH,
}


def _is_network_oserror(exc: BaseException) -> bool:
    """Tell a network OSError from a file one (a missing file is a bug, not an outage)."""
    if not isinstance(exc, OSError):
        return False
    # asyncio reports a host whose every address refused as one OSError without an errno.
    return exc.errno in _NETWORK_ERRNOS or str(exc).startswith("Multiple exceptions:")


def _causes(exc: BaseException) -> list[BaseException]:
    """Return ``exc`` and the chain of exceptions that caused it, outermost first."""
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


# A configured limit that one request went past (locks per transaction, say): sending the
# same request again fails the same way, so it stays a bug to log.
_NOT_AN_OUTAGE: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.ConfigurationLimitExceededError,
)


def is_lost_connection(exc: BaseException) -> bool:
    """Tell whether ``exc`` (or what caused it) is a lost or refused service connection.

    SQLAlchemy wraps a driver's error (``DBAPIError`` around its adapter's error around
    asyncpg's), so the whole chain is looked at: the wrapped and the raw form answer alike.
    """
    for cause in _causes(exc):
        if isinstance(cause, sa.DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, _NOT_AN_OUTAGE):
            return False
        if isinstance(cause, _LOST_CONNECTION) or _is_network_oserror(cause):
            return True
    return False


def is_database_busy(exc: BaseException) -> bool:
    """Tell whether ``exc`` is SQLite's write lock still held by another process after the wait.

    ``OMNICART_SQLITE_BUSY_TIMEOUT_MS`` bounds that wait; the request was fine and succeeds
    when sent again.
    """
    for cause in _causes(exc):
        if isinstance(cause, sqlite3.OperationalError) and (
            "database is locked" in str(cause) or "database is busy" in str(cause)
        ):
            return True
    return False


def as_unavailable(exc: BaseException) -> ServiceUnavailable | None:
    """Return the ``ServiceUnavailable`` that ``exc`` really is, or None when it is a bug."""
    if isinstance(exc, ServiceUnavailable):
        return exc
    if is_database_busy(exc):
        return ServiceUnavailable(
            "The database is busy with other writers right now; try again in a moment."
        )
    if not is_lost_connection(exc):
        return None
    return ServiceUnavailable(
        "A service omnicart depends on cannot be reached right now; try again shortly."
    )
