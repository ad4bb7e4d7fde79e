"""HTTP API (JWT authorizer) ``DELETE /me`` → erase everything Nudge stores about the signed-in shopper."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from shared import wiring
from shared.auth import signed_in_user
from shared.metrics import SHOPPERS_ERASED, FunctionMetrics, record_http
from shared.ports import UserData
from shared.privacy import PendingJobs, erase_user

logger = Logger(service="nudge-privacy")
metrics = FunctionMetrics("privacy")
app = APIGatewayHttpResolver()


@dataclass(frozen=True)
class PrivacyPorts:
    data: UserData
    pending: PendingJobs | None


@cache
def default_ports() -> PrivacyPorts:
    return PrivacyPorts(wiring.user_data(), wiring.pending_jobs())


_ports: list[PrivacyPorts] = []


@app.delete("/me")
def erase_me() -> dict[str, Any]:
    user_id = signed_in_user(app.current_event)
    ports = _ports[-1]
    report = erase_user(user_id, ports.data, ports.pending)
    metrics.add(SHOPPERS_ERASED)
    logger.info("shopper erased", extra={"deleted": report.deleted, "schedules": report.cancelled_schedules})
    return {"erased": True, "deleted": report.deleted, "cancelled_schedules": report.cancelled_schedules}


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any, ports: PrivacyPorts | None = None) -> dict[str, Any]:
    _ports[:] = [ports or default_ports()]
    response = app.resolve(event, context)
    record_http(metrics, response)
    return response
