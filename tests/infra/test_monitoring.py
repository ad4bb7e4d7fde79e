"""The operations view in the synthesized template: alarms and dashboard, held against the topology.

Expected functions and queues come from ``shared.deployment.topology``, metric names from
``shared.platform.metrics``,
logical ids from the stack's own registries; never from the template itself.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from synth import Synthesized, ref, render

from infra.alarms import SES_BOUNCE_RATE_THRESHOLD, SES_COMPLAINT_RATE_THRESHOLD
from shared.deployment import topology
from shared.platform import metrics

FUNCTION_KEYS = [f.key for f in topology.FUNCTIONS]


def alarms(synthesized: Synthesized) -> dict[str, dict[str, Any]]:
    return synthesized.of_type("AWS::CloudWatch::Alarm")


def alarm_topic(synthesized: Synthesized) -> dict[str, Any]:
    """What every alarm action must be: the stack's own topic if AlarmTopicArn is empty, else it."""
    operations = synthesized.stack.operations
    condition = synthesized.stack.resolve(operations.create_topic_condition.logical_id)
    return {"Fn::If": [condition, ref(synthesized.logical_id(operations.own_topic)), ref("AlarmTopicArn")]}


def the_alarm(synthesized: Synthesized, namespace: str, metric: str, **dimensions: Any) -> dict[str, Any]:
    found = [
        a
        for a in alarms(synthesized).values()
        if a.get("Namespace") == namespace
        and a.get("MetricName") == metric
        and {d["Name"]: d["Value"] for d in a.get("Dimensions", [])} == dimensions
    ]
    assert len(found) == 1, f"{len(found)} alarms on {namespace} {metric} {dimensions}"
    return found[0]


def assert_alarms_above(
    alarm: dict[str, Any], threshold: float, statistic: str, topic: dict[str, Any]
) -> None:
    assert alarm["Threshold"] == threshold
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["Statistic"] == statistic
    assert alarm["EvaluationPeriods"] == 1
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [topic]
    assert alarm["OKActions"] == [topic]


# -- alarms -------------------------------------------------------------------------------------------


def test_the_stack_has_a_dead_letter_queue_for_every_topology_key(synthesized: Synthesized) -> None:
    assert sorted(synthesized.stack.dead_letter_queues) == sorted(topology.DEAD_LETTER_QUEUES)
    assert sorted(topology.DEAD_LETTER_QUEUES) == sorted(
        [*(q.dlq_key for q in topology.QUEUES), *topology.ASYNC_DLQS]
    )


@pytest.mark.parametrize("key", topology.DEAD_LETTER_QUEUES)
def test_every_dead_letter_queue_alarms_as_soon_as_it_holds_a_message(
    key: str, synthesized: Synthesized
) -> None:
    queue_name = {"Fn::GetAtt": [synthesized.queue_id(key), "QueueName"]}
    alarm = the_alarm(synthesized, "AWS/SQS", "ApproximateNumberOfMessagesVisible", QueueName=queue_name)
    assert_alarms_above(alarm, 0, "Maximum", alarm_topic(synthesized))
    assert alarm["Period"] == 300
    assert key in alarm["AlarmDescription"]


@pytest.mark.parametrize("key", FUNCTION_KEYS)
@pytest.mark.parametrize("metric", ["Errors", "Throttles"])
def test_every_function_alarms_on_its_first_error_and_throttle(
    key: str, metric: str, synthesized: Synthesized
) -> None:
    alarm = the_alarm(synthesized, "AWS/Lambda", metric, FunctionName=ref(synthesized.function_id(key)))
    assert_alarms_above(alarm, 0, "Sum", alarm_topic(synthesized))
    assert alarm["Period"] == 300


@pytest.mark.parametrize(
    ("metric", "threshold"), [("Reputation.BounceRate", 0.05), ("Reputation.ComplaintRate", 0.001)]
)
def test_ses_reputation_alarms_at_the_rates_ses_reviews_accounts(
    metric: str, threshold: float, synthesized: Synthesized
) -> None:
    alarm = the_alarm(synthesized, "AWS/SES", metric)  # account-level: no dimensions
    assert_alarms_above(alarm, threshold, "Maximum", alarm_topic(synthesized))
    assert alarm["Period"] == 3600


def test_there_are_no_other_alarms(synthesized: Synthesized) -> None:
    names = sorted(a["AlarmName"] for a in alarms(synthesized).values())
    expected = [
        *(f"Nudge-{k}-{m}" for k in FUNCTION_KEYS for m in ("errors", "throttles")),
        *(f"Nudge-{k}-depth" for k in topology.DEAD_LETTER_QUEUES),
        "Nudge-ses-bounce-rate",
        "Nudge-ses-complaint-rate",
    ]
    assert names == sorted(expected)


