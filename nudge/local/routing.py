"""Rule fan-out, played by the local runtime: an event on a bus goes to the targets of every rule whose
pattern matches it (and the feed bucket's "Object Created" events, as S3 puts them on the default bus).

Events are put on the moto bus; each rule's target is then served here — a queue target gets the
event envelope, a function target (moto never invokes Lambda targets) gets the same
input-transformer payload — for every rule whose pattern ``shared.events.patterns`` matches. That
matcher is tested against moto's own EventBridge matching (tests/integration/test_patterns_vs_moto.py);
routing ourselves also avoids moto's per-event input-path parsing, which would make a two-week demo
take an hour. The adversarial runtime hands the targets to :func:`nudge.local.adversary.hostile_dispatch`.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from nudge.local import machinery
from nudge.local.account import ACCOUNT, REGION
from nudge.local.adversary import hostile_dispatch
from shared.adapters.eventbus import DETAIL_TYPE, PublishReport
from shared.deployment import topology
from shared.deployment.naming import OWN_BUS
from shared.events.patterns import matches
from shared.events.sources import APP_EVENT_SOURCE, INTERNAL_EVENT_SOURCE


def envelope(detail: Mapping[str, Any], event_id: str, at: datetime) -> dict[str, Any]:
    """The EventBridge envelope the app's bus wraps ``detail`` in (the detail as JSON carries it)."""
    return {
        "version": "0",
        "id": event_id,
        "detail-type": DETAIL_TYPE,
        "source": APP_EVENT_SOURCE,
        "account": ACCOUNT,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [],
        "detail": json.loads(json.dumps(detail, default=str)),
    }


def publish(
    runtime: Any, details: Iterable[Mapping[str, Any]], copies: Sequence[int] | None = None
) -> PublishReport:
    """Put events on the bus, then deliver each to the targets of every rule it matches.

    ``copies`` (one per detail) delivers an event that many times, as EventBridge's at-least-once
    delivery may: the same envelope, same event id, the extra copies after the batch's originals.
    """
    details = list(details)
    report = runtime.publisher.publish(details)
    failed = {id(d) for d, _ in report.failed}
    deliveries = copies or [1] * len(details)
    published = [(d, n) for d, n in zip(details, deliveries, strict=True) if id(d) not in failed]
    to_queues: dict[str, list[str]] = {}
    to_functions: list[tuple[str, dict[str, Any]]] = []
    repeats: list[tuple[str, str | dict[str, Any]]] = []
    for (detail, times), event_id in zip(published, report.event_ids, strict=True):
        wrapped = envelope(detail, event_id, runtime.clock.now())
        for rule in runtime.rules:
            if rule.bus != OWN_BUS or not matches(rule.pattern, wrapped):
                continue
            if rule.target_queue is not None:
                body = json.dumps(wrapped)
                to_queues.setdefault(rule.target_queue, []).append(body)
                repeats += [(rule.target_queue, body)] * (times - 1)
            else:
                payload = rule.target_input(wrapped)
                to_functions.append((str(rule.target_function), payload))
                repeats += [(str(rule.target_function), payload)] * (times - 1)
    for target, repeat in repeats:
        if isinstance(repeat, str):
            to_queues[target].append(repeat)
        else:
            to_functions.append((target, repeat))
    if runtime.adversary is not None:
        hostile_dispatch(runtime.adversary, runtime, to_queues, to_functions)
        return report
    for queue_key, bodies in to_queues.items():
        runtime.send(queue_key, bodies)
    for function_key, payload in to_functions:
        runtime.invoke_async(function_key, payload)
    return report


def put_feed_object(runtime: Any, bucket: str, key: str, body: bytes) -> int:
    """A shop putting an object in the feed bucket, then S3 publishing its "Object Created" event (as
    a bucket with EventBridge notifications does) to the default bus."""
    put = runtime.client("s3").put_object(Bucket=bucket, Key=key, Body=body)
    machinery.stamp_put_time(bucket, key, runtime.clock.now())
    event = {
        "version": "0",
        "id": put["ETag"].strip('"'),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": ACCOUNT,
        "time": runtime.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {
            "version": "0",
            "bucket": {"name": bucket},
            "object": {"key": key, "size": len(body), "version-id": put.get("VersionId")},
            "reason": "PutObject",
        },
    }
    return publish_aws_event(runtime, event)


def route_internal(runtime: Any, events: Sequence[tuple[str, Mapping[str, Any]]]) -> int:
    """Nudge's internal events (the catalog's announcements, put on the moto bus by the function that
    announced them) to the targets of the rules they match, invoked asynchronously as EventBridge would,
    while that function runs (its own requests stay its own); returns how many targets were invoked."""
    invoked = 0
    for detail_type, detail in events:
        wrapped = envelope(detail, f"internal-{uuid.uuid4()}", runtime.clock.now())
        wrapped.update({"detail-type": detail_type, "source": INTERNAL_EVENT_SOURCE})
        for rule in runtime.rules:
            if rule.bus == OWN_BUS and rule.target_function is not None and matches(rule.pattern, wrapped):
                running = runtime.running
                try:
                    runtime.invoke_async(rule.target_function, rule.target_input(wrapped))
                finally:
                    runtime.running = running
                invoked += 1
    return invoked


def publish_aws_event(runtime: Any, envelope: Mapping[str, Any]) -> int:
    """An event an AWS service puts on the account's default bus (e.g. SES feedback), routed to
    the targets of the default-bus rules it matches; returns how many rules matched."""
    matched = 0
    for rule in runtime.rules:
        if rule.bus == topology.DEFAULT_BUS and matches(rule.pattern, envelope):
            matched += 1
            runtime.invoke_async(str(rule.target_function), rule.target_input(envelope))
    return matched
