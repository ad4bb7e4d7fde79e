"""`nudge bench`: what an event and a message cost — requests counted on moto, CPU measured, priced.

Requests are counted with a botocore ``before-call`` hook on every client the handlers use. CPU is
process time inside the handler minus process time spent inside botocore (which, against moto,
includes moto itself), so it is our code's cost alone. Lambda duration for the cost model is that
CPU plus the counted requests times a typical in-region latency (``benchmarks/prices.py``).
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks.prices import LATENCY_MS, LIMITS, PRICES_USD
from shared.campaigns.loader import Catalog
from shared.core.vocabulary import EMAIL_TRAIT, Channel, DecisionStatus
from shared.deployment import topology

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
START = datetime(2026, 11, 2, 8, tzinfo=UTC)
INGEST_USERS = 20
INGEST_BATCH = 100
INGEST_BATCHES = 30
DELIVERY_USERS = 300
DELIVER_BATCH = topology.DELIVERY_QUEUE.batch_size
AUDIENCE_PROFILES = 20_000
IMPORT_RUNS = 5
FANOUT_SEGMENTS = 200
GB = 1024.0

TARGETS: dict[str, tuple[str, float]] = {
    "ddb_requests_per_ingested_event": ("<=", 0.25),
    "aws_requests_l4_event_to_enqueue": ("<=", 2),
    "aws_requests_l4_event_to_schedule": ("<=", 2),
    "aws_requests_per_delivered_message": ("<=", 3),
    "ingest_cpu_ms_per_event": ("<=", 0.3),
    "worst_import_ms": ("<=", 150),
    "audience_profiles_per_second": (">=", 50_000),
    "cost_usd_per_million_events": ("<=", 2.30),
}

Progress = Callable[[str], None]


@dataclass
class RequestMeter:
    """AWS requests by ``service.Operation`` and the CPU seconds spent inside botocore."""

    counts: Counter[str] = field(default_factory=Counter)
    botocore_cpu_s: float = 0.0

    def __call__(self, model: Any, **_: Any) -> None:
        self.counts[f"{model.service_model.service_name}.{model.name}"] += 1

    def total(self, service: str = "") -> int:
        return sum(n for name, n in self.counts.items() if name.startswith(service))

    def reset(self) -> None:
        self.counts.clear()
        self.botocore_cpu_s = 0.0


@contextmanager
def metered(runtime: Any) -> Iterator[RequestMeter]:
    import botocore.client

    meter = RequestMeter()
    for service in ("dynamodb", "sqs", "sesv2", "sns", "events", "scheduler"):
        runtime.client(service).meta.events.register("before-call", meter)
    original = botocore.client.BaseClient._make_api_call

    def timed(client: Any, operation: str, params: Any) -> Any:
        started = time.process_time()
        try:
            return original(client, operation, params)
        finally:
            meter.botocore_cpu_s += time.process_time() - started

    botocore.client.BaseClient._make_api_call = timed  # type: ignore[method-assign]
    try:
        yield meter
    finally:
        botocore.client.BaseClient._make_api_call = original  # type: ignore[method-assign]
        for service in ("dynamodb", "sqs", "sesv2", "sns", "events", "scheduler"):
            runtime.client(service).meta.events.unregister("before-call", meter)


def dynamodb_item_bytes(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values (numbers ~ digits/2 + 1), as billed."""

    def size(value: dict[str, Any]) -> int:
        ((kind, inner),) = value.items()
        if kind == "S":
            return len(inner.encode())
        if kind == "N":
            return len(inner.strip("-").replace(".", "")) // 2 + 1
        if kind == "B":
            return len(inner)
        if kind in {"BOOL", "NULL"}:
            return 1
        if kind == "M":
            return 3 + sum(len(k.encode()) + size(v) + 1 for k, v in inner.items())
        if kind == "L":
            return 3 + sum(size(v) + 1 for v in inner)
        return sum(len(str(v)) for v in inner)

    return sum(len(name.encode()) + size(value) for name, value in item.items())


