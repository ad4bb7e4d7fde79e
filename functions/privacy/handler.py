"""HTTP API (JWT authorizer) ``DELETE /me`` → erase everything Nudge stores about the signed-in shopper."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from shared.core.clock import Clock, SystemClock
from shared.platform.auth import signed_in_user
from shared.platform.http import Request, Router
from shared.platform.metrics import SHOPPERS_ERASED, FunctionMetrics, record_http
from shared.platform.wiring import Wiring, snapstart
from shared.privacy.erasure import Erasures
from shared.privacy.ports import UserData
from shared.privacy.requests import DeadLetterPurge, PendingJobs, erase_user

logger = Logger(service="nudge-privacy")
metrics = FunctionMetrics("privacy")
app = Router()


@dataclass(frozen=True)
class PrivacyPorts:
    data: UserData
    pending: PendingJobs | None
    erasures: Erasures | None = None
    dead_letters: Mapping[str, DeadLetterPurge] = field(default_factory=dict)
    clock: Clock = field(default_factory=SystemClock)


def build_ports(w: Wiring) -> PrivacyPorts:
    """This function's ports from the one wiring (Lambda's, or the local runtime's)."""
    return PrivacyPorts(w.user_data(), w.pending_jobs(), w.erasures(), w.purged_dead_letter_queues(), w.clock)


@cache
def default_ports() -> PrivacyPorts:
    return build_ports(Wiring.for_lambda())


snapstart(default_ports)  # SnapStart: built before the snapshot, built again after each restore


_ports: list[PrivacyPorts] = []


@app.delete("/me")
def erase_me(request: Request) -> dict[str, Any]:
    user_id = signed_in_user(request)
    ports = _ports[-1]
    report = erase_user(
        user_id, ports.data, ports.pending, ports.erasures, ports.dead_letters, ports.clock.now()
    )
    metrics.add(SHOPPERS_ERASED)
    summary = {
        "deleted": report.deleted,
        "cancelled_schedules": report.cancelled_schedules,
        "anonymous_profiles": report.anonymous_profiles,
        "dead_letters_purged": report.dead_letters_purged,
        "dead_letters_unscanned": report.dead_letters_unscanned,
        "records_kept": report.records_kept,
    }
    logger.info("shopper erased", extra=summary)
    if report.dead_letters_unscanned:
        logger.warning(
            "dead-letter queues too full to scan whole", extra={"queues": report.dead_letters_unscanned}
        )
    return {"erased": True, **summary}


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any, ports: PrivacyPorts | None = None) -> dict[str, Any]:
    _ports[:] = [ports or default_ports()]
    response = app.resolve(event)
    record_http(metrics, response)
    return response
