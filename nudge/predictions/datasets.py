"""Evaluation datasets as Segment-Spec event payloads.

- ``cdnow``: the CDNOW transaction log (23,570 customers who first bought in Q1 1997, 18 months of
  purchases) that the ``lifetimes`` package ships inside its wheel. The wheel is fetched once with
  ``pip download`` (no install: it would pull pandas) into a cache and checked against its hash.
- ``synthetic``: the demo's seeded synthetic store (``nudge.shop.store``), run for longer.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

LIFETIMES_WHEEL = "Lifetimes-0.11.3-py3-none-any.whl"
LIFETIMES_SHA256 = "261e3dc89977c2b60767ca6728aaa29d429de0c814635070a749c36555895da8"
CDNOW_MEMBER = "lifetimes/datasets/CDNOW_master.txt"


def cache_dir() -> Path:
    return Path(os.environ.get("NUDGE_CACHE", Path.home() / ".cache" / "nudge"))


def lifetimes_wheel() -> Path:
    """The lifetimes 0.11.3 wheel, downloaded (without dependencies) on first use."""
    target = cache_dir() / "wheels"
    wheel = target / LIFETIMES_WHEEL
    if not wheel.exists():
        target.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "lifetimes==0.11.3",
                "--no-deps",
                "--quiet",
                "-d",
                str(target),
            ],
            check=True,
        )
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != LIFETIMES_SHA256:
        raise RuntimeError(f"{wheel} has sha256 {digest}, expected {LIFETIMES_SHA256}")
    return wheel


def cdnow_events(text: str | None = None) -> Iterator[dict[str, Any]]:
    """One ``Order Completed`` per customer per purchase day (same-day lines merged, as in the
    BG/NBD literature), stamped at noon UTC, revenue = the day's dollar value."""
    if text is None:
        with zipfile.ZipFile(lifetimes_wheel()) as wheel:
            text = wheel.read(CDNOW_MEMBER).decode()
    days: dict[tuple[str, str], float] = {}
    for line in io.StringIO(text):
        parts = line.split()
        if len(parts) != 4 or not parts[1].isdigit():
            continue
        customer, day, _cds, dollars = parts
        days[(customer, day)] = days.get((customer, day), 0.0) + float(dollars)
    for (customer, day), revenue in sorted(days.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        moment = datetime(int(day[:4]), int(day[4:6]), int(day[6:]), 12, tzinfo=UTC)
        yield {
            "type": "track",
            "event": "Order Completed",
            "userId": f"cdnow-{customer}",
            "messageId": f"cdnow-{customer}-{day}",
            "timestamp": moment.isoformat().replace("+00:00", "Z"),
            "properties": {"order_id": f"{customer}-{day}", "revenue": round(revenue, 2), "currency": "USD"},
        }


def synthetic_events(users: int, days: int, seed: int = 7) -> Iterator[dict[str, Any]]:
    from nudge.shop.store import StoreConfig, SyntheticStore

    store = SyntheticStore(StoreConfig(users=users, days=days, seed=seed))
    yield from store.events()
