"""The ORM models, split by domain; importing this package registers every table."""

from server.models.accounts import AuthFailure, Customer, CustomerSession, Device
from server.models.analytics import ScanEvent
from server.models.base import Base, utcnow
from server.models.carts import Cart, CartClaim, CartHandoff, CartLine, IdempotencyKey
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
    "AuthFailure",
    "Base",
    "Campaign",
    "CampaignPrice",
    "Cart",
    "CartClaim",
    "CartHandoff",
    "CartLine",
    "Customer",
    "CustomerSession",
    "Device",
    "IdempotencyKey",
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
