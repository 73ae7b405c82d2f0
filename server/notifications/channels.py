"""The three ways a notification leaves: mail over SMTP, SMS through a gateway, Web Push.

Each channel's ``send`` returns when the far side accepted the message, or raises
``DeliveryError`` — ``permanent`` when trying again cannot help (an address refused, a
push subscription gone), otherwise the sender retries later.

The SMS gateway gets ``POST`` with the JSON body ``{"to", "message", "id"}`` (``id`` is
the notification's key: a gateway that remembers ids can drop a repeat) and the header
``X-Omnicart-Signature: sha256=<hex>``, the HMAC-SHA256 of the exact body bytes under the
server's secret key (``OMNICART_SECRET_KEY``). Any 2xx is accepted; 408, 429 and 5xx are
retried; other 4xx are permanent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import unquote, urlsplit

import aiohttp
import aiosmtplib
import httpx
from py_vapid import Vapid
from pywebpush import WebPushException, webpush_async

from server.notifications.templates import Message

SIGNATURE_HEADER = "X-Omnicart-Signature"
TIMEOUT = 10.0
# A push waits this long at the push service for a browser that is offline.
PUSH_TTL = 24 * 3600


class DeliveryError(Exception):
    """The far side did not take the message; ``permanent`` when retrying cannot help."""

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True, slots=True)
class PushTarget:
    """A browser's subscription as the push service needs it."""

    id: int
    endpoint: str
    p256dh: str
    auth: str


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A claimed notification, written out, with where it goes."""

    id: int
    key: str
    channel: str
    recipient: str
    message: Message
    push: PushTarget | None


def sign(body: bytes, secret: str) -> str:
    """Return the signature header's value of an SMS gateway request body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class Mailer:
    """Sends mail through the SMTP server of ``smtp://[user:password@]host:port``."""

    def __init__(self, url: str, sender: str) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "localhost"
        self.tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.sender = sender

    async def send(self, item: Outgoing) -> None:
        """Hand one mail to the SMTP server; its Message-ID is made from the key."""
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = item.recipient
        mail["Subject"] = item.message.subject
        mail["Date"] = formatdate(usegmt=True)
        domain = self.sender.rpartition("@")[2] or "omnicart"
        # The key with dots for colons, which a Message-ID may not hold.
        mail["Message-ID"] = f"<{item.key.replace(':', '.')}@{domain}>"
        mail.set_content(item.message.text)
        try:
            await aiosmtplib.send(
                mail,
                hostname=self.host,
                port=self.port,
                use_tls=self.tls,
                username=self.username,
                password=self.password,
                timeout=TIMEOUT,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc}", permanent=True) from exc
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(f"SMTP {exc.code}", permanent=500 <= exc.code < 600) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"SMTP server unreachable: {type(exc).__name__}") from exc


class SmsGateway:
    """Posts signed JSON to the SMS gateway (the format is in the module docstring)."""

    def __init__(self, url: str, secret: str) -> None:
        self.url = url
        self.secret = secret

    async def send(self, item: Outgoing) -> None:
        """POST one SMS; a 2xx answer means the gateway took it."""
        body = json.dumps(
            {"to": item.recipient, "message": item.message.short, "id": item.key},
            ensure_ascii=False,
            separators=(",", ":"),
        ).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(body, self.secret)}
        try:
            async with httpx.AsyncClient(timeout=TIMEOUT) as client:
                answer = await client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"SMS gateway unreachable: {type(exc).__name__}") from exc
        if answer.is_success:
            return
        retry = answer.status_code in (408, 429) or answer.status_code >= 500
        raise DeliveryError(f"SMS gateway answered {answer.status_code}", permanent=not retry)


class Pusher:
    """Sends Web Push messages signed with the server's VAPID key (RFC 8291 aes128gcm)."""

    def __init__(self, key: Vapid, contact: str) -> None:
        self.key = key
        self.contact = contact

    async def send(self, item: Outgoing) -> None:
        """Encrypt the message for the browser and POST it to its push service."""
        assert item.push is not None, "a push notification has its subscription"
        data = json.dumps(
            {
                "title": item.message.subject,
                "body": item.message.short,
                "url": item.message.url,
                "tag": item.key,
            },
            ensure_ascii=False,
        )
        target = item.push
        try:
            await webpush_async(
                {
                    "endpoint": target.endpoint,
                    "keys": {"p256dh": target.p256dh, "auth": target.auth},
                },
                data,
                vapid_private_key=self.key,
                vapid_claims={"sub": self.contact},
                ttl=PUSH_TTL,
                timeout=TIMEOUT,
            )
        except WebPushException as exc:
            status = exc.status_code
            raise DeliveryError(
                f"push service answered {status}", permanent=status in (404, 410)
            ) from exc
        except (aiohttp.ClientError, OSError, TimeoutError) as exc:
            raise DeliveryError(f"push service unreachable: {type(exc).__name__}") from exc
