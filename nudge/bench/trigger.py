"""L4 triggers: the AWS requests from a real-time event to its delivery job, enqueued or scheduled."""

from __future__ import annotations

from typing import Any

from nudge.bench.measuring import metered


def measure_trigger(runtime: Any) -> dict[str, Any]:
    """Requests from an L4 event to its job: enqueued at once, or scheduled for after a delay."""
    triggered = [
        c
        for c in runtime.catalog
        if c.trigger is not None
        and not c.audience
        and c.trigger.event != "identify"
        and not c.is_journey
        and c.trigger.catalog is None  # a catalog change's fan-out: nudge/bench/catalog_fanout.py
    ]
    immediate = next(c for c in triggered if c.trigger.delay is None)
    delayed = next(
        (c for c in triggered if c.trigger.delay is not None and not c.trigger.repeat),
        None,
    )
    results: dict[str, Any] = {}
    for label, l4 in (("l4", immediate), ("l4_delayed", delayed)):
        if l4 is None:
            continue
        detail = {
            "type": "track",
            "event": l4.trigger.event,
            "userId": "b-000",
            "messageId": f"{label}-bench-1",
            "timestamp": runtime.clock.now().isoformat(),
            # a total over any shipped trigger's ``where`` (high-value-checkout: total > 150)
            "properties": {"order_id": "o-l4", "revenue": 10, "total": 1000, "product_id": "p-1"},
        }
        envelope = {"id": "bench", "source": "shop", "detail-type": "Segment Event", "detail": detail}
        with metered(runtime) as meter:
            runtime.invoke("trigger", {"campaign_id": l4.id, "event": envelope})
        runtime.drain()
        results[f"{label}_requests"] = dict(meter.counts)
        results[f"{label}_campaign_measured"] = l4.id
    results["aws_requests_l4_event_to_enqueue"] = sum(results["l4_requests"].values())
    if "l4_delayed_requests" in results:
        results["aws_requests_l4_event_to_schedule"] = sum(results["l4_delayed_requests"].values())
    return results
