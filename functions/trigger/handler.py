"""EventBridge rule (one per L4 campaign) → delivery job; a catalog campaign's rule → a job per shopper
interested in the changed product (shared/triggers/catalog_triggers.py). Invoked asynchronously."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from shared.core.errors import EventRejected
from shared.core.queues import DeadLetters
from shared.deployment.naming import CATALOG_CHANGE, JOURNEY_EVENT
from shared.platform.metrics import MESSAGES_PARKED, FunctionMetrics, record_trigger
from shared.platform.wiring import Wiring, snapstart
from shared.triggers.catalog_triggers import CatalogFanOut
from shared.triggers.triggers import TriggerEvaluator
from shared.work.failures import PERMANENT_ERRORS, reason_of

logger = Logger(service="nudge-trigger")
metrics = FunctionMetrics("trigger")
PARK_AT_ONCE: tuple[type[Exception], ...] = (EventRejected, *PERMANENT_ERRORS)


@dataclass(frozen=True)
class TriggerPorts:
    evaluator: TriggerEvaluator
    dead_letters: DeadLetters
    fan_out: CatalogFanOut | None = None


def build_ports(w: Wiring) -> TriggerPorts:
    """This function's ports from the one wiring (Lambda's, or the local runtime's)."""
    catalog = w.catalog()
    evaluator = TriggerEvaluator(
        catalog,
        w.profile_store(),
        w.queue("delivery_queue_url"),
        w.clock,
        w.deferrals(),
        # Only journeys enter, end or move instances here: without one in the catalog, no engine (nor its
        # modules: docs/performance.md, "The event path's import").
        w.journey_engine() if any(c.is_journey for c in catalog) else None,
    )
    fan_out = CatalogFanOut(
        catalog, w.interest_index(), w.queue("delivery_queue_url"), w.clock, w.catalog_key()
    )
    return TriggerPorts(evaluator, w.dead_letters(), fan_out)


@cache
def default_ports() -> TriggerPorts:
    return build_ports(Wiring.for_lambda())


# With -c event_path_snapstart=true (infra/settings.py): built before the snapshot, built again after each
# restore (its clients, the catalog, the journey engine).
snapstart(default_ports)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any, ports: TriggerPorts | None = None) -> dict[str, Any]:
    ports = ports or default_ports()
    campaign_id = str(event.get("campaign_id"))
    try:
        if event.get("kind") == CATALOG_CHANGE:
            if ports.fan_out is None:
                raise RuntimeError("a catalog campaign's event needs the fan-out's ports")
            fanned = ports.fan_out.handle(campaign_id, event.get("event") or {})
            record_trigger(metrics, fanned)
            logger.info("catalog change fanned out", extra={"campaign_id": campaign_id, "jobs": fanned.jobs})
            return {"status": fanned.status, "jobs": fanned.jobs}
        if event.get("kind") == JOURNEY_EVENT:
            outcome = ports.evaluator.journey_event(campaign_id, event.get("event") or {})
        else:
            outcome = ports.evaluator.handle(campaign_id, event.get("event") or {})
    except PARK_AT_ONCE as error:
        reason = reason_of(error)
        ports.dead_letters.park(json.dumps(event), reason, source="trigger")
        metrics.add(MESSAGES_PARKED)
        logger.warning("trigger parked", extra={"campaign_id": campaign_id, "reason": reason})
        return {"status": "parked", "reason": reason}
    record_trigger(metrics, outcome)
    logger.info("trigger evaluated", extra={"campaign_id": campaign_id, "status": outcome.status})
    return {"status": outcome.status, "send_key": outcome.job.send_key if outcome.job else None}
