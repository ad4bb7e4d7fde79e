"""SQS (delivery queue) → one guarded, rendered, exactly-once send per job."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from shared import wiring
from shared.clock import SystemClock
from shared.delivery import Deliverer, DeliveryJob
from shared.ports import DeadLetters
from shared.sqs_records import run_or_park
from shared.topology import DELIVERY_QUEUE

logger = Logger(service="nudge-deliver")
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@dataclass(frozen=True)
class DeliverPorts:
    deliverer: Deliverer
    dead_letters: DeadLetters


@cache
def default_ports() -> DeliverPorts:
    deliverer = Deliverer(
        wiring.catalog(), wiring.profile_store(), wiring.send_log(), wiring.channels(), SystemClock()
    )
    return DeliverPorts(deliverer, wiring.dead_letters())


@logger.inject_lambda_context(log_event=False)
def handler(
    event: dict[str, Any], context: Any, ports: DeliverPorts | None = None
) -> PartialItemFailureResponse:
    ports = ports or default_ports()

    def deliver(record: SQSRecord) -> None:
        def work() -> None:
            job = DeliveryJob.model_validate_json(record.body)
            decision = ports.deliverer.deliver(job)
            logger.info(
                "delivery decided",
                extra={
                    "campaign_id": job.campaign_id,
                    "status": decision.status,
                    "reason": decision.reason,
                    "channel": decision.channel,
                },
            )

        run_or_park(
            work,
            body=record.body,
            receive_count=int(record.attributes.approximate_receive_count),
            max_receives=DELIVERY_QUEUE.max_receive_count,
            dead_letters=ports.dead_letters,
            source="deliver",
        )

    return process_partial_response(event=event, record_handler=deliver, processor=processor, context=context)
