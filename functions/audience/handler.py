"""SQS (audience queue) → scans one profile segment and enqueues delivery jobs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from shared.batch.batch_campaigns import AudienceWorker, SegmentTask
from shared.core.queues import DeadLetters
from shared.deployment.topology import AUDIENCE_QUEUE
from shared.platform.metrics import JOBS_ENQUEUED, PROFILES_SCANNED, FunctionMetrics, record_batch
from shared.platform.wiring import Wiring
from shared.work.sqs_batch import PartialItemFailureResponse, process_queue_batch

logger = Logger(service="nudge-audience")
metrics = FunctionMetrics("audience")


@dataclass(frozen=True)
class AudiencePorts:
    worker: AudienceWorker
    dead_letters: DeadLetters


def build_ports(w: Wiring) -> AudiencePorts:
    """This function's ports from the one wiring (Lambda's, or the local runtime's)."""
    worker = AudienceWorker(
        w.catalog(),
        w.profile_store(),
        w.queue("delivery_queue_url"),
        w.queue("audience_queue_url"),
        w.clock,
        enqueue_threads=w.settings.audience_enqueue_threads,
        journeys=w.journey_engine(),
        deferrals=w.deferrals(),
    )
    return AudiencePorts(worker, w.dead_letters())


@cache
def default_ports() -> AudiencePorts:
    return build_ports(Wiring.for_lambda())


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(
    event: dict[str, Any], context: Any, ports: AudiencePorts | None = None
) -> PartialItemFailureResponse:
    ports = ports or default_ports()

    def work_on(body: str) -> None:
        task = SegmentTask.model_validate_json(body)
        result = ports.worker.work(task, context.get_remaining_time_in_millis)
        metrics.add(PROFILES_SCANNED, result.scanned)
        metrics.add(JOBS_ENQUEUED, result.enqueued)
        logger.info(
            "segment worked",
            extra={
                "campaign_id": task.campaign_id,
                "segment": task.segment,
                "scanned": result.scanned,
                "enqueued": result.enqueued,
                "continued": result.continued,
            },
        )

    response = process_queue_batch(
        event, context, work=work_on, queue=AUDIENCE_QUEUE, dead_letters=metrics.counting(ports.dead_letters)
    )
    record_batch(metrics, response)
    return response
