"""Settings: one frozen object built from ``OMNICART_*`` environment variables and passed in."""

from __future__ import annotations

import ipaddress
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Connections a worker's page reader keeps to PostgreSQL (``server.page_reads``), beside its
# pools: a read holds one for a round trip well under a millisecond, so three serve thousands
# a second.
PAGE_READ_CONNECTIONS = 3

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
LogFormat = Literal["text", "json"]
# argon2-cffi profiles (server.signin): RFC 9106's two, and its cheapest, for test suites.
PasswordHashProfile = Literal["rfc9106-low-memory", "rfc9106-high-memory", "cheapest-for-tests"]


class Settings(BaseSettings):
    """Everything the server, CLI and workers read from the environment, validated at start.

    Defaults run with zero set-up: a SQLite file and the embedded search index in
    ``data_dir``, the in-process event broker, and a secret key generated on first start
    and kept in ``data_dir/secret_key``.
    """

    model_config = SettingsConfigDict(env_prefix="OMNICART_", frozen=True, extra="ignore")

    data_dir: Path = Field(
        default=Path("data"), description="Where the SQLite file and indexes live."
    )
    database_url: str | None = Field(
        default=None,
        description="sqlite+aiosqlite:///PATH or postgresql+asyncpg://…; default: SQLite.",
    )
    search_url: str | None = Field(
        default=None,
        description="Empty or embedded:PATH for the embedded engine, http://… for Meilisearch.",
    )
    meili_api_key: SecretStr | None = None
    broker_url: str | None = Field(
        default=None,
        description=(
            "Empty for the in-process broker, `database` for events through the database, "
            "redis://… for Redis pub/sub."
        ),
    )
    secret_key: SecretStr | None = Field(
        default=None, description="Signs cursors and ids; generated if unset."
    )
    cors_origins: list[str] = Field(default_factory=list)
    log_level: LogLevel = "INFO"
    log_format: LogFormat = Field(
        default="text", description="text for people, json for one JSON object a line."
    )
    introspection: bool | None = Field(
        default=None,
        description="Answer GraphQL introspection; default: only in the demo and with debug.",
    )
    debug: bool = Field(
        default=False, description="Enables GraphiQL and unmasked tracebacks in logs."
    )
    currency: str = Field(default="NOK", min_length=3, max_length=3)
    low_stock_threshold: int = Field(default=3, ge=0)
    restricted_templates: str | None = Field(
        default=None,
        description="In-store label templates, e.g. '20-22:PPIIIIIWWWWWK;23-25:PPIIIIIMMMMMK'.",
    )
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    stock_feed_max_bytes: int = Field(
        default=256 * 1024 * 1024,
        ge=1024,
        description="Largest NDJSON body POST /stock/movements takes (a nightly file).",
    )
    max_query_depth: int = Field(default=12, ge=2)
    max_query_tokens: int = Field(default=2000, ge=50)
    max_aliases: int = Field(default=30, ge=1)
    max_query_cost: int = Field(
        default=25_000,
        ge=100,
        description="Most values an operation may ask for, counted before it runs.",
    )
    max_persisted_queries: int = Field(
        default=1000,
        ge=1,
        description="Documents clients register by hash (APQ) kept per process, besides the PWA's.",
    )
    demo: bool = Field(
        default=False, description="Load the demo catalog, stores and stock on first start."
    )
    index_on_start: bool = Field(
        default=True,
        description=(
            "Run the search indexer in the server: build the index when it is empty, then follow "
            "changes. Turn off where `omnicart indexer` runs as a worker of its own."
        ),
    )
    db_pool_size: int = Field(
        default=5,
        ge=1,
        le=500,
        description=(
            "PostgreSQL: connections each worker process keeps open. A worker opens up to "
            "4 × pool size + max overflow + 7 connections (its write, side and read pools, "
            "the page reader's 3 and "
            "the event broker's two); workers × that must stay below what the server admits "
            "(max_connections less superuser_reserved_connections: 97 of a default 100). The "
            "defaults (5, 5: 32 a worker) fit 3 workers; `omnicart serve` warns when they do "
            "not (docs/operations.md)."
        ),
    )
    db_max_overflow: int = Field(
        default=5,
        ge=0,
        le=1000,
        description=(
            "PostgreSQL: connections a worker's write pool may open beyond the pool under a "
            "burst, kept open once opened (counted once in the rule of OMNICART_DB_POOL_SIZE)."
        ),
    )
    sqlite_busy_timeout_ms: int = Field(
        default=30_000,
        ge=0,
        le=600_000,
        description=(
            "SQLite: how long a writer waits for another process's write lock before the "
            "request answers SERVICE_UNAVAILABLE (try again). Long enough for the indexer's "
            "page batches and a worker's start-up writes (demo seeding) in another worker."
        ),
    )
    housekeeping_seconds: float = Field(
        default=60.0,
        gt=0,
        le=86400,
        description=(
            "How often each server process deletes expired idempotency keys and rate-limit "
            "rows (in batches, never inside a request)."
        ),
    )
    page_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=3600,
        description=(
            "Longest a process keeps a product page in its cache (0: no cache); change notices "
            "drop entries sooner."
        ),
    )
    max_line_quantity: int = Field(
        default=99, ge=1, le=1_000_000, description="Most units of one product in one cart."
    )
    customer_session_days: int = Field(
        default=30, ge=1, description="How long a customer stays signed in on a device."
    )
    handoff_minutes: int = Field(
        default=10, ge=1, le=60, description="How long a kiosk handoff code can be claimed."
    )
    claim_minutes: int = Field(
        default=30, ge=1, le=24 * 60, description="How long a kiosk may work on a claimed cart."
    )
    password_hash_profile: PasswordHashProfile = Field(
        default="rfc9106-low-memory",
        description="The argon2-cffi profile new passwords are hashed with: rfc9106-low-memory "
        "(64 MiB, argon2-cffi's default), rfc9106-high-memory (2 GiB), or cheapest-for-tests "
        "(never in production). Stored passwords stay valid and move at their next sign-in.",
    )
    auth_failure_limit: int = Field(
        default=10, ge=1, description="Failed codes or passwords allowed per window and bucket."
    )
    auth_failure_window_minutes: int = Field(
        default=10, ge=1, description="The window over which failed attempts are counted."
    )
    order_pickup_days: int = Field(
        default=7,
        ge=1,
        le=365,
        description=(
            "Days a click-and-collect order waits for its shopper (from placing, and again from "
            "being ready) before `omnicart expire-orders` expires it and releases its stock."
        ),
    )
    points_per_10_kr: int = Field(
        default=1,
        ge=0,
        le=1000,
        description=(
            "Club points earned per 10 kr paid in money (integer; 0 earns none). A point pays "
            "10 øre, so the default gives 1 % back."
        ),
    )
    staff_session_hours: int = Field(
        default=12, ge=1, le=24 * 30, description="How long a staff sign-in lasts on a tablet."
    )
    forwarded_allow_ips: str = Field(
        default="",
        description=(
            "The reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed: "
            "addresses or networks separated by commas, or * for any; empty believes none."
        ),
    )
    scan_conversion_minutes: int = Field(
        default=30,
        ge=1,
        le=24 * 60,
        description="A scan counts as leading to a cart line when one follows within this time.",
    )
    smtp_url: str | None = Field(
        default=None,
        description="smtp://host:port (smtps:// for TLS, user:password@ signs in); unset: no mail.",
    )
    mail_from: str = Field(
        default="omnicart@localhost", description="The sender address of the shoppers' mail."
    )
    sms_webhook_url: str | None = Field(
        default=None,
        description="The SMS gateway's http(s) URL for signed JSON POSTs; no SMS if unset.",
    )
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The shop's address as shoppers reach it: links in mail and SMS start here.",
    )
    notify_on_start: bool = Field(
        default=True,
        description="Send notifications from the server; false where `omnicart notify` runs alone.",
    )
    notify_retry_seconds: float = Field(
        default=30.0, gt=0, description="The first wait before a failed notification is retried."
    )
    notify_retry_max_seconds: float = Field(
        default=3600.0, gt=0, description="The longest wait between retries (the backoff's cap)."
    )

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("smtp://", "smtps://")):
            raise ValueError("OMNICART_SMTP_URL must be smtp://host:port or smtps://host:port")
        return value

    @field_validator("sms_webhook_url")
    @classmethod
    def _sms_scheme(cls, value: str | None) -> str | None:
        if not value:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("OMNICART_SMS_WEBHOOK_URL must be an http:// or https:// URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        if value.startswith("postgres://") or value.startswith("postgresql://"):
            # Accept the URL people copy from their provider and pick the async driver for them.
            return "postgresql+asyncpg://" + value.split("://", 1)[1]
        if not (
            value.startswith("sqlite+aiosqlite://") or value.startswith("postgresql+asyncpg://")
        ):
            raise ValueError(
                "OMNICART_DATABASE_URL must start with sqlite+aiosqlite:/// or "
                "postgresql+asyncpg:// "
                f"(got {value.split('://', 1)[0]}://…)"
            )
        return value

    @field_validator("forwarded_allow_ips")
    @classmethod
    def _proxy_addresses(cls, value: str) -> str:
        items = [item.strip() for item in value.split(",")] if value.strip() else []
        for item in items:
            try:
                if item != "*":
                    ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    "OMNICART_FORWARDED_ALLOW_IPS must be IP addresses or networks (CIDR) "
                    f"separated by commas, or *; {item!r} is neither"
                ) from None
        return ",".join(items)

    @field_validator("currency")
    @classmethod
    def _upper_currency(cls, value: str) -> str:
        if not value.isalpha():
            raise ValueError("OMNICART_CURRENCY must be an ISO 4217 code such as NOK, SEK or EUR")
        return value.upper()

    @model_validator(mode="after")
    def _broker_scheme(self) -> Settings:
        url = self.broker_url
        if url and url != "database" and not url.startswith(("redis://", "rediss://")):
            raise ValueError(
                "OMNICART_BROKER_URL must be empty (in-process), `database` (events through the "
                "database, for several workers without Redis) or redis://host:port/db"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        """Return the database URL in force: the configured one or SQLite in ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'omnicart.db').resolve()}"

    @property
    def introspection_enabled(self) -> bool:
        """Tell whether the schema answers ``__schema`` and ``__type`` (off in production)."""
        if self.introspection is not None:
            return self.introspection
        return self.debug or self.demo

    @property
    def trusted_proxies(self) -> list[str]:
        """Return the proxy addresses and networks uvicorn may take client addresses from."""
        return self.forwarded_allow_ips.split(",") if self.forwarded_allow_ips else []

    @property
    def db_connections_per_worker(self) -> int:
        """Return the most PostgreSQL connections one worker process may open at once.

        The write pool (pool size + max overflow), the side transactions' (2 + pool size as
        overflow), the read-only operations' (pool size, as many again under a burst), the
        page reader's (``PAGE_READ_CONNECTIONS``, ``server.page_reads``) and the database
        event broker's two (listening, publishing): see ``server.db.Database``.
        """
        return 4 * self.db_pool_size + self.db_max_overflow + 2 + PAGE_READ_CONNECTIONS + 2

    @property
    def is_sqlite(self) -> bool:
        """Tell whether the database in force is SQLite."""
        return self.resolved_database_url.startswith("sqlite")

    def resolved_secret_key(self) -> str:
        """Return the secret key, creating and keeping one in ``data_dir`` when none is set."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key
