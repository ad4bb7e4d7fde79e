"""EventBridge (SES events on the default bus) → suppression and engagement. Invoked asynchronously."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from shared.core.errors import EventRejected
from shared.core.queues import DeadLetters
from shared.delivery.feedback import apply_feedback
from shared.measurement.ports import Engagement
from shared.platform.metrics import MESSAGES_PARKED, FunctionMetrics, record_feedback
from shared.platform.wiring import Wiring
from shared.privacy.erasure import Erasures
from shared.profiles.ports import LedgerStore
from shared.work.failures import reason_of

logger = Logger(service="nudge-feedback")
metrics = FunctionMetrics("feedback")


@dataclass(frozen=True)
class FeedbackPorts:
    ledgers: LedgerStore
    dead_letters: DeadLetters
    engagement: Engagement | None = None
    erasures: Erasures | None = None


def build_ports(w: Wiring) -> FeedbackPorts:
    """This function's ports from the one wiring (Lambda's, or the local runtime's)."""
    return FeedbackPorts(w.ledger_store(), w.dead_letters(), w.send_log(), w.erasures())


@cache
def default_ports() -> FeedbackPorts:
    return build_ports(Wiring.for_lambda())


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any, ports: FeedbackPorts | None = None) -> dict[str, Any]:
    ports = ports or default_ports()
    try:
        outcome = apply_feedback(event, ports.ledgers, ports.engagement, ports.erasures)
    except EventRejected as error:
        reason = reason_of(error)
        ports.dead_letters.park(json.dumps(event, default=str), reason, source="feedback")
        record_feedback(metrics, event, None)
        metrics.add(MESSAGES_PARKED)
        logger.warning("feedback parked", extra={"reason": reason})
        return {"status": "parked", "reason": reason}
    record_feedback(metrics, event, outcome)
    logger.info(
        "feedback applied",
        extra={"status": outcome.status, "reason": outcome.reason, "engagement": outcome.engagement},
    )
    return {"status": outcome.status, "reason": outcome.reason}
