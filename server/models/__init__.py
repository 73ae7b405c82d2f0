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
    ProductBarcodeStore,
    StockLevel,
    StockLocation,
    Store,
    StoreItemCode,
)
from server.models.club import ClubConsent, Membership, PointEntry, Receipt, ReceiptLine
from server.models.events import EventNotice
from server.models.notifications import (
    BackInStockRequest,
    CoPurchase,
    Notification,
    PushSubscription,
)
from server.models.orders import Order, OrderLine, OrderStatusChange, StockReservation
from server.models.outbox import OutboxEvent
from server.models.pages import ProductAlternative, ProductPage
from server.models.staff import StaffAuditEntry, StaffSession, StaffUser
from server.models.stock import StockMovement

__all__ = [
    "AuthFailure",
    "BackInStockRequest",
    "Base",
    "Campaign",
    "CampaignPrice",
    "Cart",
    "CartClaim",
    "CartHandoff",
    "CartLine",
    "CoPurchase",
    "ClubConsent",
    "Customer",
    "CustomerSession",
    "Device",
    "EventNotice",
    "IdempotencyKey",
    "Notification",
    "Membership",
    "Order",
    "OrderLine",
    "OrderStatusChange",
    "OutboxEvent",
    "PointEntry",
    "Price",
    "Product",
    "ProductBarcode",
    "ProductBarcodeStore",
    "ProductAlternative",
    "ProductPage",
    "PushSubscription",
    "Receipt",
    "ReceiptLine",
    "ScanEvent",
    "StaffAuditEntry",
    "StaffSession",
    "StaffUser",
    "StockLevel",
    "StockLocation",
    "StockMovement",
    "StockReservation",
    "Store",
    "StoreItemCode",
    "utcnow",
]
