"""EventBridge Scheduler (one schedule per batch campaign) → one audience task per scan segment."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from shared import wiring
from shared.batch_campaigns import Planner, SegmentSizing
from shared.metrics import SEGMENTS_PLANNED, FunctionMetrics

logger = Logger(service="nudge-planner")
metrics = FunctionMetrics("planner")


@cache
def default_ports() -> Planner:
    config = wiring.settings()
    return Planner(
        wiring.catalog(),
        wiring.queue("audience_queue_url"),
        segments=config.audience_segments,
        profile_count=wiring.profile_count,
        sizing=SegmentSizing(profiles_per_segment=config.audience_profiles_per_segment),
    )


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any, ports: Planner | None = None) -> dict[str, Any]:
    planner = ports or default_ports()
    campaign_id, occurrence = str(event["campaign_id"]), str(event["occurrence"])
    segments = planner.plan(campaign_id, occurrence)
    metrics.add(SEGMENTS_PLANNED, segments)
    logger.info(
        "occurrence planned",
        extra={"campaign_id": campaign_id, "occurrence": occurrence, "segments": segments},
    )
    return {"campaign_id": campaign_id, "occurrence": occurrence, "segments": segments}
