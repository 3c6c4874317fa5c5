"""Money as the quote counts it: Decimal amounts in a currency's minor unit, rounded half up once per line
(docs/adr/0015-money-as-decimal-rounded-per-line.md)."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

ZERO = Decimal(0)

# ISO 4217 minor units that are not 2. Anything not listed has cents.
CURRENCY_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
}


def currency_exponent(currency: str) -> int:
    return CURRENCY_EXPONENTS.get(currency.upper(), 2)


def minor_unit(currency: str) -> Decimal:
    """0.01 for EUR, 1 for JPY, 0.001 for KWD."""
    return Decimal(1).scaleb(-currency_exponent(currency))


def round_money(value: Decimal, currency: str) -> Decimal:
    return value.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def money(value: Any) -> Decimal:
    """An amount of a price snapshot (a string, or None / "" for none) as a Decimal."""
    return Decimal(str(value)) if value not in (None, "") else ZERO


def floor_money(value: Decimal, currency: str) -> Decimal:
    return value.quantize(minor_unit(currency), rounding=ROUND_DOWN)


def plain_decimal(value: Decimal) -> Decimal:
    """1.5 rather than 1.5000, 2 rather than 2.0000 or 2E+0."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()
