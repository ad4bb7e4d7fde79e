"""Least privilege and data protection in the synthesized template.

Each function's role is held to exactly the (action, resource) pairs its ``shared.deployment.topology`` spec
implies: a grant the spec does not call for fails here, whoever adds it. Every table, queue, topic
and log group in the template (not only the ones the topology names) is checked for encryption,
backups, TLS and retention.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from synth import (
    ACCOUNT,
    CONTEXT,
    FEED_KEY,
    PARTITION,
    REGION,
    SENDER_EMAIL,
    STACK_NAME,
    Synthesized,
    arn_of,
    ref,
    render,
)

from infra.function import RESOURCELESS_ACTIONS
from shared.deployment import invocations, topology
from shared.deployment.naming import ResourceNames

# Actions IAM only grants on "*", and why Nudge needs each. Nothing else may have Resource "*".
ALLOWED_ON_ANY_RESOURCE = {
    "xray:PutTraceSegments": "X-Ray has no resource-level permissions; every function traces (active)",
    "xray:PutTelemetryRecords": "X-Ray has no resource-level permissions; every function traces (active)",
    "scheduler:ListSchedules": "no resource-level permissions; erasure lists a shopper's pending deferrals",
}
XRAY = {"xray:PutTraceSegments", "xray:PutTelemetryRecords"}

SEND = {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
CONSUME = {
    "sqs:ReceiveMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:DeleteMessage",
    "sqs:GetQueueAttributes",
    "sqs:GetQueueUrl",
}
Grant = tuple[str, str]  # (action, resource rendered as canonical JSON)


def _key(resource: Any) -> str:
    return json.dumps(render(resource), sort_keys=True)


def _granted(synthesized: Synthesized, function_key: str) -> set[Grant]:
    grants: set[Grant] = set()
    for statement in synthesized.function_statements(function_key):
        assert statement.effect == "Allow", statement.raw
        assert set(statement.raw) <= {"Action", "Effect", "Resource"}, statement.raw  # no NotAction etc.
        grants |= {(a, _key(r)) for a in statement.actions for r in statement.resources}
    return grants


def _expected(synthesized: Synthesized, spec: topology.FunctionSpec) -> set[Grant]:
    """What the spec implies, and nothing else."""
    log_group = synthesized.props(synthesized.function_id(spec.key))["LoggingConfig"]["LogGroup"]["Ref"]
    pairs: list[tuple[str, Any]] = [(a, "*") for a in XRAY]
    pairs += [(a, arn_of(log_group)) for a in ("logs:CreateLogStream", "logs:PutLogEvents")]
    for table, actions in spec.tables.items():
        pairs += [(f"dynamodb:{a}", arn_of(synthesized.table_id(table))) for a in actions]
        if topology.TABLES_BY_KEY[table].indexes:  # the interest index: CDK grants its indexes the same
            indexes = {"Fn::Join": ["", [arn_of(synthesized.table_id(table)), "/index/*"]]}
            pairs += [(f"dynamodb:{a}", indexes) for a in actions]
    if spec.announces:
        pairs.append(("events:PutEvents", arn_of(synthesized.logical_id(synthesized.stack.bus))))
    for queue in {*spec.sends_to, *(k for k in (spec.parks_in, spec.on_failure) if k)}:
        pairs += [(a, arn_of(synthesized.queue_id(queue))) for a in SEND]
    for queue in (q for q in topology.QUEUES if q.consumer == spec.key):
        pairs += [(a, arn_of(synthesized.queue_id(queue.key))) for a in CONSUME]
    if spec.sends_email:
        config_set = synthesized.stack.node.find_child("SesConfigurationSet")
        identities = [
            f"identity/{SENDER_EMAIL.split('@', 1)[1]}",
            f"identity/{SENDER_EMAIL}",
            f"configuration-set/{render(synthesized.props(synthesized.logical_id(config_set))['Name'])}",
        ]
        pairs += [("ses:SendEmail", f"arn:{PARTITION}:ses:{REGION}:{ACCOUNT}:{i}") for i in identities]
    if spec.sends_push:
        endpoints = f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:endpoint/*"
        pairs += [("sns:Publish", endpoints), ("sns:GetEndpointAttributes", endpoints)]
    group = ResourceNames(STACK_NAME).deferral_group
    schedules = f"arn:{PARTITION}:scheduler:{REGION}:{ACCOUNT}:schedule/{group}/*"
    if spec.defers_to:
        pairs.append(("scheduler:CreateSchedule", schedules))
        pairs.append(("iam:PassRole", arn_of(synthesized.logical_id(synthesized.stack.deferral_role))))
    if spec.cancels_deferrals:
        pairs += [("scheduler:DeleteSchedule", schedules), ("scheduler:ListSchedules", "*")]
    if spec.signs_links:
        secret = ref(synthesized.logical_id(synthesized.stack.signing_secret))
        pairs += [(a, secret) for a in ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")]
    if spec.seals:
        secret = ref(synthesized.logical_id(synthesized.stack.catalog_key))
        pairs += [(a, secret) for a in ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")]
    if spec.pseudonymizes:
        secret = ref(synthesized.logical_id(synthesized.stack.privacy_key))
        pairs += [(a, secret) for a in ("secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret")]
    for queue in spec.purges:
        pairs += [(a, arn_of(synthesized.queue_id(queue))) for a in CONSUME]
    if spec.reads_feed:  # the one object the deployment names
        feed_object = {
            "Fn::Join": ["", [arn_of(synthesized.logical_id(synthesized.stack.feed_bucket)), f"/{FEED_KEY}"]]
        }
        pairs.append(("s3:GetObject", feed_object))
    return {(a, _key(r)) for a, r in pairs}


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda s: s.key)
def test_each_role_grants_exactly_what_the_topology_declares(
    spec: topology.FunctionSpec, synthesized: Synthesized
) -> None:
    granted, expected = _granted(synthesized, spec.key), _expected(synthesized, spec)
    assert sorted(granted - expected) == [], f"{spec.key} may do more than its spec says"
    assert sorted(expected - granted) == [], f"{spec.key} lacks a grant its spec needs"


def test_the_matrix_tells_the_functions_apart(synthesized: Synthesized) -> None:
    """The check above can fail: e.g. ingest's role would not pass for deliver, nor privacy's for inbox."""
    by_key = topology.FUNCTIONS_BY_KEY
    assert _granted(synthesized, "ingest") != _expected(synthesized, by_key["deliver"])
    assert _granted(synthesized, "privacy") != _expected(synthesized, by_key["inbox"])
    deliver = {a for a, _ in _granted(synthesized, "deliver")}
    assert "ses:SendEmail" in deliver and "dynamodb:DeleteItem" not in deliver
    ingest = _granted(synthesized, "ingest")
    # ingest sends nothing; it may only schedule a segment journey's first wait (shared/journeys/segments.py)
    assert not {a for a, _ in ingest if a.startswith(("ses:", "sns:"))}
    assert {a for a, _ in ingest if a.startswith("scheduler:")} == {"scheduler:CreateSchedule"}
    # ingest reads the erasure key (to recognise erased shoppers) and the catalog key (to seal its
    # announcements), not the link key
    privacy_key = _key(ref(synthesized.logical_id(synthesized.stack.privacy_key)))
    catalog_key = _key(ref(synthesized.logical_id(synthesized.stack.catalog_key)))
    assert {r for a, r in ingest if a.startswith("secretsmanager:")} == {privacy_key, catalog_key}


def test_no_statement_grants_wildcard_actions(synthesized: Synthesized) -> None:
    for lid, statement in synthesized.all_statements():
        if statement.effect != "Allow":
            continue
        assert "NotAction" not in statement.raw and "NotResource" not in statement.raw, lid
        for action in statement.actions:
            assert "*" not in action, f"{lid} allows {action}"


def test_wildcard_resources_only_where_iam_requires_them(synthesized: Synthesized) -> None:
    assert set(RESOURCELESS_ACTIONS) == set(ALLOWED_ON_ANY_RESOURCE)
    on_any = set()
    for lid, statement in synthesized.all_statements():
        if statement.effect == "Allow" and "*" in statement.resources:
            assert set(statement.actions) <= set(ALLOWED_ON_ANY_RESOURCE), (lid, statement.actions)
            on_any |= set(statement.actions)
    assert on_any == set(ALLOWED_ON_ANY_RESOURCE)


def test_schedules_may_invoke_only_the_unqualified_functions_they_start(synthesized: Synthesized) -> None:
    role_ids = {
        s["Target"]["RoleArn"]["Fn::GetAtt"][0]
        for s in synthesized.of_type("AWS::Scheduler::Schedule").values()
    }
    targets = {s.target_function for s in invocations.all_schedules(synthesized.catalog, now=synthesized.now)}
    for role_id in role_ids:
        invoked = {
            _key(r)
            for s in synthesized.policy_statements(role_id)
            if s.allows("lambda:InvokeFunction")
            for r in s.resources
        }
        assert invoked == {_key(arn_of(synthesized.function_id(k))) for k in targets}


def test_service_principals_are_held_to_our_account(synthesized: Synthesized) -> None:
    """The roles that AWS services assume on our behalf only for this account (confused deputy)."""
    for lid, role in synthesized.of_type("AWS::IAM::Role").items():
        for statement in role["AssumeRolePolicyDocument"]["Statement"]:
            if statement["Principal"] == {"Service": "scheduler.amazonaws.com"}:
                assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}, lid
            else:
                assert statement["Principal"] == {"Service": "lambda.amazonaws.com"}, lid


# -- data protection ----------------------------------------------------------------------------------


def test_every_table_is_encrypted_with_point_in_time_recovery_and_kept(synthesized: Synthesized) -> None:
    tables = synthesized.of_type("AWS::DynamoDB::Table")
    assert set(tables) == {synthesized.table_id(t.key) for t in topology.TABLES}
    for lid, table in tables.items():
        assert table["SSESpecification"]["SSEEnabled"] is True, lid
        assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}, lid
        assert synthesized.resources[lid]["DeletionPolicy"] == "Retain", lid


def test_every_queue_is_encrypted_and_refuses_plain_http(synthesized: Synthesized) -> None:
    queues = synthesized.of_type("AWS::SQS::Queue")
    keys = [*(q.key for q in topology.QUEUES), *(q.dlq_key for q in topology.QUEUES), *topology.ASYNC_DLQS]
    assert set(queues) == {synthesized.queue_id(k) for k in keys}
    policies = synthesized.of_type("AWS::SQS::QueuePolicy").values()
    for lid, queue in queues.items():
        assert queue.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in queue, lid
        denies = [
            s
            for p in policies
            if ref(lid) in p["Queues"]
            for s in p["PolicyDocument"]["Statement"]
            if s["Effect"] == "Deny" and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
        ]
        assert denies, f"{lid} accepts requests without TLS"


def test_no_topic_or_bucket_is_left_unencrypted(synthesized: Synthesized) -> None:
    for lid, topic in synthesized.of_type("AWS::SNS::Topic").items():
        assert "KmsMasterKeyId" in topic, lid
    for lid, bucket in synthesized.of_type("AWS::S3::Bucket").items():
        assert "BucketEncryption" in bucket, lid


def test_every_log_group_expires(synthesized: Synthesized) -> None:
    groups = synthesized.of_type("AWS::Logs::LogGroup")
    assert len(groups) >= len(topology.FUNCTIONS) + 1  # the functions' and the HTTP API's access logs
    for lid, group in groups.items():
        assert 1 <= group.get("RetentionInDays", 0) <= 400, lid


def test_the_signing_key_is_readable_only_by_the_functions_that_sign(synthesized: Synthesized) -> None:
    secret = ref(synthesized.logical_id(synthesized.stack.signing_secret))
    readers = {
        spec.key
        for spec in topology.FUNCTIONS
        if any(
            s.allows("secretsmanager:GetSecretValue") and secret in s.resources
            for s in synthesized.function_statements(spec.key)
        )
    }
    assert readers == {f.key for f in topology.FUNCTIONS if f.signs_links} == {"deliver", "preferences"}


def test_the_http_api_logs_each_request_without_personal_data(synthesized: Synthesized) -> None:
    [stage] = synthesized.of_type("AWS::ApiGatewayV2::Stage").values()
    settings = stage["AccessLogSettings"]
    log_group = settings["DestinationArn"]["Fn::GetAtt"][0]
    assert synthesized.props(log_group)["RetentionInDays"] == 30
    fields = json.loads(settings["Format"])
    assert {"$context.requestId", "$context.routeKey", "$context.status"} <= set(fields.values())
    # The path holds message keys, the query string the signed unsubscribe token (user id inside);
    # the source IP and user agent are personal data.
    for variable in (
        "$context.path",
        "$context.identity.sourceIp",
        "$context.identity.userAgent",
        "$request",
    ):
        assert not any(v.startswith(variable) for v in fields.values()), variable
    assert not any("claims" in v for v in fields.values())


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda s: s.key)
def test_deployed_functions_never_log_events(spec: topology.FunctionSpec, synthesized: Synthesized) -> None:
    """Events carry profiles (names, email addresses, push endpoints): no event logging, no DEBUG."""
    env = synthesized.props(synthesized.function_id(spec.key))["Environment"]["Variables"]
    assert env["POWERTOOLS_LOGGER_LOG_EVENT"] == "false"
    assert env["POWERTOOLS_LOG_LEVEL"] == "INFO"


def test_declared_sources_and_push_applications_reach_ingest_and_deliver(synthesized: Synthesized) -> None:
    """The deployer's ``trusted_event_sources`` and ``push_applications`` context (app.py) become
    ingest's and deliver's environment, and push is granted on those applications' endpoints only."""
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra.settings import DeploySettings
    from infra.stack import NudgeStack

    app = f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:app/GCM/shop-android"
    stack = NudgeStack(
        cdk.App(),
        "Declared",
        catalog=synthesized.catalog,
        asset_dir=synthesized.asset_dir,
        now=synthesized.now,
        settings=DeploySettings.from_context(
            {**CONTEXT, "trusted_event_sources": "nudge.app,shop.backend", "push_applications": [app]}.get
        ),
        env=cdk.Environment(account=ACCOUNT, region=REGION),
    )
    template = Template.from_stack(stack).to_json()["Resources"]

    def environment(function_key: str) -> dict[str, Any]:
        function = stack.functions[function_key].node.default_child
        return dict(template[stack.get_logical_id(function)]["Properties"]["Environment"]["Variables"])

    assert environment("ingest")[topology.TRUSTED_SOURCES_ENV] == "nudge.app,shop.backend"
    assert environment("deliver")[topology.PUSH_APPLICATIONS_ENV] == app
    push = [
        {**s, "Action": sorted(s["Action"])}
        for r in template.values()
        if r["Type"] == "AWS::IAM::Policy"
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if "sns:Publish" in s["Action"]
    ]
    assert push == [
        {
            "Action": ["sns:GetEndpointAttributes", "sns:Publish"],
            "Effect": "Allow",
            "Resource": f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:endpoint/GCM/shop-android/*",
        }
    ]


def test_the_erasure_key_is_retained_and_readable_only_where_erasures_are_written_or_honoured(
    synthesized: Synthesized,
) -> None:
    """The privacy table's records are HMACs under this key: losing it would un-erase shoppers."""
    lid = synthesized.logical_id(synthesized.stack.privacy_key)
    assert synthesized.resources[lid]["DeletionPolicy"] == "Retain"
    readers = {
        spec.key
        for spec in topology.FUNCTIONS
        if any(
            s.allows("secretsmanager:GetSecretValue") and ref(lid) in s.resources
            for s in synthesized.function_statements(spec.key)
        )
    }
    assert readers == {"ingest", "deliver", "feedback", "preferences", "privacy"}


def test_only_erasure_reads_and_deletes_from_the_dead_letter_queues_that_hold_shopper_data(
    synthesized: Synthesized,
) -> None:
    for key in topology.DEAD_LETTER_QUEUES:
        arn = _key(arn_of(synthesized.queue_id(key)))
        consumers = {
            spec.key
            for spec in topology.FUNCTIONS
            if ("sqs:DeleteMessage", arn) in _granted(synthesized, spec.key)
        }
        expected = {"privacy"} if key in topology.SHOPPER_DEAD_LETTER_QUEUES else set()
        assert consumers == expected, key
