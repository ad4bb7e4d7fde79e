"""EventBridge Scheduler (daily) → one census task per profile scan segment of a scoring run.

A run without a trained model still scores: the census fits the label-free models on the shop's
own events (``shared.predictions.label_free``)."""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from shared.platform.metrics import SCORING_RUNS_WITHOUT_MODEL, SCORING_SEGMENTS_PLANNED, FunctionMetrics
from shared.platform.wiring import Wiring
from shared.predictions.runs import NO_TRAINED_MODEL, ModelCache, ScorePlanner

logger = Logger(service="nudge-score-planner")
metrics = FunctionMetrics("score_planner")


def build_ports(w: Wiring) -> ScorePlanner:
    """This function's ports from the one wiring (Lambda's, or the local runtime's)."""
    return ScorePlanner(
        ModelCache(w.model_registry()),
        w.queue("score_queue_url"),
        w.settings.scoring_segments,
    )


@cache
def default_ports() -> ScorePlanner:
    return build_ports(Wiring.for_lambda())


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any, ports: ScorePlanner | None = None) -> dict[str, Any]:
    planner = ports or default_ports()
    run_id = str(event["run"])
    plan = planner.plan(run_id)
    metrics.add(SCORING_SEGMENTS_PLANNED, plan.segments)
    if plan.trained_version is None:
        metrics.add(SCORING_RUNS_WITHOUT_MODEL)
        logger.warning(NO_TRAINED_MODEL, extra={"run": run_id, "segments": plan.segments})
    else:
        logger.info(
            "scoring run planned",
            extra={"run": run_id, "segments": plan.segments, "trained_model": plan.trained_version},
        )
    return {"run": run_id, "segments": plan.segments, "trained_model": plan.trained_version}