def _shopper_events(batch: int, user: int, per_user: int) -> list[dict[str, Any]]:
    at = START + timedelta(hours=batch, minutes=user)
    uid = f"b-{user:03d}"
    events: list[dict[str, Any]] = []
    if batch == 0:
        events.append(
            {
                "type": "identify",
                "userId": uid,
                "messageId": f"i-{uid}",
                "timestamp": at.isoformat(),
                "traits": {
                    EMAIL_TRAIT: f"{uid}@example.com",
                    "firstName": "Sam",
                    "age": 30,
                    "address": {"country": "ID", "city": "Jakarta"},
                    "consent": {Channel.EMAIL: True, Channel.PUSH: False},
                },
            }
        )
    kinds = [
        "Product Viewed",
        "Product Viewed",
        "Product Added",
        "Product Viewed",
        "Checkout Started",
        "Order Completed",
    ]
    while len(events) < per_user:
        n = len(events)
        product = {
            "product_id": f"p-{(batch * 7 + n) % 40}",
            "name": "Trail runner",
            "category": "shoes",
            "price": 59.9,
            "quantity": 1,
            "image_url": "https://cdn.example.com/p.jpg",
        }
        props: dict[str, Any] = dict(product)
        if kinds[n % len(kinds)] == "Order Completed":
            props = {
                "order_id": f"o-{batch}-{user}",
                "revenue": 59.9,
                "currency": "USD",
                "products": [product],
            }
        events.append(
            {
                "type": "track",
                "event": kinds[n % len(kinds)],
                "userId": uid,
                "messageId": f"e-{batch}-{user}-{n}",
                "timestamp": (at + timedelta(seconds=n)).isoformat(),
                "properties": props,
                "context": {"timezone": "Asia/Jakarta"},
            }
        )
    return events


def measure_ingest(runtime: Any) -> dict[str, Any]:
    per_user = INGEST_BATCH // INGEST_USERS

    def batch(k: int) -> dict[str, Any]:
        details = [e for u in range(INGEST_USERS) for e in _shopper_events(k, u, per_user)]
        return runtime.sqs_event("ingest", [json.dumps({"id": d["messageId"], "detail": d}) for d in details])

    runtime.clock.advance_to(START + timedelta(hours=INGEST_BATCHES + 1))
    runtime.invoke("ingest", batch(0))
    with metered(runtime) as meter:
        started = time.process_time()
        for k in range(1, INGEST_BATCHES + 1):
            runtime.invoke("ingest", batch(k))
        cpu_s = time.process_time() - started - meter.botocore_cpu_s
    events = INGEST_BATCHES * INGEST_BATCH
    items = runtime.client("dynamodb").scan(TableName=runtime.table_names["profiles"])["Items"]
    sizes = [dynamodb_item_bytes(i) for i in items]
    return {
        "ddb_requests_per_ingested_event": meter.total("dynamodb") / events,
        "ingest_cpu_ms_per_event": cpu_s * 1000 / events,
        "ingest_requests_per_batch": dict(sorted((k, v / INGEST_BATCHES) for k, v in meter.counts.items())),
        "profile_item_bytes_mean": statistics.mean(sizes),
        "profile_item_bytes_max": max(sizes),
    }


def measure_trigger(runtime: Any) -> dict[str, Any]:
    """Requests from an L4 event to its job: enqueued at once, or scheduled for after a delay."""
    triggered = [
        c
        for c in runtime.catalog
        if c.trigger is not None and not c.audience and c.trigger.event != "identify"
    ]
    immediate = next(c for c in triggered if c.trigger.delay is None)
    delayed = next((c for c in triggered if c.trigger.delay is not None and not c.trigger.where), None)
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
            "properties": {"order_id": "o-l4", "revenue": 10, "product_id": "p-1"},
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


