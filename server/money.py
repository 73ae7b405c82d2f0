"""Money in integer minor units, and how it is written for shoppers."""

from __future__ import annotations

# Minor units per currency that differ from the usual two decimals (ISO 4217).
_EXPONENTS = {"JPY": 0, "ISK": 0, "KRW": 0}
_SUFFIX_KRONER = {"NOK", "SEK", "DKK"}


def minor_unit_exponent(currency: str) -> int:
    """Return how many decimals the currency's minor unit has (2 for NOK and EUR, 0 for JPY)."""
    return _EXPONENTS.get(currency, 2)


def format_money(amount: int, currency: str) -> str:
    """Return an amount in minor units as shoppers read it, e.g. ``49,90 kr`` or ``€ 3.50``."""
    exponent = minor_unit_exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, minor = divmod(abs(amount), 10**exponent)
    whole_text = f"{whole:,}".replace(",", "\u00a0")
    if currency in _SUFFIX_KRONER:
        number = f"{whole_text},{minor:0{exponent}d}" if exponent else whole_text
        return f"{sign}{number}\u00a0kr"
    number = f"{whole_text}.{minor:0{exponent}d}" if exponent else whole_text
    symbol = {"EUR": "€", "USD": "$", "GBP": "£"}.get(currency, currency)
    return f"{sign}{symbol}\u00a0{number}"
