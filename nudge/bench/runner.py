"""Runs every measurement in turn (the handlers on moto), prices them, and judges them against the targets."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nudge.bench.audience import measure_audience, measure_worker_cpu
from nudge.bench.catalog_fanout import measure_catalog_fanout
from nudge.bench.cold_starts import EVENT_PATH, HTTP_FUNCTIONS, measure_cold_starts
from nudge.bench.cost import cost_model, fanout_estimate
from nudge.bench.delivery import measure_delivery
from nudge.bench.fan_in import FAN_IN_SHOPPERS, fan_in_catalog, measure_wake_up_fan_in
from nudge.bench.identity import measure_identity
from nudge.bench.imports import measure_imports
from nudge.bench.ingest import measure_ingest
from nudge.bench.journey import measure_journey
from nudge.bench.measuring import FAKE_CREDENTIALS, START
from nudge.bench.recommendations import measure_recommendations
from nudge.bench.trigger import measure_trigger
from shared.campaigns.loader import Catalog

TARGETS: dict[str, tuple[str, float]] = {
    "ddb_requests_per_ingested_event": ("<=", 0.25),
    "aws_requests_l4_event_to_enqueue": ("<=", 2),
    "aws_requests_l4_event_to_schedule": ("<=", 2),
    "aws_requests_per_delivered_message": ("<=", 2.5),
    "ingest_cpu_ms_per_event": ("<=", 0.3),
    "worst_import_ms": ("<=", 150),
    "event_path_worst_import_ms": ("<=", 150),
    "http_worst_first_request_after_restore_ms": ("<=", 100),
    "audience_profiles_per_second": (">=", 50_000),
    # The engine's cost per event (the target since 23 November); the catalog triggers' interest index
    # is priced on its own (cost_usd_per_million_events_interest_index), as issue 22 allowed: a
    # deployment without a catalog campaign keeps none (docs/performance.md, cost).
    "cost_usd_per_million_events_without_catalog_triggers": ("<=", 2.30),
}

Progress = Callable[[str], None]


def run_bench(
    catalog: Catalog, progress: Progress | None = None, fan_in: int = FAN_IN_SHOPPERS
) -> dict[str, Any]:
    """Every measurement; ``fan_in``: journey wake-ups fired at once (0: none; nudge/bench/fan_in.py)."""
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
        step("journey")
        results.update(measure_journey(runtime))
        step("delivery")
        results.update(measure_delivery(runtime))
        step("audience worker")
        results["worker_cpu_ms_per_profile"] = measure_worker_cpu(runtime)
        step("identity")
        results.update(measure_identity(runtime))
        step("catalog fan-out")
        results.update(measure_catalog_fanout(runtime))
    step("recommendations")
    results.update(measure_recommendations())
    if fan_in:
        step(f"journey fan-in of {fan_in:,} wake-ups")
        with mock_aws():
            fanned = LocalRuntime(
                fan_in_catalog(catalog), SimulatedClock(START), log_level="CRITICAL", gentle=True
            )
            results.update(measure_wake_up_fan_in(fanned, fan_in))
    step("audience evaluation")
    results.update(measure_audience(catalog))
    step("cold imports")
    with tempfile.TemporaryDirectory() as workdir:
        results.update(measure_imports(catalog, Path(workdir)))
    results["worst_import_ms"] = max(results["import_ms"].values())
    results["worst_cold_start_ms"] = max(results["cold_start_ms"].values())
    results.update(measure_cold_starts(catalog, progress=step))
    imports, first = results["import_ms_lambda_env"], results["first_request_ms"]
    results["event_path_worst_import_ms"] = max(imports[key] for key in EVENT_PATH)
    results["event_path_worst_first_request_ms"] = max(first[key] for key in EVENT_PATH)
    results["http_worst_first_request_ms"] = max(first[key] for key in HTTP_FUNCTIONS)
    restored = results["first_request_after_restore_ms"]
    results["http_worst_first_request_after_restore_ms"] = max(restored[key] for key in HTTP_FUNCTIONS)
    results["event_path_worst_first_request_after_restore_ms"] = max(restored[key] for key in EVENT_PATH)
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
