"""The handlers' EMF metrics on moto: real handler calls, the EMF documents Powertools prints, read back.

Each test drives a function through the local runtime, captures stdout and asserts the metric
names, values and dimensions CloudWatch would extract from it.
"""

from __future__ import annotations

import importlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes import catalog_without, identify_shopper
from payloads import track

from nudge.local.runtime import LocalRuntime
from nudge.local.ses_events import ses_event, tagged_mail
from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.loader import Catalog
from shared.delivery.guards import in_holdout
from shared.delivery.links import UnsubscribeRequest
from shared.deployment import topology
from shared.platform.metrics import NAMESPACE, FunctionMetrics, service_name

Dimensions = frozenset[tuple[str, str]]


@pytest.fixture
def catalog() -> Catalog:
    """Without the welcome, so identifying a shopper sends nothing by itself."""
    return catalog_without("welcome")


class Emitted:
    """The EMF documents printed since the last ``reset``, read the way CloudWatch reads them."""

    def __init__(self, capsys: pytest.CaptureFixture[str]) -> None:
        self._capsys = capsys

    def reset(self) -> None:
        self._capsys.readouterr()

    def documents(self) -> list[dict[str, Any]]:
        lines = self._capsys.readouterr().out.splitlines()
        return [json.loads(line) for line in lines if line.startswith('{"_aws"')]

    def values(self, documents: list[dict[str, Any]] | None = None) -> dict[tuple[str, Dimensions], float]:
        """(metric name, dimensions) → the value summed over every document."""
        found: dict[tuple[str, Dimensions], float] = {}
        for document in self.documents() if documents is None else documents:
            [directive] = document["_aws"]["CloudWatchMetrics"]
            assert directive["Namespace"] == NAMESPACE
            [dimension_names] = directive["Dimensions"]
            dimensions = frozenset((name, document[name]) for name in dimension_names)
            for metric in directive["Metrics"]:
                key = (metric["Name"], dimensions)
                found[key] = found.get(key, 0) + sum(document[metric["Name"]])
        return found