def measure_delivery(runtime: Any) -> dict[str, Any]:
    from shared.campaigns.jobs import DeliveryJob

    runtime.publish(
        [
            {
                "type": "identify",
                "userId": f"d-{i:04d}",
                "messageId": f"di-{i}",
                "timestamp": START.isoformat(),
                "traits": {
                    EMAIL_TRAIT: f"d{i}@example.com",
                    "firstName": "Ayu",
                    "age": 25,
                    "address": {"country": "ID", "city": "Jakarta"},
                    "consent": {Channel.EMAIL: True},
                },
            }
            for i in range(DELIVERY_USERS)
        ]
    )
    runtime.drain()
    # The identifies sent welcome emails: deliver the next day, so today's email cap is not in the way.
    runtime.clock.advance(timedelta(days=1))
    campaign = next(
        c for c in runtime.catalog if c.schedule is not None and Channel.EMAIL in c.channel_order()
    )
    jobs = [
        DeliveryJob.for_occurrence(campaign.id, "2026-11-07T03:00:00Z", f"d-{i:04d}").model_dump_json()
        for i in range(DELIVERY_USERS)
    ]
    with metered(runtime) as meter:
        started = time.process_time()
        for i in range(0, len(jobs), DELIVER_BATCH):
            runtime.invoke("deliver", runtime.sqs_event("delivery", jobs[i : i + DELIVER_BATCH]))
        cpu_s = time.process_time() - started - meter.botocore_cpu_s
    decisions = Counter(m["status"] for m in runtime.scan("messages") if m["campaign_id"] == campaign.id)
    sent = decisions[DecisionStatus.SENT]
    log_items = runtime.client("dynamodb").scan(TableName=runtime.table_names["messages"], Limit=50)["Items"]
    return {
        "aws_requests_per_delivered_message": meter.total() / max(sent, 1),
        "deliver_cpu_ms_per_message": cpu_s * 1000 / max(sent, 1),
        "delivery_requests_per_message": dict(sorted((k, v / max(sent, 1)) for k, v in meter.counts.items())),
        "send_log_item_bytes_mean": statistics.mean(dynamodb_item_bytes(i) for i in log_items),
        "messages_measured": sent,
        "delivery_decisions": dict(decisions),
        "delivery_jobs": len(jobs),
    }


IMPORT_ONLY = "import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
# What a cold start really pays before the first record: the import plus building the function's
# adapters (boto3 clients, the bundled campaign catalog), which the handlers defer to first use.
IMPORT_AND_PORTS = (
    "import time; t = time.perf_counter(); import {module} as handler; handler.default_ports(); "
    "print((time.perf_counter() - t) * 1000)"
)


def _median_ms(code: str, env: dict[str, str]) -> float:
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
            ).stdout
        )
        for _ in range(IMPORT_RUNS)
    ]
    return round(statistics.median(runs), 1)


def measure_imports(catalog: Catalog, workdir: Path) -> dict[str, dict[str, float]]:
    """Per handler, in fresh interpreters: the module import, and the import plus building its adapters."""
    from shared.campaigns.loader import CATALOG_FILE

    (workdir / CATALOG_FILE).write_text(catalog.to_json())
    env = {
        **os.environ,
        **FAKE_CREDENTIALS,
        "CAMPAIGN_CATALOG_DIR": str(workdir),
        "SENDER_EMAIL": "no-reply@shop.example.com",
    }
    for spec in topology.FUNCTIONS:
        for name, reference in topology.function_environment(spec).items():
            env[name] = (
                f"https://sqs.us-east-1.amazonaws.com/123456789012/{reference}"
                if "URL" in name
                else reference
            )
    imports: dict[str, float] = {}
    cold_starts: dict[str, float] = {}
    for spec in topology.FUNCTIONS:
        module = spec.handler.rsplit(".", 1)[0]
        imports[spec.key] = _median_ms(IMPORT_ONLY.format(module=module), env)
        cold_starts[spec.key] = _median_ms(IMPORT_AND_PORTS.format(module=module), env)
    return {"import_ms": imports, "cold_start_ms": cold_starts}


