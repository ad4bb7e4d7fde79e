"""EventBridge Scheduler (daily) → one census task per profile scan segment of a scoring run, then the
review of every experiment (``shared.experiments.scheduled``: the same schedule, once per run).

A run without a trained model still scores: the census fits the label-free models on the shop's
own events (``shared.predictions.label_free``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from shared.campaigns.loader import Catalog
from shared.experiments.scheduled import review_all
from shared.experiments.store import ExperimentStore
from shared.platform.metrics import SCORING_RUNS_WITHOUT_MODEL, SCORING_SEGMENTS_PLANNED, FunctionMetrics
from shared.platform.wiring import Wiring
from shared.predictions.runs import NO_TRAINED_MODEL, ModelCache, ScorePlanner

logger = Logger(service="nudge-score-planner")
metrics = FunctionMetrics("score_planner")


@dataclass(frozen=True)
class ScorePlannerPorts:
    planner: ScorePlanner
    catalog: Catalog
    experiments: ExperimentStore


def build_ports(w: Wiring) -> ScorePlannerPorts:
    """This function's ports from the one wiring (Lambda's, or the local runtime's)."""
    planner = ScorePlanner(
        ModelCache(w.model_registry()),
        w.queue("score_queue_url"),
        w.settings.scoring_segments,
    )
    return ScorePlannerPorts(planner, w.catalog(), w.experiment_store())


@cache
def default_ports() -> ScorePlannerPorts:
    return build_ports(Wiring.for_lambda())


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any, ports: ScorePlannerPorts | None = None) -> dict[str, Any]:
    ports = ports or default_ports()
    run_id = str(event["run"])
    plan = ports.planner.plan(run_id)
    metrics.add(SCORING_SEGMENTS_PLANNED, plan.segments)
    if plan.trained_version is None:
        metrics.add(SCORING_RUNS_WITHOUT_MODEL)
        logger.warning(NO_TRAINED_MODEL, extra={"run": run_id, "segments": plan.segments})
    else:
        logger.info(
            "scoring run planned",
            extra={"run": run_id, "segments": plan.segments, "trained_model": plan.trained_version},
        )
    now = datetime.fromisoformat(run_id.replace("Z", "+00:00"))
    now = now if now.tzinfo else now.replace(tzinfo=UTC)
    reviewed = review_all(ports.catalog, ports.experiments, now, run_id)
    for each in reviewed:
        if each.written:
            extra = {"experiment": each.experiment_id, "action": each.action}
            logger.info("experiment reviewed", extra=extra)
    return {
        "run": run_id,
        "segments": plan.segments,
        "trained_model": plan.trained_version,
        "experiments_written": sum(each.written for each in reviewed),
    }
