"""Countries as shops and trackers write them, read as ISO 3166-1 alpha-2 codes.

Segment's own identify example sends ``address.country: "USA"``; shops send "United States", "UK",
"Deutschland" or "DEU". Audience rules compare against alpha-2 codes (``country in [US, GB]``), so a
country is kept as its alpha-2 code when the table (``countries.csv`` beside this file: every ISO
3166-1 country's alpha-2 and alpha-3 codes, its English short and official names, and the common
variants) knows it, matched without regard to case, accents, punctuation, ``&``/``and`` or a leading
"the". A value the table does not know is kept as sent. Read once, on first use.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from functools import cache
from pathlib import Path

TABLE = Path(__file__).with_name("countries.csv")
_PUNCTUATION = re.compile("[.,'\u2019()\\-]")


def _key(text: str) -> str:
    """``text`` folded for matching: "U.S.A." → "usa", "Côte d'Ivoire" → "cote divoire"."""
    plain = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    words = _PUNCTUATION.sub("", plain.casefold().replace("&", " and ")).split()
    return " ".join(words[1:] if words[:1] == ["the"] else words)


@cache
def _codes() -> dict[str, str]:
    """Every spelling the table knows (folded) → its alpha-2 code."""
    codes: dict[str, str] = {}
    with TABLE.open(encoding="utf-8") as table:
        rows = csv.DictReader(line for line in table if not line.startswith("#"))
        for row in rows:
            alpha_2 = row["alpha_2"]
            for spelling in (alpha_2, row["alpha_3"], *row["names"].split("|")):
                codes[_key(spelling)] = alpha_2
    return codes


def country_code(value: str) -> str:
    """``value``'s ISO 3166-1 alpha-2 code, or ``value`` (without surrounding blanks) if not a known
    country."""
    return _codes().get(_key(value), value.strip())