def measure_audience(catalog: Catalog) -> dict[str, Any]:
    from shared.profiles.profile import Cart, CartItem, Profile

    now = START + timedelta(days=7)
    countries = ["ID", "MY", "SG", "PH", "IN", "US", "GB", "AU"]
    profiles = [
        Profile(
            user_id=f"a-{i}",
            traits={
                "age": 16 + i % 50,
                "country": countries[i % len(countries)],
                EMAIL_TRAIT: f"a{i}@example.com",
                "consent": {Channel.EMAIL: i % 3 != 0, Channel.PUSH: i % 2 == 0},
                "first_name": "Sam",
            },
            orders=i % 4,
            last_order_at=now - timedelta(days=i % 30) if i % 4 else None,
            last_seen=now - timedelta(hours=i % 200),
            category_views={"shoes": i % 7, "bags": i % 5},
            cart=Cart(items=[CartItem(product_id="p1", price=20)], updated_at=now) if i % 5 == 0 else None,
        )
        for i in range(AUDIENCE_PROFILES)
    ]
    audiences = [c.parsed_audience for c in catalog if c.audience]
    started = time.process_time()
    matched = sum(1 for p in profiles for a in audiences if a.includes(p, now))
    elapsed = time.process_time() - started
    evaluations = len(profiles) * len(audiences)
    return {
        "audience_profiles_per_second": round(evaluations / elapsed),
        "audience_rules_evaluated": sum(len(a.rules) for a in audiences),
        "audience_match_share": round(matched / evaluations, 3),
    }


def _lambda_cost(invocations: float, cpu_ms: float, requests: dict[str, float], memory_mb: int) -> float:
    latency_ms = sum(n * LATENCY_MS.get(name.split(".")[0], 10.0) for name, n in requests.items())
    gb_seconds = (cpu_ms + latency_ms) / 1000 * memory_mb / GB
    return invocations * PRICES_USD["lambda_request"] + gb_seconds * PRICES_USD["lambda_gb_second_arm64"]


def cost_model(m: dict[str, Any]) -> dict[str, Any]:
    """Per million events and per million messages, from counted requests and measured CPU."""
    wru_profile = math.ceil(m["profile_item_bytes_mean"] / 1024)
    rru_profile = math.ceil(m["profile_item_bytes_mean"] / 4096)
    per_batch = m["ingest_requests_per_batch"]
    ingest_spec = topology.FUNCTIONS_BY_KEY["ingest"]
    sqs_per_event = 1 + 2 / 10  # EventBridge's SendMessage, then the poller's receive and delete in tens
    event = {
        "eventbridge": PRICES_USD["eventbridge_event"],
        "sqs": sqs_per_event * PRICES_USD["sqs_request"],
        "lambda": _lambda_cost(
            1 / INGEST_BATCH,
            m["ingest_cpu_ms_per_event"],
            {k: v / INGEST_BATCH for k, v in per_batch.items()},
            ingest_spec.memory_mb,
        ),
        "dynamodb": (
            per_batch.get("dynamodb.PutItem", 0) / INGEST_BATCH * wru_profile * PRICES_USD["dynamodb_wru"]
            + INGEST_USERS / INGEST_BATCH * rru_profile * PRICES_USD["dynamodb_rru"]
        ),
    }
    per_message = m["delivery_requests_per_message"]
    wru_log = math.ceil(m["send_log_item_bytes_mean"] / 1024)
    deliver_spec = topology.FUNCTIONS_BY_KEY["deliver"]
    message = {
        "sqs": (0.1 + 2 / DELIVER_BATCH) * PRICES_USD["sqs_request"],
        "lambda": _lambda_cost(
            1 / DELIVER_BATCH, m["deliver_cpu_ms_per_message"], per_message, deliver_spec.memory_mb
        ),
        "dynamodb": (
            per_message.get("dynamodb.PutItem", 0) * wru_log * PRICES_USD["dynamodb_wru"]
            + (
                per_message.get("dynamodb.GetItem", 0)
                + per_message.get("dynamodb.BatchGetItem", 0) * DELIVER_BATCH
            )
            * rru_profile
            * PRICES_USD["dynamodb_rru"]
        ),
    }
    floor = (
        PRICES_USD["eventbridge_event"]
        + PRICES_USD["sqs_request"] * sqs_per_event
        + (PRICES_USD["dynamodb_wru"] / 5)
    )
    return {
        "cost_usd_per_million_events": round(sum(event.values()) * 1e6, 3),
        "cost_per_million_events_breakdown": {k: round(v * 1e6, 3) for k, v in event.items()},
        "cost_floor_usd_per_million_events": round(floor * 1e6, 3),
        "cost_usd_per_million_messages": round(sum(message.values()) * 1e6, 3),
        "cost_per_million_messages_breakdown": {k: round(v * 1e6, 3) for k, v in message.items()},
        "channel_fees_usd_per_million": {
            Channel.EMAIL: round(PRICES_USD["ses_email"] * 1e6, 2),
            Channel.PUSH: round(PRICES_USD["sns_mobile_push"] * 1e6, 2),
            Channel.IN_APP: round(PRICES_USD["dynamodb_wru"] * 1e6, 3),
        },
    }


