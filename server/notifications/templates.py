"""The messages, in Bokmål and English: one subject and text per kind, shortened for SMS and push.

Templates are ``string.Template`` text filled from the notification's payload (what was
true at the event) after money and dates are written for the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from string import Template
from typing import Any

from server.notifications.language import Language, checked_language, date_in, money_in

KINDS = (
    "order_placed",
    "order_ready",
    "order_expiring",
    "order_shipped",
    "order_returned",
    "back_in_stock",
)

# (subject, short text for SMS and push) per kind and language. The mail's text is the
# short text, then the complements (if any) and the link.
_TEXTS: dict[str, dict[Language, tuple[str, str]]] = {
    "order_placed": {
        "nb": ("Ordre $number er mottatt", "Takk! Ordre $number ($total) er mottatt. $where"),
        "en": ("Order $number is placed", "Thank you! Order $number ($total) is placed. $where"),
    },
    "order_ready": {
        "nb": (
            "Ordre $number kan hentes",
            "Ordre $number er klar til henting i $store. Hent innen $deadline.",
        ),
        "en": (
            "Order $number is ready for pickup",
            "Order $number is ready for pickup at $store. Collect it by $deadline.",
        ),
    },
    "order_expiring": {
        "nb": (
            "Ordre $number venter på deg",
            "Husk ordre $number i $store: den kan hentes til $deadline.",
        ),
        "en": (
            "Order $number is waiting for you",
            "Remember order $number at $store: it can be collected until $deadline.",
        ),
    },
    "order_shipped": {
        "nb": ("Ordre $number er sendt", "Ordre $number er sendt og er på vei til deg."),
        "en": ("Order $number has shipped", "Order $number has shipped and is on its way."),
    },
    "order_returned": {
        "nb": ("Retur av ordre $number", "Vi har tatt imot $units vare(r) fra ordre $number."),
        "en": ("Return of order $number", "We have received $units item(s) of order $number."),
    },
    "back_in_stock": {
        "nb": ("$product er tilbake", "$product er tilbake på lager i $store."),
        "en": ("$product is back", "$product is back in stock at $store."),
    },
}
_WHERE = {
    "nb": {"collect": "Du får beskjed når den kan hentes i $store.", "delivery": ""},
    "en": {"collect": "We will tell you when it is ready at $store.", "delivery": ""},
}
_GOES_WELL = {"nb": "Passer godt med:", "en": "Goes well with:"}
_OPEN = {"nb": "Se ordren:", "en": "See the order:"}
_SEE = {"nb": "Se varen:", "en": "See the product:"}


@dataclass(frozen=True, slots=True)
class Message:
    """A notification written out: subject and text for mail, ``short`` for SMS and push."""

    subject: str
    text: str
    short: str
    # The page to open, as a path of the shop (``/#/orders/…``).
    url: str


def render(kind: str, language: str, payload: dict[str, Any], base_url: str = "") -> Message:
    """Write the notification of ``kind`` for a reader of ``language`` from its payload.

    ``base_url`` (the shop's public address) goes in front of the page's path in the text;
    ``Message.url`` stays the path, which the service worker opens within its own origin.
    """
    lang = checked_language(language)
    values = _values(lang, payload)
    subject, short = (Template(t).safe_substitute(values) for t in _TEXTS[kind][lang])
    short = " ".join(short.split())
    parts = [short]
    complements = payload.get("complements") or []
    if complements:
        parts.append(_GOES_WELL[lang] + "\n" + "\n".join(f"- {name}" for name in complements))
    url = str(payload.get("url") or "")
    if url:
        link = _SEE if kind == "back_in_stock" else _OPEN
        parts.append(f"{link[lang]} {base_url.rstrip('/')}{url}")
    return Message(subject=subject, text="\n\n".join(parts) + "\n", short=short, url=url)


def _values(lang: Language, payload: dict[str, Any]) -> dict[str, str]:
    """Return the template's fields: the payload's, with money and dates written out."""
    values = {k: str(v) for k, v in payload.items() if isinstance(v, str | int)}
    if "total" in payload and "currency" in payload:
        values["total"] = money_in(lang, int(payload["total"]), str(payload["currency"]))
    if payload.get("deadline"):
        values["deadline"] = date_in(lang, datetime.fromisoformat(str(payload["deadline"])))
    store = str(payload.get("store") or "")
    how = "collect" if store else "delivery"
    values["where"] = Template(_WHERE[lang][how]).safe_substitute(store=store)
    return values
