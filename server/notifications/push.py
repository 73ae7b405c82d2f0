"""Web Push: the server's VAPID key pair and the browsers' subscriptions.

The key pair is generated into the data dir on first use (``vapid_private.pem``, mode
600; under a file lock, so several workers starting at once make one pair), like the
secret key. Browsers subscribe with its public key (``applicationServerKey``); the sender
signs each push with the private one. Endpoints must be ``https://`` — a shopper's input
must not make the server POST to addresses of its own network — except loopback
``http://`` with ``OMNICART_DEBUG``, for development and tests.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives import serialization
from filelock import FileLock
from py_vapid import Vapid
from sqlalchemy.ext.asyncio import AsyncSession

from server.db import upsert
from server.errors import InvalidInput, PermissionDenied
from server.models import PushSubscription
from server.viewer import Viewer

KEY_FILE = "vapid_private.pem"
MAX_ENDPOINT = 2048


def vapid_key(data_dir: Path) -> Vapid:
    """Return the server's VAPID key pair, generating and keeping one in ``data_dir``."""
    path = data_dir / KEY_FILE
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        with FileLock(data_dir / f"{KEY_FILE}.lock"):
            if not path.exists():
                key = Vapid()
                key.generate_keys()
                partial = path.with_suffix(".partial")
                partial.write_bytes(key.private_pem())
                partial.chmod(0o600)
                partial.replace(path)
    return Vapid.from_file(str(path))


def public_key_of(key: Vapid) -> str:
    """Return the public key as browsers take it: the raw P-256 point, base64url, unpadded."""
    raw = key.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _b64(text: str, length: int, field: str) -> str:
    """Return base64url ``text`` unpadded if it decodes to ``length`` bytes, else raise."""
    try:
        raw = base64.urlsafe_b64decode(text.strip() + "=" * (-len(text.strip()) % 4))
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != length or (field.endswith("p256dh") and raw[0] != 4):
        raise InvalidInput(f"This is not a browser's push key ({field}).", field=field)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def checked_endpoint(endpoint: str, *, allow_loopback_http: bool) -> str:
    """Return a push endpoint URL if the server may POST to it, else raise InvalidInput."""
    parts = urlsplit(endpoint.strip())
    if len(endpoint) > MAX_ENDPOINT or not parts.hostname:
        raise InvalidInput("This is not a push endpoint URL.", field="endpoint")
    if parts.scheme == "https":
        return endpoint.strip()
    loopback = parts.hostname == "localhost"
    try:
        loopback = loopback or ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        pass
    if parts.scheme == "http" and loopback and allow_loopback_http:
        return endpoint.strip()
    raise InvalidInput("A push endpoint is an https:// URL.", field="endpoint")


async def subscribe_push(
    session: AsyncSession,
    viewer: Viewer,
    *,
    endpoint: str,
    p256dh: str,
    auth: str,
    now: datetime,
    allow_loopback_http: bool = False,
) -> int:
    """Keep a browser's subscription for the signed-in customer or the cart token's holder.

    The same endpoint subscribing again (another sign-in on that browser) moves it to
    its new owner with its new keys. Returns the subscription's id.
    """
    if viewer.customer_id is None and viewer.cart_token_hash is None:
        raise PermissionDenied("Sign in, or start a cart, to be notified.")
    values = {
        "endpoint": checked_endpoint(endpoint, allow_loopback_http=allow_loopback_http),
        "p256dh": _b64(p256dh, 65, "keys.p256dh"),
        "auth": _b64(auth, 16, "keys.auth"),
        "customer_id": viewer.customer_id,
        "cart_token_hash": None if viewer.customer_id is not None else viewer.cart_token_hash,
        "created_at": now,
    }
    stmt = upsert(session, PushSubscription).values(**values)
    row = await session.execute(
        stmt.on_conflict_do_update(
            index_elements=[PushSubscription.endpoint],
            set_={
                k: stmt.excluded[k] for k in ("p256dh", "auth", "customer_id", "cart_token_hash")
            },
        ).returning(PushSubscription.id)
    )
    return int(row.scalar_one())
