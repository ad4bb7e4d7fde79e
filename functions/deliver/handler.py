"""SQS (delivery queue) → one guarded, rendered, exactly-once send per job."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from shared.campaigns.jobs import DeliveryJob
from shared.core.queues import DeadLetters
from shared.delivery.deliverer import Deliverer
from shared.delivery.message_context import Unsubscribe
from shared.deployment.topology import DELIVERY_QUEUE
from shared.experiments.store import LiveWeights
from shared.journeys.transitions import WAKE_FIELD
from shared.platform.metrics import FunctionMetrics, record_batch, record_delivery
from shared.platform.wiring import Wiring, snapstart
from shared.work.sqs_batch import PartialItemFailureResponse, park_after_batch, process_queue_batch

if TYPE_CHECKING:  # the wiring builds it with the ports; a wake-up loads its model
    from shared.journeys.engine import JourneyEngine

logger = Logger(service="nudge-deliver")
metrics = FunctionMetrics("deliver")


@dataclass(frozen=True)
class DeliverPorts:
    deliverer: Deliverer
    dead_letters: DeadLetters
    journeys: JourneyEngine | None = None


def build_ports(w: Wiring) -> DeliverPorts:
    """This function's ports from the one wiring (Lambda's, or the local runtime's)."""
    config = w.settings
    config.require("unsubscribe_url")
    deliverer = Deliverer(
        w.catalog(),
        w.profile_store(),
        w.send_log(),
        w.channels(),
        w.clock,
        ledgers=w.ledger_store(),
        deferrals=w.deferrals(),
        unsubscribe=Unsubscribe(w.link_signer(), str(config.unsubscribe_url)),
        erasures=w.erasures(),
        experiments=LiveWeights(w.experiment_store()),
        products=w.product_catalog(),
    )
    return DeliverPorts(deliverer, w.dead_letters(), w.journey_engine())


@cache
def default_ports() -> DeliverPorts:
    return build_ports(Wiring.for_lambda())


# With -c event_path_snapstart=true (infra/settings.py): built before the snapshot, built again after each
# restore (its clients, the catalog, the experiments' weights kept 5 minutes, the journey engine).
snapstart(default_ports)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(
    event: dict[str, Any], context: Any, ports: DeliverPorts | None = None
) -> PartialItemFailureResponse:
    ports = ports or default_ports()

    def deliver(body: str) -> None:
        if WAKE_FIELD in body[:40] and WAKE_FIELD in json.loads(body):
            from shared.journeys.instance import WakeUp

            wake = WakeUp.model_validate(json.loads(body)[WAKE_FIELD])
            if ports.journeys is None:
                raise RuntimeError("a journey wake-up needs the journey engine")
            moved = ports.journeys.wake(wake)
            logger.info("journey woke", extra={"campaign_id": wake.journey_id, "status": moved.transition})
            return
        job = DeliveryJob.model_validate_json(body)
        decision = ports.deliverer.deliver(job)
        record_delivery(metrics, decision)
        logger.info(
            "delivery decided",
            extra={
                "campaign_id": job.campaign_id,
                "status": decision.status,
                "reason": decision.reason,
                "channel": decision.channel,
            },
        )

    dead_letters = metrics.counting(ports.dead_letters)
    with ports.deliverer.batch(recipients(event)) as outcomes:
        response = process_queue_batch(
            event, context, work=deliver, queue=DELIVERY_QUEUE, dead_letters=dead_letters
        )
    if outcomes.uncounted:
        logger.warning("sends not added to their experiments' counts", extra={"error": outcomes.uncounted})
    if outcomes.unrecorded:
        logger.error("outcomes not recorded, their jobs parked", extra={"count": len(outcomes.unrecorded)})
    response = park_after_batch(
        event,
        response,
        outcomes.park_reasons(),
        key_of=send_key_of,
        dead_letters=dead_letters,
        source="deliver",
    )
    record_batch(metrics, response)
    return response


def send_key_of(body: str) -> str | None:
    try:
        key = json.loads(body).get("send_key")
    except (ValueError, TypeError, AttributeError):
        return None
    return key if isinstance(key, str) else None


def recipients(event: dict[str, Any]) -> list[tuple[str, str]]:
    """The (user id, send key) pairs a batch of jobs is for, read leniently: a bad job is reported by
    its own record."""
    pairs = []
    for record in event.get("Records", []):
        try:
            body = json.loads(record["body"])
            user_id, send_key = body.get("user_id"), body.get("send_key")
        except (ValueError, TypeError, AttributeError, KeyError):
            continue
        if isinstance(user_id, str) and isinstance(send_key, str):
            pairs.append((user_id, send_key))
    return pairs
