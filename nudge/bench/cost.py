"""Prices what the measurements counted: cost per million events and messages, a big campaign's fan-out."""

from __future__ import annotations

import math
from typing import Any

from benchmarks.prices import LATENCY_MS, LIMITS, PRICES_USD
from nudge.bench.delivery import DELIVER_BATCH
from nudge.bench.ingest import INGEST_BATCH, INGEST_USERS
from shared.core.vocabulary import Channel
from shared.deployment import topology

FANOUT_SEGMENTS = 200
GB = 1024.0


def _lambda_cost(invocations: float, cpu_ms: float, requests: dict[str, float], memory_mb: int) -> float:
    latency_ms = sum(n * LATENCY_MS.get(name.split(".")[0], 10.0) for name, n in requests.items())
    gb_seconds = (cpu_ms + latency_ms) / 1000 * memory_mb / GB
    return invocations * PRICES_USD["lambda_request"] + gb_seconds * PRICES_USD["lambda_gb_second_arm64"]


def _capacity_cost(m: dict[str, Any]) -> float:
    """On-demand DynamoDB per delivered message: a unit per item read (4 KB, strongly consistent) or
    written (1 KB) whatever the request carried it, at each table's measured item size (an item asked
    for and not there still costs a read unit)."""
    sizes = {
        topology.PROFILES.key: m["profile_item_bytes_mean"],
        topology.MESSAGES.key: m["send_log_item_bytes_mean"],
        topology.LEDGER.key: m["ledger_item_bytes_mean"],
    }
    cost = 0.0
    for name, items in m["delivery_items_per_message"].items():
        kind, table = name.split(".", 1)
        unit, price = (
            (1024, PRICES_USD["dynamodb_wru"]) if kind == "written" else (4096, PRICES_USD["dynamodb_rru"])
        )
        cost += items * max(1, math.ceil(sizes.get(table, 0) / unit)) * price
    return cost


def cost_model(m: dict[str, Any]) -> dict[str, Any]:
    """Per million events and per million messages, from counted requests and measured CPU."""
    wru_profile = math.ceil(m["profile_item_bytes_mean"] / 1024)
    rru_profile = math.ceil(m["profile_item_bytes_mean"] / 4096)
    per_batch = m["ingest_requests_per_batch"]
    ingest_spec = topology.FUNCTIONS_BY_KEY["ingest"]
    sqs_per_event = 1 + 2 / 10  # EventBridge's SendMessage, then the poller's receive and delete in tens
    # The interest index (shared/catalog/interest.py), kept only where a catalog campaign reads it: a unit
    # for the item, one for its index's copy, and one more for a pair's item written again: its time, the
    # index's sort key, moved (the index deletes the old entry and puts the new one).
    interest_index = (
        (m.get("interest_items_written_per_batch", 0) * 2 + m.get("interest_items_renewed_per_batch", 0))
        / INGEST_BATCH
        * PRICES_USD["dynamodb_wru"]
    )
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
            # the catalog's products (docs/catalog.md): one unit each, items under 1 KB
            + m.get("catalog_items_written_per_batch", 0) / INGEST_BATCH * PRICES_USD["dynamodb_wru"]
            + m.get("catalog_items_read_per_batch", 0) / INGEST_BATCH * PRICES_USD["dynamodb_rru"]
            + interest_index
        ),
    }
    per_message = m["delivery_requests_per_message"]
    deliver_spec = topology.FUNCTIONS_BY_KEY["deliver"]
    message = {
        "sqs": (0.1 + 2 / DELIVER_BATCH) * PRICES_USD["sqs_request"],
        "lambda": _lambda_cost(
            1 / DELIVER_BATCH, m["deliver_cpu_ms_per_message"], per_message, deliver_spec.memory_mb
        ),
        "dynamodb": _capacity_cost(m),
    }
    floor = (
        PRICES_USD["eventbridge_event"]
        + PRICES_USD["sqs_request"] * sqs_per_event
        + (PRICES_USD["dynamodb_wru"] / 5)
    )
    return {
        "cost_usd_per_million_events": round(sum(event.values()) * 1e6, 3),
        # a deployment without catalog campaigns keeps no interest index (shared/platform/wiring.py)
        "cost_usd_per_million_events_interest_index": round(interest_index * 1e6, 3),
        "cost_usd_per_million_events_without_catalog_triggers": round(
            (sum(event.values()) - interest_index) * 1e6, 3
        ),
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
