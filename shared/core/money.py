"""What an amount of money in an event is worth: one rule for the profile and for attribution.

Apps send ``revenue`` as a number, sometimes as a decimal string ("99.95"). Anything else — a
negative, an exponent ("1e11"), NaN, a flag, more than ``MAX_AMOUNT`` — is a unit mistake or a
forgery, not a sale, and is worth nothing (the order itself still counts).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_AMOUNT = Decimal("1e9")
CENT = Decimal("0.01")
# The fields an order's value is read from, in order (Segment's ``revenue``, then ``total``, ``value``).
ORDER_VALUE_FIELDS = ("revenue", "total", "value")
_DECIMAL_TEXT = re.compile(r"[0-9]{1,16}(?:\.[0-9]{1,16})?")


def amount_of(value: Any) -> Decimal | None:
    """``value`` as an amount in cents, or None when it is not one (see the module docstring)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if not _DECIMAL_TEXT.fullmatch(value):
            return None
        amount = Decimal(value)
    elif isinstance(value, int | Decimal):
        amount = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return None
        amount = Decimal(str(value))
    else:
        return None
    try:
        if not amount.is_finite() or not 0 <= amount <= MAX_AMOUNT:
            return None
        return amount.quantize(CENT)
    except InvalidOperation:
        return None


def order_value(properties: Mapping[str, Any]) -> Decimal:
    """An order's value: the first usable of ``revenue``, ``total`` and ``value``; 0 when none is. A 0 is
    read as missing (Segment's examples send ``revenue`` and ``total`` both; a shop that leaves
    ``revenue`` at 0 means its ``total``)."""
    for name in ORDER_VALUE_FIELDS:
        amount = amount_of(properties.get(name))
        if amount:
            return amount
    return Decimal(0)