def fanout_estimate(m: dict[str, Any]) -> dict[str, Any]:
    """Minutes to plan a 10M-profile campaign: scan, evaluate, enqueue (delivery paced by SES apart)."""
    item_bytes = m["profile_item_bytes_mean"]
    page = min(500, LIMITS["scan_page_bytes"] // max(int(item_bytes), 1))
    per_profile_s = (
        m["worker_cpu_ms_per_profile"] / 1000
        + LATENCY_MS["dynamodb"] / 1000 / page
        + LATENCY_MS["sqs"] / 1000 / 10
    )
    segments = min(FANOUT_SEGMENTS, LIMITS["lambda_concurrency"])
    worker_bound_s = 10_000_000 / segments * per_profile_s
    rru = 10_000_000 * math.ceil(item_bytes / 4096) / 2  # Scan is eventually consistent: half a unit per 4 KB
    capacity_bound_s = rru / LIMITS["dynamodb_table_max_rru_per_second"]
    return {
        "batch_campaign_minutes_10m_profiles": round(max(worker_bound_s, capacity_bound_s) / 60, 2),
        "batch_campaign_segments": segments,
        "batch_campaign_profiles_per_segment_second": round(1 / per_profile_s),
    }


def measure_worker_cpu(runtime: Any) -> float:
    """Our CPU per profile in the audience worker (decode, evaluate, build the job), AWS excluded."""
    from shared.batch.batch_campaigns import AudienceWorker, SegmentTask

    campaign = next(c for c in runtime.catalog if c.schedule is not None)
    profiles = runtime.all_profiles()
    worker = AudienceWorker(runtime.catalog, runtime.profiles, _Discard(), _Discard(), runtime.clock)
    with metered(runtime) as meter:
        started = time.process_time()
        result = worker.work(
            SegmentTask(
                campaign_id=campaign.id, occurrence="2026-11-07T03:00:00Z", segment=0, total_segments=1
            ),
            remaining_ms=lambda: 900_000,
        )
        cpu_s = time.process_time() - started - meter.botocore_cpu_s
    assert result.scanned == len(profiles)
    return cpu_s * 1000 / max(result.scanned, 1)


class _Discard:
    def send_many(self, bodies: Any) -> None:
        list(bodies)


def run_bench(catalog: Catalog, progress: Progress | None = None) -> dict[str, Any]:
    os.environ.update(FAKE_CREDENTIALS)
    from moto import mock_aws

    from nudge.local.runtime import LocalRuntime
    from shared.core.clock import SimulatedClock

    step = progress or (lambda _: None)
    results: dict[str, Any] = {}
    with mock_aws():
        runtime = LocalRuntime(catalog, SimulatedClock(START), log_level="CRITICAL")
        step("ingest")
        results.update(measure_ingest(runtime))
        step("L4 trigger")
        results.update(measure_trigger(runtime))
        step("delivery")
        results.update(measure_delivery(runtime))
        step("audience worker")
        results["worker_cpu_ms_per_profile"] = measure_worker_cpu(runtime)
    step("audience evaluation")
    results.update(measure_audience(catalog))
    step("cold imports")
    with tempfile.TemporaryDirectory() as workdir:
        results.update(measure_imports(catalog, Path(workdir)))
    results["worst_import_ms"] = max(results["import_ms"].values())
    results["worst_cold_start_ms"] = max(results["cold_start_ms"].values())
    results.update(cost_model(results))
    results.update(fanout_estimate(results))
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in results.items()}


def meets(key: str, value: float) -> bool | None:
    if key not in TARGETS:
        return None
    op, target = TARGETS[key]
    return value <= target if op == "<=" else value >= target


def write_json(results: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
