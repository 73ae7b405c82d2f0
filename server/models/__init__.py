"""The ORM models, split by domain; importing this package registers every table."""

from server.models.analytics import ScanEvent
from server.models.base import Base, utcnow
from server.models.catalog import (
    Campaign,
    CampaignPrice,
    Price,
    Product,
    ProductBarcode,
    StockLevel,
    StockLocation,
    Store,
    StoreItemCode,
)
from server.models.outbox import OutboxEvent

__all__ = [
    "Base",
    "Campaign",
    "CampaignPrice",
    "OutboxEvent",
    "Price",
    "Product",
    "ProductBarcode",
    "ScanEvent",
    "StockLevel",
    "StockLocation",
    "Store",
    "StoreItemCode",
    "utcnow",
]
