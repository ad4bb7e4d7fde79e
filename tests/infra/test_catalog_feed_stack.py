"""The catalog feed in the template: a private, encrypted, TLS-only, versioned bucket whose events go to
EventBridge; the catalog_feed function on its daily schedule and on the object's "Object Created" rule,
both parking failures in the planner's dead-letter queue; the function reads that one object and
writes the catalog table, and no other function touches S3. Without ``catalog_feed_key`` the
schedule is deployed off, there is no rule and no S3 grant."""

from __future__ import annotations

import json
from typing import Any

from synth import FEED_KEY, Deployment, Synthesized, arn_of, ref

from infra.storage import FEED_NONCURRENT_DAYS
from shared.deployment import invocations, topology


def _feed_bucket(synthesized: Synthesized) -> tuple[str, dict[str, Any]]:
    lid = synthesized.logical_id(synthesized.stack.feed_bucket)
    return lid, synthesized.resources[lid]


def test_the_feed_bucket_is_private_encrypted_versioned_logged_kept_and_sends_its_events_to_eventbridge(
    synthesized: Synthesized,
) -> None:
    lid, resource = _feed_bucket(synthesized)
    bucket = resource["Properties"]
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"] == [
        {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
    ]
    assert bucket["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["VersioningConfiguration"] == {"Status": "Enabled"}
    assert bucket["NotificationConfiguration"] == {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}
    [rule] = bucket["LifecycleConfiguration"]["Rules"]
    assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": FEED_NONCURRENT_DAYS}
    assert bucket["LoggingConfiguration"]["DestinationBucketName"] != ref(lid)
    assert resource["DeletionPolicy"] == "Retain"
    for bucket_id, other in synthesized.of_type("AWS::S3::Bucket").items():
        assert "BucketEncryption" in other and "PublicAccessBlockConfiguration" in other, bucket_id


def test_the_feed_bucket_refuses_requests_without_tls(synthesized: Synthesized) -> None:
    lid, _ = _feed_bucket(synthesized)
    [policy] = [p for p in synthesized.of_type("AWS::S3::BucketPolicy").values() if p["Bucket"] == ref(lid)]
    [deny] = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Principal"] == {"AWS": "*"} and deny["Action"] == "s3:*"


def test_the_feed_is_loaded_daily_before_the_scoring_run_and_parks_what_fails(
    synthesized: Synthesized,
) -> None:
    function = arn_of(synthesized.function_id("catalog_feed"))
    [schedule] = [
        s for s in synthesized.of_type("AWS::Scheduler::Schedule").values() if s["Target"]["Arn"] == function
    ]
    assert (schedule["ScheduleExpression"], schedule["ScheduleExpressionTimezone"]) == (
        "cron(0 1 * * ? *)",
        "UTC",
    )
    assert schedule["State"] == "ENABLED"
    assert json.loads(schedule["Target"]["Input"]) == {"run": invocations.SCHEDULED_TIME}
    planner_dlq = arn_of(synthesized.queue_id(topology.PLANNER_DLQ_KEY))
    assert schedule["Target"]["DeadLetterConfig"] == {"Arn": planner_dlq}
    assert schedule["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 3
    config = synthesized.props(synthesized.function_id("catalog_feed"))
    assert config["Timeout"] == 900
    [invoke_config] = [
        c
        for c in synthesized.of_type("AWS::Lambda::EventInvokeConfig").values()
        if c["FunctionName"] == ref(synthesized.function_id("catalog_feed"))
    ]
    assert invoke_config["MaximumRetryAttempts"] == topology.ASYNC_RETRY_ATTEMPTS
    assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"] == planner_dlq


def test_putting_the_feed_object_loads_it_through_a_rule_on_the_default_bus(synthesized: Synthesized) -> None:
    lid, _ = _feed_bucket(synthesized)
    [rule] = [
        r
        for r in synthesized.of_type("AWS::Events::Rule").values()
        if r["EventPattern"].get("source") == ["aws.s3"]
    ]
    assert rule["EventBusName"] == "default"
    assert rule["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {"bucket": {"name": [ref(lid)]}, "object": {"key": [FEED_KEY]}},
    }
    [target] = rule["Targets"]
    assert target["Arn"] == arn_of(synthesized.function_id("catalog_feed"))
    assert target["DeadLetterConfig"]["Arn"] == arn_of(synthesized.queue_id(topology.PLANNER_DLQ_KEY))
    assert "InputTransformer" not in target  # the function gets S3's event as it is


def test_the_feed_function_reads_only_the_feed_object_and_writes_only_the_catalog(
    synthesized: Synthesized,
) -> None:
    lid, _ = _feed_bucket(synthesized)
    statements = synthesized.function_statements("catalog_feed")
    s3 = [(a, r) for s in statements for a in s.actions if a.startswith("s3:") for r in s.resources]
    assert s3 == [("s3:GetObject", {"Fn::Join": ["", [arn_of(lid), f"/{FEED_KEY}"]]})]
    dynamodb = {
        (a, json.dumps(r))
        for s in statements
        for a in s.actions
        if a.startswith("dynamodb:")
        for r in s.resources
    }
    catalog = json.dumps(arn_of(synthesized.table_id(topology.CATALOG.key)))
    assert dynamodb == {("dynamodb:BatchGetItem", catalog), ("dynamodb:BatchWriteItem", catalog)}
    others = [
        (key, a)
        for key in topology.FUNCTIONS_BY_KEY
        if key != "catalog_feed"
        for s in synthesized.function_statements(key)
        for a in s.actions
        if a.startswith("s3:")
    ]
    assert others == []


def test_without_a_feed_key_the_schedule_is_off_and_there_is_no_rule_and_no_read(
    deployments: dict[str, Deployment],
) -> None:
    staging, nudge = deployments["Staging"], deployments["Nudge"]
    for deployment, state in ((staging, "DISABLED"), (nudge, "ENABLED")):
        [schedule] = [
            s
            for s in deployment.of_type("AWS::Scheduler::Schedule").values()
            if s["ScheduleExpression"] == invocations.CATALOG_FEED_SCHEDULE.expression
        ]
        assert schedule["State"] == state
    s3_rules = [
        r
        for r in staging.of_type("AWS::Events::Rule").values()
        if r["EventPattern"].get("source") == ["aws.s3"]
    ]
    assert s3_rules == []
    granted = json.dumps(staging.of_type("AWS::IAM::Policy"))
    assert "s3:GetObject" not in granted
    assert "s3:GetObject" in json.dumps(nudge.of_type("AWS::IAM::Policy"))
