"""Identity: the AWS requests a login's merge costs, and those of the events after it (docs/events.md)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from nudge.bench.measuring import metered

IDENTITY_VISITORS = 20
EVENTS_PER_VISITOR = 5


def _view(visitor: int, n: int, *, user: bool, at: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": f"device-{visitor:03d}",
        "messageId": f"view-{visitor}-{n}-{user}",
        "timestamp": (at + timedelta(seconds=n)).isoformat(),
        "properties": {"product_id": f"p-{n}", "category": "shoes"},
    }
    if user:
        event["userId"] = f"shopper-{visitor:03d}"
    return event


def _login(visitor: int, at: Any) -> dict[str, Any]:
    return {
        "type": "identify",
        "userId": f"shopper-{visitor:03d}",
        "anonymousId": f"device-{visitor:03d}",
        "messageId": f"login-{visitor}",
        "timestamp": at.isoformat(),
        "traits": {"firstName": "Sam"},
    }


def measure_identity(runtime: Any) -> dict[str, Any]:
    """Visitors browse, then log in (one batch of logins: the merges), then browse logged in (events
    after login, carrying both ids), then logged out again on the same device (linked anonymous events)."""
    at = runtime.clock.now() - timedelta(minutes=30)
    visitors = range(IDENTITY_VISITORS)

    def ingest(details: list[dict[str, Any]]) -> dict[str, float]:
        bodies = [json.dumps({"id": d["messageId"], "detail": d}) for d in details]
        with metered(runtime) as meter:
            runtime.invoke("ingest", runtime.sqs_event("ingest", bodies))
        return dict(meter.counts)

    ingest([_view(v, n, user=False, at=at) for v in visitors for n in range(EVENTS_PER_VISITOR)])
    merges = ingest([_login(v, at + timedelta(minutes=5)) for v in visitors])
    after = ingest(
        [_view(v, n, user=True, at=at + timedelta(minutes=10)) for v in visitors for n in range(5)]
    )
    linked = ingest(
        [_view(v, n + 5, user=False, at=at + timedelta(minutes=20)) for v in visitors for n in range(5)]
    )
    per_batch = IDENTITY_VISITORS * EVENTS_PER_VISITOR
    return {
        "identity_requests_per_merge": sum(merges.values()) / IDENTITY_VISITORS,
        "identity_merge_batch_requests": dict(sorted(merges.items())),
        "identity_requests_per_event_after_login": sum(after.values()) / per_batch,
        "identity_requests_per_linked_anonymous_event": sum(linked.values()) / per_batch,
        "identity_linked_batch_requests": dict(sorted(linked.items())),
    }
