"""The local runtime (moto) and the CDK template are built from the same topology — and agree.

``LocalRuntime`` creates its bus rules, queues, tables and schedules from ``shared.deployment.topology``,
and so
does ``NudgeStack``. Here the resources moto ends up with are held against the synthesized template
for the same topology key, so neither side can drift (the synth is shared with ``tests/infra``).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from shared.campaigns.schedules import ScheduleExpression
from shared.core.clock import SimulatedClock
from shared.deployment import invocations, topology

INFRA_TESTS = str(Path(__file__).resolve().parents[1] / "infra")
if INFRA_TESTS not in sys.path:
    sys.path.insert(0, INFRA_TESTS)

from synth import FEED_KEY, Synthesized, synthesized_for  # noqa: E402

START = datetime(2026, 11, 1, tzinfo=UTC)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesized_for(tmp_path_factory)


@pytest.fixture
def runtime(synthesized: Synthesized, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    from nudge.local.runtime import LocalRuntime

    with mock_aws():
        yield LocalRuntime(synthesized.catalog, SimulatedClock(START), catalog_feed_key=FEED_KEY)


def test_bus_rules_have_the_template_patterns(runtime: Any, synthesized: Synthesized) -> None:
    events = runtime.client("events")
    rules = []
    specs = runtime.rules
    for bus in sorted({runtime.names.event_bus(r.bus) for r in specs}):
        response = events.list_rules(EventBusName=bus)
        assert "NextToken" not in response
        rules += response["Rules"]
    local = sorted(_canonical(json.loads(r["EventPattern"])) for r in rules)
    from nudge.local.account import FEED_BUCKET_NAME

    feed_bucket = _canonical({"Ref": synthesized.logical_id(synthesized.stack.feed_bucket)})
    deployed = sorted(
        _canonical(r["EventPattern"]).replace(feed_bucket, _canonical(FEED_BUCKET_NAME))
        for r in synthesized.of_type("AWS::Events::Rule").values()
    )
    assert local == deployed
    assert len(local) == len(specs)
    assert all(r["State"] == "ENABLED" for r in rules)


@pytest.mark.parametrize("spec", topology.QUEUES, ids=lambda s: s.key)
def test_queues_redrive_like_the_template(
    spec: topology.QueueSpec, runtime: Any, synthesized: Synthesized
) -> None:
    attributes = runtime.client("sqs").get_queue_attributes(
        QueueUrl=runtime.queue_urls[spec.key], AttributeNames=["All"]
    )["Attributes"]
    local_redrive = json.loads(attributes["RedrivePolicy"])
    deployed = synthesized.props(synthesized.queue_id(spec.key))
    assert int(local_redrive["maxReceiveCount"]) == deployed["RedrivePolicy"]["maxReceiveCount"]
    assert int(attributes["VisibilityTimeout"]) == deployed["VisibilityTimeout"]
    # Both redrive into the dead-letter queue built for the same topology key.
    assert local_redrive["deadLetterTargetArn"] == runtime.queue_arn(spec.dlq_key)
    assert deployed["RedrivePolicy"]["deadLetterTargetArn"] == {
        "Fn::GetAtt": [synthesized.queue_id(spec.dlq_key), "Arn"]
    }


def test_both_sides_have_the_same_queues(runtime: Any, synthesized: Synthesized) -> None:
    local = set(runtime.queue_urls)
    deployed = set(synthesized.stack.queues)
    assert local == deployed


@pytest.mark.parametrize("spec", topology.TABLES, ids=lambda s: s.key)
def test_tables_have_the_template_keys(
    spec: topology.TableSpec, runtime: Any, synthesized: Synthesized
) -> None:
    dynamodb = runtime.client("dynamodb")
    table = dynamodb.describe_table(TableName=runtime.table_names[spec.key])["Table"]
    deployed = synthesized.props(synthesized.table_id(spec.key))
    assert table["KeySchema"] == deployed["KeySchema"]

    def by_name(definitions: list[dict[str, str]]) -> list[dict[str, str]]:
        return sorted(definitions, key=lambda d: d["AttributeName"])

    assert by_name(table["AttributeDefinitions"]) == by_name(deployed["AttributeDefinitions"])
    ttl = dynamodb.describe_time_to_live(TableName=runtime.table_names[spec.key])["TimeToLiveDescription"]
    if "TimeToLiveSpecification" in deployed:
        assert ttl.get("TimeToLiveStatus") == "ENABLED"
        assert ttl.get("AttributeName") == deployed["TimeToLiveSpecification"]["AttributeName"]
    else:
        assert ttl.get("TimeToLiveStatus", "DISABLED") == "DISABLED"


def _deployed_schedules(synthesized: Synthesized) -> list[tuple[str, str, str, bool]]:
    return sorted(
        (
            json.loads(s["Target"]["Input"]).get("campaign_id") or "",
            s["ScheduleExpression"],
            s["ScheduleExpressionTimezone"],
            s["State"] == "ENABLED",
        )
        for s in synthesized.of_type("AWS::Scheduler::Schedule").values()
    )


def test_schedules_are_the_template_schedules(runtime: Any, synthesized: Synthesized) -> None:
    local = sorted(
        (s.campaign_id or "", s.expression, s.timezone, s.enabled)
        for s in invocations.all_schedules(runtime.catalog, now=runtime.deployed_at, feed=runtime.feed)
    )
    assert local == _deployed_schedules(synthesized)
    assert local, "the catalog should hold at least one batch campaign"


def test_the_runtime_fires_what_the_template_schedules(runtime: Any, synthesized: Synthesized) -> None:
    """Over two weeks the runtime fires exactly as often as the deployed schedules would."""
    end = START + timedelta(days=14)
    expected = sum(
        len(list(ScheduleExpression.parse(expression, timezone).occurrences(START, end)))
        for _campaign, expression, timezone, enabled in _deployed_schedules(synthesized)
        if enabled
    )
    assert expected > 0
    runtime.put_catalog_feed(b"product_id,price\np-1,10\n")  # the feed there: each daily load succeeds once
    runtime.invocations.clear()
    assert runtime.advance_to(end) == expected
    scheduled = ("planner", "score_planner", "catalog_feed")
    assert sum(runtime.invocations.get(key, 0) for key in scheduled) == expected
    assert runtime.invocations["catalog_feed"] == 14