# -- the alarm topic ----------------------------------------------------------------------------------


def test_the_alarm_topic_is_a_parameter_that_takes_an_sns_arn_or_nothing(synthesized: Synthesized) -> None:
    parameter = synthesized.json["Parameters"]["AlarmTopicArn"]
    assert (parameter["Type"], parameter["Default"]) == ("String", "")
    pattern = re.compile(parameter["AllowedPattern"])
    assert pattern.fullmatch("")
    assert pattern.fullmatch("arn:aws:sns:eu-west-1:123456789012:ops-pager")
    for wrong in ("ops-pager", "arn:aws:sqs:eu-west-1:123456789012:q", "arn:aws:sns:eu-west-1:1234:t"):
        assert not pattern.fullmatch(wrong), wrong


def test_the_stack_creates_its_own_topic_only_when_no_arn_is_given(synthesized: Synthesized) -> None:
    operations = synthesized.stack.operations
    condition = synthesized.stack.resolve(operations.create_topic_condition.logical_id)
    assert synthesized.json["Conditions"][condition] == {"Fn::Equals": [ref("AlarmTopicArn"), ""]}
    topic_id = synthesized.logical_id(operations.own_topic)
    assert synthesized.resources[topic_id]["Condition"] == condition
    [(policy_id, policy)] = [
        (lid, p)
        for lid, p in synthesized.of_type("AWS::SNS::TopicPolicy").items()
        if p["Topics"] == [ref(topic_id)]
    ]
    assert synthesized.resources[policy_id]["Condition"] == condition
    output = synthesized.json["Outputs"]["AlarmTopicArn"]
    assert (output["Value"], output["Condition"]) == (ref(topic_id), condition)

    key_id = synthesized.logical_id(operations.own_key)
    assert synthesized.props(topic_id)["KmsMasterKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert synthesized.resources[key_id]["Condition"] == condition
    key = synthesized.props(key_id)
    assert key["EnableKeyRotation"] is True
    administers, publishes = key["KeyPolicy"]["Statement"]
    assert render(administers["Principal"]) == {"AWS": "arn:aws:iam::123456789012:root"}
    assert "kms:PutKeyPolicy" in administers["Action"] and not any("*" in a for a in administers["Action"])
    assert (publishes["Principal"], publishes["Action"]) == (
        {"Service": "cloudwatch.amazonaws.com"},
        ["kms:Decrypt", "kms:GenerateDataKey"],
    )

    allow, deny = policy["PolicyDocument"]["Statement"]
    assert (allow["Effect"], allow["Action"], allow["Principal"]) == (
        "Allow",
        "sns:Publish",
        {"Service": "cloudwatch.amazonaws.com"},
    )
    assert allow["Condition"]["StringEquals"] == {"aws:SourceAccount": "123456789012"}
    assert (deny["Effect"], deny["Condition"]) == ("Deny", {"Bool": {"aws:SecureTransport": "false"}})


# -- dashboard ----------------------------------------------------------------------------------------


def _token(part: dict[str, Any]) -> str:
    if set(part) == {"Ref"}:
        return f"ref:{part['Ref']}"
    if set(part) == {"Fn::GetAtt"}:
        return "getatt:{}.{}".format(*part["Fn::GetAtt"])
    raise AssertionError(f"unexpected intrinsic in the dashboard body: {part}")


@pytest.fixture(scope="module")
def dashboard(synthesized: Synthesized) -> dict[str, Any]:
    """The dashboard body as CloudWatch reads it, references written ``ref:Id`` / ``getatt:Id.Attr``."""
    [properties] = synthesized.of_type("AWS::CloudWatch::Dashboard").values()
    assert properties["DashboardName"] == "Nudge-operations"
    separator, parts = properties["DashboardBody"]["Fn::Join"]
    body: dict[str, Any] = json.loads(separator.join(p if isinstance(p, str) else _token(p) for p in parts))
    return body


def widget(dashboard: dict[str, Any], title: str) -> dict[str, Any]:
    [found] = [w for w in dashboard["widgets"] if w["properties"].get("title") == title]
    return found


def metric_lines(graph: dict[str, Any]) -> list[tuple[list[str], dict[str, Any]]]:
    """(namespace, name, dimension name/value pairs...) and options of each plain metric line."""
    lines = []
    for line in graph["properties"]["metrics"]:
        options = line[-1] if isinstance(line[-1], dict) else {}
        fields = [f for f in line if isinstance(f, str)]
        lines.append((fields, options))
    return lines


@pytest.mark.parametrize(
    ("title", "metric"), [("Errors", "Errors"), ("Throttles", "Throttles"), ("Duration p95 (ms)", "Duration")]
)
def test_the_dashboard_graphs_every_function(
    title: str, metric: str, dashboard: dict[str, Any], synthesized: Synthesized
) -> None:
    lines = metric_lines(widget(dashboard, title))
    expected = [
        (["AWS/Lambda", metric, "FunctionName", f"ref:{synthesized.function_id(k)}"], k)
        for k in FUNCTION_KEYS
    ]
    assert [(fields, options["label"]) for fields, options in lines] == expected


def test_the_dashboard_graphs_every_dead_letter_queue(
    dashboard: dict[str, Any], synthesized: Synthesized
) -> None:
    lines = metric_lines(widget(dashboard, "Dead-letter queue depth"))
    expected = [
        (
            [
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                "QueueName",
                f"getatt:{synthesized.queue_id(k)}.QueueName",
            ],
            k,
        )
        for k in topology.DEAD_LETTER_QUEUES
    ]
    assert [(fields, options["label"]) for fields, options in lines] == expected
    assert all(options["stat"] == "Maximum" for _, options in lines)


def test_the_dashboard_alarm_widget_lists_every_alarm(
    dashboard: dict[str, Any], synthesized: Synthesized
) -> None:
    listed = widget(dashboard, "Alarms")["properties"]["alarms"]
    assert sorted(listed) == sorted(f"getatt:{lid}.Arn" for lid in alarms(synthesized))


def searches(graph: dict[str, Any]) -> list[str]:
    return [line[0]["expression"] for line in graph["properties"]["metrics"] if "expression" in line[0]]


@pytest.mark.parametrize(
    ("title", "expression"),
    [
        (
            "Delivery decisions (status, channel)",
            "SEARCH('{Nudge,channel,service,status} MetricName=\"Deliveries\"', 'Sum', 300)",
        ),
        (
            "Messages sent, by channel",
            "SEARCH('{Nudge,channel,service,status} MetricName=\"Deliveries\" status=\"sent\"', 'Sum', 300)",
        ),
        (
            "Conversions (level, holdout group)",
            "SEARCH('{Nudge,group,level,service} MetricName=\"Conversions\"', 'Sum', 300)",
        ),
        (
            "Revenue credited (last touch), by level",
            "SEARCH('{Nudge,level,service} MetricName=\"ConversionRevenue\"', 'Sum', 300)",
        ),
        ("L4 triggers, by outcome", "SEARCH('{Nudge,service,status} MetricName=\"Triggers\"', 'Sum', 300)"),
        ("SES feedback", "SEARCH('{Nudge,service,type} MetricName=\"FeedbackEvents\"', 'Sum', 300)"),
    ],
)
def test_application_metrics_are_searched_with_the_dimensions_the_functions_emit(
    title: str, expression: str, dashboard: dict[str, Any]
) -> None:
    assert searches(widget(dashboard, title)) == [expression]


def test_every_service_dimension_is_a_functions_powertools_service_name(
    dashboard: dict[str, Any], synthesized: Synthesized
) -> None:
    """The ``service`` of the application metrics graphed by name is the one the function emits."""
    services = {
        synthesized.props(synthesized.function_id(k))["Environment"]["Variables"][
            "POWERTOOLS_SERVICE_NAME"
        ]: k
        for k in FUNCTION_KEYS
    }
    graphed = [
        (fields[1], fields[3])
        for w in dashboard["widgets"]
        if w["type"] == "metric"
        for fields, _ in metric_lines(w)
        if fields and fields[0] == metrics.NAMESPACE
    ]
    assert ("EventsIngested", "nudge-ingest") in graphed
    assert ("JobsEnqueued", "nudge-audience") in graphed
    for name, service in graphed:
        assert service in services, f"{name} graphed for {service}, which no function emits"
        assert name in {m.name for m in metrics.ALL_METRICS}


def test_the_ses_reputation_graph_shows_the_alarm_thresholds(dashboard: dict[str, Any]) -> None:
    graph = widget(dashboard, "SES reputation (account)")
    assert [f for f, _ in metric_lines(graph)] == [
        ["AWS/SES", "Reputation.BounceRate"],
        ["AWS/SES", "Reputation.ComplaintRate"],
    ]
    annotations = graph["properties"]["annotations"]["horizontal"]
    assert [a["value"] for a in annotations] == [
        SES_BOUNCE_RATE_THRESHOLD,
        SES_COMPLAINT_RATE_THRESHOLD,
    ]
