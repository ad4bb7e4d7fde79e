"""SQS (score queue) → census or scoring of one profile segment."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from shared.core.queues import DeadLetters
from shared.deployment.topology import SCORE_QUEUE
from shared.platform.metrics import (
    PROFILES_SCORED,
    SCORE_CONFLICTS,
    SCORES_WRITTEN,
    FunctionMetrics,
    record_batch,
)
from shared.platform.wiring import Wiring
from shared.predictions.runs import ModelCache, ScoreTask, ScoreWorker
from shared.work.sqs_batch import PartialItemFailureResponse, process_queue_batch

logger = Logger(service="nudge-scorer")
metrics = FunctionMetrics("scorer")


@dataclass(frozen=True)
class ScorerPorts:
    worker: ScoreWorker
    dead_letters: DeadLetters


def build_ports(w: Wiring) -> ScorerPorts:
    """This function's ports from the one wiring (Lambda's, or the local runtime's)."""
    profiles = w.profile_store()
    registry = w.model_registry()
    worker = ScoreWorker(
        profiles, profiles, registry, ModelCache(registry), w.queue("score_queue_url"), w.segment_entries()
    )
    return ScorerPorts(worker, w.dead_letters())


@cache
def default_ports() -> ScorerPorts:
    return build_ports(Wiring.for_lambda())


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(
    event: dict[str, Any], context: Any, ports: ScorerPorts | None = None
) -> PartialItemFailureResponse:
    ports = ports or default_ports()

    def work_on(body: str) -> None:
        task = ScoreTask.model_validate_json(body)
        result = ports.worker.work(task, context.get_remaining_time_in_millis)
        metrics.add(PROFILES_SCORED, result.scanned, phase=task.phase)
        if task.phase == "score":
            metrics.add(SCORES_WRITTEN, result.written, model=result.model_kind)
        metrics.add(SCORE_CONFLICTS, result.conflicts)
        if result.census_complete:
            logger.info(
                "census complete: scoring with a trained model"
                if result.label_free_reason is None
                else "census complete: scoring with label-free models (BG/NBD, RFM quintiles) fitted on "
                "this shop's events",
                extra={
                    "run": task.run_id,
                    "model_kind": result.model_kind,
                    "model_version": result.model_version,
                    "reason": result.label_free_reason,
                },
            )
        logger.info(
            "segment scored" if task.phase == "score" else "segment counted",
            extra={
                "model_kind": result.model_kind,
                "model_version": result.model_version,
                "run": task.run_id,
                "phase": task.phase,
                "segment": task.segment,
                "scanned": result.scanned,
                "written": result.written,
                "unchanged": result.unchanged,
                "conflicts": result.conflicts,
                "continued": result.continued,
                "census_complete": result.census_complete,
            },
        )

    response = process_queue_batch(
        event, context, work=work_on, queue=SCORE_QUEUE, dead_letters=metrics.counting(ports.dead_letters)
    )
    record_batch(metrics, response)
    return response
