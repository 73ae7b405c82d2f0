"""The shoppers' languages (Norwegian Bokmål and English): choosing one, writing money and dates."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from zoneinfo import ZoneInfo

from server.money import format_money, minor_unit_exponent

Language = Literal["nb", "en"]
LANGUAGES: tuple[Language, ...] = ("nb", "en")
DEFAULT_LANGUAGE: Language = "nb"
# Norwegian in any written form is read as Bokmål; Nynorsk readers read Bokmål too.
_NORWEGIAN = {"nb", "no", "nn"}
# The chain's stores are in Norway: pickup times are written in their local time.
STORE_ZONE = ZoneInfo("Europe/Oslo")
_MONTHS_EN = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()


def language_from_accept(header: str | None, default: Language = DEFAULT_LANGUAGE) -> Language:
    """Return the language an ``Accept-Language`` header prefers among ours, else ``default``.

    Tags are weighed by their ``q`` (1 when absent; ties keep the header's order); ``nb``,
    ``no`` and ``nn`` in any region are Bokmål, ``en`` in any region English, and the first
    of those wins. A header naming neither, or none at all, gets ``default`` (Bokmål for
    messages to shoppers; error messages of the API default to English, ``server.messages``).
    """
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().startswith("q="):
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                weight = 0.0
        primary = tag.strip().split("-")[0].lower()
        if weight > 0 and primary:
            ranked.append((-weight, position, primary))
    for _, _, primary in sorted(ranked):
        if primary in _NORWEGIAN:
            return "nb"
        if primary == "en":
            return "en"
    return default


def checked_language(value: str | None) -> Language:
    """Return a stored or given language code as one of ours (unknown ones get the default)."""
    return value if value in LANGUAGES else DEFAULT_LANGUAGE  # type: ignore[return-value]


def money_in(language: Language, amount: int, currency: str) -> str:
    """Write an amount as a reader of ``language`` expects (``1 234,50 kr`` / ``NOK 1,234.50``)."""
    if language == "nb":
        return format_money(amount, currency)
    exponent = minor_unit_exponent(currency)
    sign = "-" if amount < 0 else ""
    whole, minor = divmod(abs(amount), 10**exponent)
    number = f"{whole:,}.{minor:0{exponent}d}" if exponent else f"{whole:,}"
    return f"{sign}{currency}\u00a0{number}"


def date_in(language: Language, when: datetime) -> str:
    """Write a moment's date and time in the stores' zone (``03.12.2026 kl. 18:00``)."""
    local = when.astimezone(STORE_ZONE)
    if language == "nb":
        return local.strftime("%d.%m.%Y kl. %H:%M")
    return f"{local.day} {_MONTHS_EN[local.month - 1]} {local.year}, {local:%H:%M}"
