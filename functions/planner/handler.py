"""EventBridge Scheduler (one schedule per batch campaign) → one audience task per scan segment."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from shared.batch.batch_campaigns import Planner, SegmentSizing
from shared.platform.metrics import SEGMENTS_PLANNED, FunctionMetrics
from shared.platform.wiring import Wiring

logger = Logger(service="nudge-planner")
metrics = FunctionMetrics("planner")


def build_ports(w: Wiring) -> Planner:
    """This function's ports from the one wiring (Lambda's, or the local runtime's)."""
    config = w.settings
    return Planner(
        w.catalog(),
        w.queue("audience_queue_url"),
        segments=config.audience_segments,
        profile_count=w.profile_count,
        sizing=SegmentSizing(profiles_per_segment=config.audience_profiles_per_segment),
    )


@cache
def default_ports() -> Planner:
    return build_ports(Wiring.for_lambda())


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
