"""HTTP API (JWT authorizer) → the signed-in shopper's in-app inbox.

The user id is the token's subject claim, never a path or query parameter, so one shopper can
never read or change another's messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from shared.adapters.dynamo.messages import DynamoInbox
from shared.core.clock import Clock
from shared.measurement.ports import Engagement
from shared.platform.auth import signed_in_user
from shared.platform.http import NotFound, Request, Router
from shared.platform.metrics import FunctionMetrics, record_http
from shared.platform.wiring import Wiring, snapstart

logger = Logger(service="nudge-inbox")
metrics = FunctionMetrics("inbox")
app = Router()
FIELDS = ("message_key", "campaign_id", "title", "body", "cta_label", "cta_url", "created_at")


@dataclass(frozen=True)
class InboxPorts:
    inbox: DynamoInbox
    clock: Clock
    engagement: Engagement | None = None  # folds reads into the send log's per-message status


def build_ports(w: Wiring) -> InboxPorts:
    """This function's ports from the one wiring (Lambda's, or the local runtime's)."""
    return InboxPorts(w.inbox(), w.clock, w.send_log())


@cache
def default_ports() -> InboxPorts:
    return build_ports(Wiring.for_lambda())


snapstart(default_ports)  # SnapStart: built before the snapshot, built again after each restore


_ports: list[InboxPorts] = []


@app.get("/inbox")
def list_unread(request: Request) -> dict[str, Any]:
    ports = _ports[-1]
    messages = ports.inbox.unread(signed_in_user(request), ports.clock.now())
    return {"messages": [{k: m.get(k) for k in FIELDS} for m in messages]}


def _mark(request: Request, state: str) -> dict[str, Any]:
    ports = _ports[-1]
    user_id, now = signed_in_user(request), ports.clock.now()
    message_key = request.path_parameters["message_key"]
    if not ports.inbox.mark(user_id, message_key, state, now):
        raise NotFound("no such message in your inbox")
    if ports.engagement is not None:
        # The in-app message's key is its provider id in the send log; reading it is its "open".
        ports.engagement.engagement(user_id, message_key, "opened" if state == "read" else state, now)
    return {"message_key": message_key, "state": state}


@app.post("/inbox/<message_key>/read")
def mark_read(request: Request) -> dict[str, Any]:
    return _mark(request, "read")


@app.post("/inbox/<message_key>/dismiss")
def dismiss(request: Request) -> dict[str, Any]:
    return _mark(request, "dismissed")


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any, ports: InboxPorts | None = None) -> dict[str, Any]:
    _ports[:] = [ports or default_ports()]
    response = app.resolve(event)
    record_http(metrics, response)
    return response
