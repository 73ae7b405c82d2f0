"""Notifications: push subscriptions, back-in-stock requests and the server's push key."""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated

import strawberry
from strawberry.types import Info

from schema.context import context_of
from schema.errors import UserError
from schema.ids import decode_id, encode_id
from schema.mutations import Call, run_mutation
from server import catalog
from server.errors import AppError, NotFound
from server.gtin import parse_gtin
from server.notifications.back_in_stock import StockAlert, request_back_in_stock
from server.notifications.language import language_from_accept
from server.notifications.push import public_key_of, subscribe_push, vapid_key


@strawberry.input(
    description="The keys of a browser's push subscription (PushSubscription.toJSON)."
)
class PushKeysInput:
    p256dh: str = strawberry.field(description="The browser's P-256 public key, base64url.")
    auth: str = strawberry.field(description="The browser's 16-byte auth secret, base64url.")


@strawberry.input(description="A browser's push subscription, as PushManager.subscribe gives it.")
class PushSubscribeInput:
    endpoint: str = strawberry.field(description="The push service URL (https).")
    keys: PushKeysInput = strawberry.field(description="The subscription's keys.")


@strawberry.type(description="Whether the browser will be told about orders and stock.")
class PushSubscribePayload:
    subscribed: bool = strawberry.field(description="True when the subscription is kept.")
    errors: list[UserError] = strawberry.field(description="Why not, if it is not.")

    @classmethod
    def failed(cls, error: AppError) -> PushSubscribePayload:
        """Build the payload of a refused subscription."""
        return cls(subscribed=False, errors=[UserError.from_error(error)])


@strawberry.enum(description="How to tell a shopper.")
class NotificationChannel(Enum):
    PUSH = "push"
    EMAIL = "email"
    SMS = "sms"


@strawberry.input(description="Tell me when this product is back in stock in this store.")
class BackInStockRequestInput:
    gtin: str = strawberry.field(description="The product's barcode, in any printed form.")
    store_id: strawberry.ID = strawberry.field(description="The store to watch.")
    channel: NotificationChannel = strawberry.field(
        description="PUSH (this browser must have subscribed), or EMAIL / SMS (signed in)."
    )


@strawberry.type(description="A request to be told once when a product is back in a store.")
class BackInStockRequest:
    id: strawberry.ID = strawberry.field(description="The request.")
    channel: NotificationChannel = strawberry.field(description="How the shopper is told.")
    created_at: datetime = strawberry.field(description="When it was asked.")
    notified_at: datetime | None = strawberry.field(
        description="When the product came back and the message was written; null while open."
    )

    @classmethod
    def from_model(cls, alert: StockAlert) -> BackInStockRequest:
        """Build the type from the service's request."""
        return cls(
            id=strawberry.ID(encode_id("BackInStockRequest", alert.id)),
            channel=NotificationChannel(alert.channel),
            created_at=alert.created_at,
            notified_at=alert.notified_at,
        )


@strawberry.type(description="The request kept (asking again answers the open one), or why not.")
class BackInStockRequestPayload:
    request: BackInStockRequest | None = strawberry.field(description="The open request.")
    errors: list[UserError] = strawberry.field(
        description="UNAUTHORIZED (nobody to tell), CONFLICT (in stock there now), NOT_FOUND."
    )

    @classmethod
    def failed(cls, error: AppError) -> BackInStockRequestPayload:
        """Build the payload of a refused request."""
        return cls(request=None, errors=[UserError.from_error(error)])


@strawberry.type
class NotificationQuery:
    @strawberry.field(
        description="The server's VAPID public key: PushManager.subscribe's applicationServerKey."
    )
    def web_push_public_key(self, info: Info) -> str:
        return public_key_of(vapid_key(context_of(info).settings.data_dir))


@strawberry.type
class NotificationMutation:
    @strawberry.mutation(
        description=(
            "Keep this browser's push subscription for the signed-in customer or the guest "
            "cart's token holder: their order messages and back-in-stock alerts reach it."
        )
    )
    async def push_subscribe(
        self,
        info: Info,
        input: Annotated[PushSubscribeInput, strawberry.argument(description="The subscription.")],
    ) -> PushSubscribePayload:
        return await run_mutation(
            info,
            PushSubscribePayload,
            lambda call: subscribe_push(
                call.session,
                call.viewer,
                endpoint=input.endpoint,
                p256dh=input.keys.p256dh,
                auth=input.keys.auth,
                now=call.now,
                allow_loopback_http=call.settings.debug,
            ),
            lambda _kept: PushSubscribePayload(subscribed=True, errors=[]),
        )

    @strawberry.mutation(
        description=(
            "Ask to be told once when a product out of stock in a store is available there "
            "again (the first stock movement or return that makes it so)."
        )
    )
    async def back_in_stock_request(
        self,
        info: Info,
        input: Annotated[BackInStockRequestInput, strawberry.argument(description="What, where.")],
    ) -> BackInStockRequestPayload:
        ctx = context_of(info)
        language = language_from_accept(ctx.request.headers.get("accept-language"))

        async def ask(call: Call) -> StockAlert:
            store_id = decode_id(input.store_id, "Store", field="storeId")
            product = await catalog.product_by_gtin(call.session, parse_gtin(input.gtin))
            if product is None or not product.active:
                raise NotFound("There is no such product.", field="gtin")
            return await request_back_in_stock(
                call.session,
                call.viewer,
                product_id=product.id,
                store_id=store_id,
                channel=input.channel.value,
                language=language,
                now=call.now,
            )

        return await run_mutation(
            info,
            BackInStockRequestPayload,
            ask,
            lambda alert: BackInStockRequestPayload(
                request=BackInStockRequest.from_model(alert), errors=[]
            ),
        )
