"""Segment payloads the tests send, built in one place (every test layer imports this module).

``identify`` / ``track`` are the event ``detail`` as an app sends it; ``tracked`` is a track call as
ingest parses it (a ``SegmentEvent``), for tests of the pure domain. The shop's usual shopper and
campaigns are built in ``tests/fakes.py``.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from shared.events.contract import SegmentEvent, parse_detail

TRACKER_PAYLOADS = Path(__file__).resolve().parent / "tracker_payloads"


def published(name: str) -> dict[str, Any]:
    """A payload as Segment's or RudderStack's published spec shows it (tests/tracker_payloads/NAME.json,
    each file naming its source in the test that reads it)."""
    payload: dict[str, Any] = json.loads((TRACKER_PAYLOADS / f"{name}.json").read_text())
    return payload


def _time(at: str | datetime) -> str:
    return at.isoformat() if isinstance(at, datetime) else at


def identify(
    user_id: str, message_id: str, at: str | datetime = "2026-11-02T07:00:00Z", **traits: Any
) -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": user_id,
        "messageId": message_id,
        "timestamp": _time(at),
        "traits": traits,
    }


def track(
    user_id: str, name: str, message_id: str, at: str | datetime = "2026-11-02T07:30:00Z", **properties: Any
) -> dict[str, Any]:
    return {
        "type": "track",
        "event": name,
        "userId": user_id,
        "messageId": message_id,
        "timestamp": _time(at),
        "properties": properties,
    }


def tracked(
    name: str, at: datetime, message: str | int, user_id: str = "u-1", **properties: Any
) -> SegmentEvent:
    """A parsed track call of ``user_id``; an int ``message`` is the n-th event (message id ``m-n``)."""
    message_id = message if isinstance(message, str) else f"m-{message}"
    return parse_detail(track(user_id, name, message_id, at, **properties))


def anonymously(anonymous_id: str, detail: dict[str, Any]) -> dict[str, Any]:
    """``detail`` sent by a visitor who has not logged in: ``anonymousId`` only."""
    return {**{k: v for k, v in detail.items() if k != "userId"}, "anonymousId": anonymous_id}


def on_device(anonymous_id: str, detail: dict[str, Any]) -> dict[str, Any]:
    """``detail`` with the device's ``anonymousId`` beside its ``userId`` (identify, a track after login)."""
    return {**detail, "anonymousId": anonymous_id}


def alias(user_id: str, previous_id: str, message_id: str, at: str | datetime) -> dict[str, Any]:
    return {
        "type": "alias",
        "userId": user_id,
        "previousId": previous_id,
        "messageId": message_id,
        "timestamp": _time(at),
    }
