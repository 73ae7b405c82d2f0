"""The running application's shared parts: settings, database and the services built on them."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from search import SearchEngine, create_engine
from server.config import Settings
from server.database_broker import DatabaseBroker
from server.db import Database
from server.events import DATABASE_BROKER, Broker, InProcessBroker, Publisher, RedisBroker
from server.gtin import DEFAULT_TEMPLATES, RestrictedTemplate, parse_template
from server.orders.placed import PlacedOrders
from server.page_cache import ProductPages


@dataclass
class Runtime:
    """What every request handler, GraphQL resolver and CLI command works with."""

    settings: Settings
    db: Database
    templates: tuple[RestrictedTemplate, ...] = field(
        default_factory=lambda: tuple(DEFAULT_TEMPLATES)
    )
    events: Broker = field(default_factory=InProcessBroker)
    # None: the engine OMNICART_SEARCH_URL names (embedded in the data dir by default).
    search: SearchEngine = None  # type: ignore[assignment]

    def __post_init__(self) -> None:
        if self.search is None:
            key = self.settings.meili_api_key
            self.search = create_engine(
                self.settings.search_url,
                self.settings.data_dir,
                key.get_secret_value() if key else None,
            )

    @classmethod
    def from_settings(cls, settings: Settings) -> Runtime:
        """Build the runtime the settings describe; opens no connection yet."""
        templates = (
            tuple(parse_template(settings.restricted_templates))
            if settings.restricted_templates
            else tuple(DEFAULT_TEMPLATES)
        )
        db = Database.from_settings(settings)
        return cls(
            settings=settings,
            db=db,
            templates=templates,
            events=create_broker(settings.broker_url, db=db),
        )

    @cached_property
    def secret_key(self) -> str:
        """Return the server's secret key (read or generated once per process)."""
        return self.settings.resolved_secret_key()

    @cached_property
    def publisher(self) -> Publisher:
        """Return this process's publisher of cart and order notices (after commit, batched)."""
        return Publisher(self.events)

    @cached_property
    def placed_orders(self) -> PlacedOrders:
        """Return this process's follower of placed orders (basket counts, "placed" messages)."""
        return PlacedOrders(self.db)

    @cached_property
    def pages(self) -> ProductPages:
        """Return the product pages of the scan path (read model, per-process cache)."""
        return ProductPages(
            self.db,
            self.events,
            self.settings.currency,
            cache_seconds=self.settings.page_cache_seconds,
        )

    async def close(self) -> None:
        """Release every connection the runtime holds."""
        if "pages" in self.__dict__:
            await self.pages.close()
        if "publisher" in self.__dict__:
            await self.publisher.close()
        await self.events.close()
        await self.search.close()
        await self.db.dispose()


def create_broker(
    url: str | None, *, db: Database | None = None, prefix: str = "omnicart"
) -> Broker:
    """Return the broker ``url`` names: in-process, the database or Redis.

    Empty is in-process, ``database`` the database broker over ``db``, ``redis://…`` Redis.
    """
    if not url:
        return InProcessBroker()
    if url == DATABASE_BROKER:
        if db is None:
            raise ValueError("the database broker needs the database")
        return DatabaseBroker(db)
    return RedisBroker(url, prefix=prefix)