@pytest.fixture
def emitted(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Emitted:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # the local runtime turns them off
    return Emitted(capsys)


def dims(function_key: str, **dimensions: str) -> Dimensions:
    return frozenset({"service": service_name(function_key), **dimensions}.items())


def shopper(runtime: LocalRuntime, user_id: str) -> None:
    identify_shopper(runtime, user_id, timezone="Asia/Jakarta", consent={"email": True, "push": False})


def deliver(runtime: LocalRuntime, *jobs: DeliveryJob) -> Any:
    return runtime.invoke("deliver", runtime.sqs_event("delivery", (j.model_dump_json() for j in jobs)))


def sale_job(user_id: str) -> DeliveryJob:
    return DeliveryJob.for_occurrence("weekend-sale-sea", "2026-11-07T03:00:00Z", user_id)


@pytest.mark.parametrize("spec", [pytest.param(f, id=f.key) for f in topology.FUNCTIONS])
def test_every_function_publishes_metrics_under_its_own_service(spec: topology.FunctionSpec) -> None:
    module_name, attribute = spec.handler.rsplit(".", 1)
    module = importlib.import_module(module_name)
    metrics = vars(module).get("metrics")
    assert isinstance(metrics, FunctionMetrics), f"{module_name} has no FunctionMetrics"
    assert metrics.function_key == spec.key
    handler = getattr(module, attribute)
    assert handler.__wrapped__.__qualname__ == "handler"  # the decorators keep the handler's identity


def test_deliveries_are_counted_by_status_and_channel_without_user_ids(
    runtime: LocalRuntime, emitted: Emitted
) -> None:
    users = [f"u{i}" for i in range(40)]
    held = next(u for u in users if in_holdout("weekend-sale-sea", u, 10))
    sent = [u for u in users if not in_holdout("weekend-sale-sea", u, 10)][:2]
    for user in (held, *sent):
        shopper(runtime, user)
    emitted.reset()

    response = deliver(runtime, *(sale_job(u) for u in (held, *sent)), sale_job("nobody"))

    assert response == {"batchItemFailures": []}
    documents = emitted.documents()
    assert emitted.values(documents) == {
        ("Deliveries", dims("deliver", status="sent", channel="email")): 2,
        ("Deliveries", dims("deliver", status="withheld_holdout", channel="none")): 1,
        ("Deliveries", dims("deliver", status="skipped", channel="none")): 1,
    }
    assert len(documents) == 3  # one document per dimension set, not one per message
    printed = json.dumps(documents)
    assert not any(user in printed for user in (held, *sent, "nobody"))


def test_a_parked_delivery_is_counted_for_the_deliver_function(
    runtime: LocalRuntime, emitted: Emitted
) -> None:
    emitted.reset()
    deliver(runtime, DeliveryJob.for_occurrence("no-such-campaign", "2026-11-07T03:00:00Z", "u1"))

    assert emitted.values() == {("MessagesParked", dims("deliver")): 1}
    assert [p.queue for p in runtime.parked()] == ["delivery-dlq"]


def test_ingest_counts_applied_duplicate_and_rejected_events(runtime: LocalRuntime, emitted: Emitted) -> None:
    order = track("u1", "Order Completed", "o1", order_id="o1", revenue=10)
    broken = {"type": "track", "userId": "u9", "messageId": "bad-1", "timestamp": "2026-11-02T07:00:00Z"}
    details = [order, order, track("u2", "Product Viewed", "v1"), broken]
    event = runtime.sqs_event(
        "ingest", (json.dumps({"id": f"e{i}", "detail": d}) for i, d in enumerate(details))
    )
    emitted.reset()

    runtime.invoke("ingest", event)

    assert emitted.values() == {
        ("EventsIngested", dims("ingest")): 2,
        ("EventsDuplicate", dims("ingest")): 1,
        ("EventsRejected", dims("ingest")): 1,
        ("ProfilesWritten", dims("ingest")): 2,
        ("MessagesParked", dims("ingest")): 1,
    }


def test_conversions_are_counted_once_with_the_credited_revenue(
    runtime: LocalRuntime, emitted: Emitted
) -> None:
    users = [f"u{i}" for i in range(60)]
    treated = next(u for u in users if not in_holdout("weekend-sale-sea", u, 10))
    withheld = next(u for u in users if in_holdout("weekend-sale-sea", u, 10))
    for user in (treated, withheld):
        shopper(runtime, user)
    deliver(runtime, sale_job(treated), sale_job(withheld))
    runtime.clock.advance(timedelta(hours=2))
    at = runtime.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    orders = [
        track(user, "Order Completed", f"order-{user}", at=at, order_id=f"o-{user}", revenue=revenue)
        for user, revenue in ((treated, 99.5), (withheld, 40.0))
    ]
    emitted.reset()

    runtime.publish([*orders, orders[0]])  # the treated shopper's order arrives twice
    runtime.drain()

    values = {k: v for k, v in emitted.values().items() if k[0].startswith("Conversion")}
    assert values == {
        ("Conversions", dims("ingest", level="L1", group="treated")): 1,
        ("Conversions", dims("ingest", level="L1", group="withheld")): 1,
        ("ConversionRevenue", dims("ingest", level="L1")): 99.5,
    }


def test_triggers_are_counted_fired_now_or_scheduled(runtime: LocalRuntime, emitted: Emitted) -> None:
    user = next(u for u in (f"u{i}" for i in range(99)) if not in_holdout("abandoned-cart", u, 10))
    shopper(runtime, user)
    at = runtime.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    emitted.reset()

    runtime.publish(
        [
            track(user, "Order Completed", "o1", at=at, order_id="o1", revenue=25),
            track(user, "Product Added", "a1", at=at, product_id="p1", price=20, cart_id="c1"),
        ]
    )

    values = emitted.values()
    trigger_values = {k: v for k, v in values.items() if dims("trigger") <= k[1]}
    assert trigger_values[("Triggers", dims("trigger", status="enqueued"))] >= 1  # order-thank-you
    assert trigger_values[("Triggers", dims("trigger", status="scheduled"))] >= 1  # abandoned-cart, 1 h
    assert {name for name, _ in trigger_values} == {"Triggers"}


def test_feedback_counts_the_ses_event_type_suppressions_and_parked_events(
    runtime: LocalRuntime, emitted: Emitted
) -> None:
    tagged = tagged_mail("u1", "weekend-sale-sea")
    emitted.reset()

    runtime.publish_aws_event(ses_event("Bounce", tagged, bounce={"bounceType": "Permanent"}))
    runtime.publish_aws_event(ses_event("Bounce", tagged, bounce={"bounceType": "Transient"}))
    runtime.publish_aws_event(ses_event("Complaint", {"tags": {}}, complaint={}))

    assert emitted.values() == {
        ("FeedbackEvents", dims("feedback", type="bounce")): 2,
        ("FeedbackEvents", dims("feedback", type="complaint")): 1,
        ("AddressesSuppressed", dims("feedback")): 1,
        ("MessagesParked", dims("feedback")): 1,
    }


def test_the_http_functions_count_responses_and_unsubscribes(runtime: LocalRuntime, emitted: Emitted) -> None:
    user = "u1"
    shopper(runtime, user)
    request = UnsubscribeRequest(user, "email", "weekend-sale-sea")
    query = {"u": user, "ch": "email", "c": "weekend-sale-sea", "t": runtime.signer.token(request)}
    emitted.reset()

    assert runtime.http("POST", "/unsubscribe", query=query)["statusCode"] == 200
    assert runtime.http("POST", "/unsubscribe", query={**query, "u": "someone-else"})["statusCode"] == 403
    assert runtime.http("GET", "/inbox", user_id=user)["statusCode"] == 200
    assert runtime.http("POST", "/inbox/nope/read", user_id=user)["statusCode"] == 404

    assert emitted.values() == {
        ("Unsubscribes", dims("preferences", channel="email")): 1,
        ("HttpResponses", dims("preferences", status_class="2xx")): 1,
        ("HttpResponses", dims("preferences", status_class="4xx")): 1,
        ("HttpResponses", dims("inbox", status_class="2xx")): 1,
        ("HttpResponses", dims("inbox", status_class="4xx")): 1,
    }


@pytest.mark.gentle("counts per invocation: a segment the adversary redelivers is scanned and counted again")
def test_a_campaign_run_counts_segments_profiles_and_jobs(runtime: LocalRuntime, emitted: Emitted) -> None:
    users = [u for u in (f"u{i}" for i in range(12)) if not in_holdout("weekend-sale-sea", u, 10)][:4]
    for user in users:
        shopper(runtime, user)
    runtime.clock.advance_to(datetime(2026, 11, 7, 3, tzinfo=UTC))
    emitted.reset()

    runtime.invoke("planner", {"campaign_id": "weekend-sale-sea", "occurrence": "2026-11-07T03:00:00Z"})
    runtime.drain()

    values = emitted.values()
    assert values[("SegmentsPlanned", dims("planner"))] == 3
    assert values[("ProfilesScanned", dims("audience"))] == len(users)
    assert values[("JobsEnqueued", dims("audience"))] == len(users)
    assert values[("Deliveries", dims("deliver", status="sent", channel="email"))] == len(users)


def test_the_local_runtime_prints_no_metrics(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str]
) -> None:
    shopper(runtime, "u1")
    runtime.clock.advance_to(runtime.clock.now() + timedelta(minutes=1))
    deliver(runtime, sale_job("u1"))
    assert '"_aws"' not in capsys.readouterr().out
