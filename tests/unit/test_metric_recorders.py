"""shared.platform.metrics: what each outcome counts, bounded dimensions, and one EMF document per
dimension set."""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

import pytest

import shared.triggers.triggers
from shared.delivery.deliverer import DECISIONS, SendDecision
from shared.delivery.feedback import FeedbackOutcome
from shared.platform.metrics import (
    ALL_METRICS,
    CONVERSION_REVENUE,
    CONVERSIONS,
    DELIVERIES,
    OTHER,
    RECORDS_RETRIED,
    TRIGGER_STATUSES,
    FunctionMetrics,
    record_conversions,
    record_delivery,
    record_feedback,
    record_http,
)


@dataclass(frozen=True)
class Converted:
    level: str
    group: str
    revenue: float
    attributed: bool


def test_conversions_count_by_level_and_group_and_revenue_only_where_attributed() -> None:
    metrics = FunctionMetrics("ingest")
    # One order of 80.0 counted for an L4 and an L1 campaign (last touch: the L4), a withheld
    # shopper's order of 30.0 for an L1 campaign, and an order with a level nobody defined.
    record_conversions(
        metrics,
        [
            Converted("L4", "treated", 80.0, attributed=True),
            Converted("L1", "treated", 80.0, attributed=False),
            Converted("L1", "withheld", 30.0, attributed=False),
            Converted("L7", "treated", 5.0, attributed=True),
        ],
    )

    assert metrics.counts() == {
        ("Conversions", (("group", "treated"), ("level", "L4"))): 1,
        ("Conversions", (("group", "treated"), ("level", "L1"))): 1,
        ("Conversions", (("group", "withheld"), ("level", "L1"))): 1,
        ("Conversions", (("group", "treated"), ("level", OTHER))): 1,
        ("ConversionRevenue", (("level", "L4"),)): 80.0,
        ("ConversionRevenue", (("level", OTHER),)): 5.0,
    }


def test_a_capped_delivery_names_its_cap_and_unknown_values_are_bounded() -> None:
    metrics = FunctionMetrics("deliver")
    record_delivery(metrics, SendDecision("capped", "all_channels.per_week", "email"))
    record_delivery(metrics, SendDecision("capped", "u-123 said stop", "push"))
    record_delivery(metrics, SendDecision("something_new", None, None))

    assert metrics.counts() == {
        ("Deliveries", (("channel", "email"), ("status", "capped"))): 1,
        ("Deliveries", (("channel", "push"), ("status", "capped"))): 1,
        ("Deliveries", (("channel", "none"), ("status", OTHER))): 1,
        ("DeliveriesCapped", (("cap", "all_channels.per_week"),)): 1,
        ("DeliveriesCapped", (("cap", OTHER),)): 1,
    }


def test_every_delivery_decision_is_a_status_of_its_own() -> None:
    metrics = FunctionMetrics("deliver")
    for status in DECISIONS:
        record_delivery(metrics, SendDecision(status, None, "email"))
    assert {dict(d)["status"] for name, d in metrics.counts() if name == "Deliveries"} == set(DECISIONS)


def test_every_trigger_outcome_the_evaluator_returns_has_its_own_status() -> None:
    source = ast.parse(Path(shared.triggers.triggers.__file__).read_text())
    returned = {
        arg.value
        for node in ast.walk(source)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "TriggerOutcome"
        for arg in node.args[:1]
        if isinstance(arg, ast.Constant)
    }
    conditional = {
        value.value
        for node in ast.walk(source)
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "TriggerOutcome"
        for arg in node.args[:1]
        if isinstance(arg, ast.IfExp)
        for value in (arg.body, arg.orelse)
        if isinstance(value, ast.Constant)
    }
    assert returned | conditional
    assert returned | conditional <= set(TRIGGER_STATUSES)


def test_feedback_types_are_bounded_and_suppressions_counted() -> None:
    metrics = FunctionMetrics("feedback")
    record_feedback(metrics, {"detail": {"eventType": "Bounce"}}, FeedbackOutcome("suppressed", "bounced"))
    record_feedback(metrics, {"detail": {"eventType": "Rendering Failure"}}, FeedbackOutcome("ignored", "-"))
    record_feedback(metrics, {"detail": "not an object"}, None)

    assert metrics.counts() == {
        ("FeedbackEvents", (("type", "bounce"),)): 1,
        ("FeedbackEvents", (("type", OTHER),)): 2,
        ("AddressesSuppressed", ()): 1,
    }


def test_http_status_classes() -> None:
    metrics = FunctionMetrics("inbox")
    for status in (200, 204, 401, 404, 500):
        record_http(metrics, {"statusCode": status})
    assert metrics.counts() == {
        ("HttpResponses", (("status_class", "2xx"),)): 2,
        ("HttpResponses", (("status_class", "4xx"),)): 2,
        ("HttpResponses", (("status_class", "5xx"),)): 1,
    }


def test_a_metric_refuses_dimensions_it_does_not_declare() -> None:
    metrics = FunctionMetrics("deliver")
    with pytest.raises(ValueError, match="Deliveries takes dimensions"):
        metrics.add(DELIVERIES, status="sent")
    with pytest.raises(ValueError, match="ConversionRevenue"):
        metrics.add(CONVERSION_REVENUE, 5.0, level="L1", user_id="u1")


def test_metric_names_are_unique_and_dimensions_few() -> None:
    assert len({m.name for m in ALL_METRICS}) == len(ALL_METRICS)
    assert all(len(m.dimensions) <= 2 for m in ALL_METRICS)


def emf(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]


def test_publish_prints_one_document_per_dimension_set_and_starts_afresh(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    metrics = FunctionMetrics("ingest")
    record_conversions(
        metrics, [Converted("L2", "treated", 12.5, True), Converted("L2", "treated", 7.5, True)]
    )

    metrics.publish()
    first = emf(capsys)
    metrics.publish()

    assert emf(capsys) == []  # nothing counted since: nothing printed
    by_metric = {d["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"]: d for d in first}  # type: ignore[index]
    assert set(by_metric) == {CONVERSIONS.name, CONVERSION_REVENUE.name}
    revenue = by_metric["ConversionRevenue"]
    assert revenue["ConversionRevenue"] == [20.0]
    assert (revenue["service"], revenue["level"]) == ("nudge-ingest", "L2")
    assert revenue["_aws"]["CloudWatchMetrics"][0] == {  # type: ignore[index]
        "Namespace": "Nudge",
        "Dimensions": [["level", "service"]],
        "Metrics": [{"Name": "ConversionRevenue", "Unit": "None"}],
    }
    assert by_metric["Conversions"]["Conversions"] == [2.0]


def test_nothing_is_printed_when_metrics_are_disabled(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    metrics = FunctionMetrics("deliver")
    record_delivery(metrics, SendDecision("sent", None, "email"))
    metrics.publish()
    assert emf(capsys) == []
    assert metrics.counts() == {}


def test_the_handler_publishes_even_when_it_raises(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    metrics = FunctionMetrics("trigger")

    @metrics.log_metrics
    def handler() -> None:
        metrics.add(RECORDS_RETRIED, 3)
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        handler()
    [document] = emf(capsys)
    assert document["RecordsRetried"] == [3.0]


def test_the_operations_guide_lists_every_metric() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "operations.md").read_text()
    metrics = guide[guide.index("## Metrics, dashboard and alarms") : guide.index("**Dashboard**")]
    missing = [m.name for m in ALL_METRICS if f"`{m.name}`" not in metrics]
    assert not missing, f"docs/operations.md's metrics section does not list {missing}"
