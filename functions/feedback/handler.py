"""EventBridge (SES events on the default bus) → suppression and engagement. Invoked asynchronously."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from shared import wiring
from shared.erasure import Erasures
from shared.events import EventRejected
from shared.failures import reason_of
from shared.feedback import apply_feedback
from shared.metrics import MESSAGES_PARKED, FunctionMetrics, record_feedback
from shared.ports import DeadLetters, Engagement, LedgerStore

logger = Logger(service="nudge-feedback")
metrics = FunctionMetrics("feedback")


@dataclass(frozen=True)
class FeedbackPorts:
    ledgers: LedgerStore
    dead_letters: DeadLetters
    engagement: Engagement | None = None
    erasures: Erasures | None = None


@cache
def default_ports() -> FeedbackPorts:
    return FeedbackPorts(wiring.ledger_store(), wiring.dead_letters(), wiring.send_log(), wiring.erasures())


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
