"""The synthesized Nudge stack, held against ``shared.deployment.topology`` and the campaign catalog.

Every expected value comes from the topology, the campaign files or the stack's own inputs, never
from the template itself; the one synth is shared by the whole session (see ``conftest.py``).
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Capture, Match
from synth import (
    ACCOUNT,
    FEED_KEY,
    JWT_AUDIENCE,
    JWT_ISSUER,
    PARTITION,
    REGION,
    ROOT,
    SENDER_EMAIL,
    STACK_NAME,
    Statement,
    Synthesized,
    arn_of,
    ref,
    render,
)

from infra.function import powertools_layer_arn
from shared.campaigns.bundle import load_bundle
from shared.campaigns.loader import Catalog, load_campaign_dir
from shared.campaigns.yaml_lines import CampaignFileError
from shared.deployment import environment, invocations, topology
from shared.deployment.naming import OWN_BUS, ResourceNames
from shared.events.sources import APP_EVENT_SOURCE

DAY_S = 24 * 60 * 60
EVENT_PLACEHOLDER = "<aws.events.event.json>"
SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"
WRITE_ACTIONS = {
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:TransactWriteItems",
    "dynamodb:PartiQLInsert",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
}
ALL_DLQ_KEYS = [*(q.dlq_key for q in topology.QUEUES), *topology.ASYNC_DLQS]
FUNCTION_KEYS = [f.key for f in topology.FUNCTIONS]


def _event_rules(synthesized: Synthesized) -> list[invocations.RuleSpec]:
    return invocations.event_rules(
        synthesized.catalog,
        now=synthesized.now,
        ses_configuration_set=synthesized.stack.ses_configuration_set,
        feed_object=(synthesized.stack.feed_bucket.bucket_name, FEED_KEY),
    )


def _batch_campaigns(catalog: Catalog) -> list[Any]:
    return [c for c in catalog if c.schedule is not None]


def _l4_campaigns(catalog: Catalog) -> list[Any]:
    return [c for c in catalog if c.trigger is not None and c.enabled]


def _rule_campaign_id(rule: dict[str, Any]) -> str | None:
    """The campaign id a rule's input transformer hands to its function (None for a plain target)."""
    transformer = rule["Targets"][0].get("InputTransformer")
    if transformer is None:
        return None
    payload = json.loads(transformer["InputTemplate"].replace(EVENT_PLACEHOLDER, "null"))
    kind = payload.get("kind")  # a catalog campaign's one rule is its L4 rule; a journey has a second
    return str(payload["campaign_id"]) + (f"#{kind}" if kind == invocations.JOURNEY_EVENT else "")


def _rules_by_campaign(synthesized: Synthesized) -> dict[str | None, list[tuple[str, dict[str, Any]]]]:
    found: dict[str | None, list[tuple[str, dict[str, Any]]]] = {}
    for lid, rule in synthesized.of_type("AWS::Events::Rule").items():
        found.setdefault(_rule_campaign_id(rule), []).append((lid, rule))
    return found


def _ingest_rule(synthesized: Synthesized) -> tuple[str, dict[str, Any]]:
    matches = [
        (lid, rule)
        for lid, rule in synthesized.of_type("AWS::Events::Rule").items()
        if rule["EventPattern"] == dict(invocations.MATCH_ALL_EVENTS)
    ]
    assert len(matches) == 1, f"expected exactly one match-all ingest rule, found {[m[0] for m in matches]}"
    return matches[0]


def _schedules_by_campaign(synthesized: Synthesized) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for schedule in synthesized.of_type("AWS::Scheduler::Schedule").values():
        campaign_id = json.loads(schedule["Target"]["Input"]).get("campaign_id")
        if campaign_id is not None:  # system jobs (the scoring run) are tested on their own
            found.setdefault(campaign_id, []).append(schedule)
    return found


# -- event bus and rules ----------------------------------------------------------------------------


def test_the_event_bus_is_named_from_the_stack_name(template: Any, synthesized: Synthesized) -> None:
    bus = ResourceNames(STACK_NAME).bus
    template.has_resource_properties("AWS::Events::EventBus", {"Name": bus})
    assert [b["Name"] for b in synthesized.of_type("AWS::Events::EventBus").values()] == [bus]


def test_every_rule_is_on_the_bus_its_spec_names(synthesized: Synthesized) -> None:
    bus_id = synthesized.logical_id(synthesized.stack.bus)
    rules = synthesized.of_type("AWS::Events::Rule")
    assert rules
    by_description = {r.description: r for r in _event_rules(synthesized)}
    for lid, rule in rules.items():
        spec = by_description[rule["Description"]]
        expected = ref(bus_id) if spec.bus == OWN_BUS else spec.bus
        assert rule["EventBusName"] == expected, lid
        assert rule["State"] == "ENABLED", lid
        assert len(rule["Targets"]) == 1, lid


def test_the_ingest_rule_takes_every_event_into_the_ingest_queue(
    template: Any, synthesized: Synthesized
) -> None:
    lid, rule = _ingest_rule(synthesized)
    queue_id = synthesized.queue_id(invocations.INGEST_RULE.target_queue or "")
    assert invocations.INGEST_RULE.target_queue == topology.INGEST_QUEUE.key
    target = Capture()
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": Match.exact(json.loads(json.dumps(invocations.MATCH_ALL_EVENTS))),
            "Targets": [target],
        },
    )
    assert target.as_object()["Arn"] == arn_of(queue_id)
    # The queue receives the whole envelope, as the local runtime delivers it: no transformer, no path.
    assert set(rule["Targets"][0]) == {"Arn", "Id"}, lid


def test_only_the_ingest_rule_may_send_to_the_ingest_queue(synthesized: Synthesized) -> None:
    rule_id, _ = _ingest_rule(synthesized)
    allows = [
        s for s in synthesized.queue_policy_statements(topology.INGEST_QUEUE.key) if s.effect == "Allow"
    ]
    assert len(allows) == 1, [s.raw for s in allows]
    statement = allows[0]
    assert statement.actions == ("sqs:SendMessage",)
    assert statement.raw["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement.resources == (arn_of(synthesized.queue_id(topology.INGEST_QUEUE.key)),)
    assert statement.raw["Condition"] == {"ArnEquals": {"aws:SourceArn": arn_of(rule_id)}}


def test_one_rule_per_enabled_l4_campaign(synthesized: Synthesized) -> None:
    by_campaign = _rules_by_campaign(synthesized)
    expected = {c.id for c in _l4_campaigns(synthesized.catalog)}
    journeys = {
        f"{c.id}#{invocations.JOURNEY_EVENT}"
        for c in synthesized.catalog
        if c.enabled and invocations.journey_event_pattern(c) is not None
    }
    assert expected, "the catalog should hold at least one enabled L4 campaign"
    # the journeys with a goal (post-purchase has none and waits for no event: no rule, no cost)
    assert journeys == {f"{j}#journey_event" for j in ("at-risk-save", "cart-recovery", "welcome-series")}
    assert set(by_campaign) - {None} == expected | journeys
    for campaign_id in expected | journeys:
        assert len(by_campaign[campaign_id]) == 1, campaign_id
    # The ingest rule, SES feedback and the catalog feed: nothing else targets without a transformer.
    assert len(by_campaign[None]) == 3
    assert len(synthesized.of_type("AWS::Events::Rule")) == len(_event_rules(synthesized))


@pytest.fixture(scope="module")
def l4_rules(synthesized: Synthesized) -> list[tuple[Any, str, dict[str, Any]]]:
    by_campaign = _rules_by_campaign(synthesized)
    return [(c, *by_campaign[c.id][0]) for c in _l4_campaigns(synthesized.catalog)]


def test_l4_rules_match_the_campaign_trigger_pattern(l4_rules: list[Any], template: Any) -> None:
    for campaign, lid, rule in l4_rules:
        expected = json.loads(json.dumps(campaign.trigger.event_pattern()))
        assert rule["EventPattern"] == expected, lid
        template.has_resource_properties("AWS::Events::Rule", {"EventPattern": Match.exact(expected)})


def test_l4_rules_hand_the_trigger_function_the_campaign_and_the_event(
    l4_rules: list[Any], synthesized: Synthesized
) -> None:
    trigger_id = synthesized.function_id("trigger")
    sample = {"version": "0", "id": "e-1", "source": APP_EVENT_SOURCE, "detail": {"event": "x"}}
    specs = {r.campaign_id: r for r in _event_rules(synthesized) if r.kind != invocations.JOURNEY_EVENT}
    for campaign, lid, rule in l4_rules:
        target = rule["Targets"][0]
        assert target["Arn"] == arn_of(trigger_id), lid
        template_text = target["InputTransformer"]["InputTemplate"]
        assert campaign.id in template_text and EVENT_PLACEHOLDER in template_text, template_text
        # EventBridge substitutes the whole event for the placeholder: the function then receives
        # exactly what the local runtime hands it for the same rule.
        delivered = json.loads(template_text.replace(EVENT_PLACEHOLDER, json.dumps(sample)))
        assert delivered == specs[campaign.id].target_input(sample)
        assert "InputPathsMap" not in target["InputTransformer"]


def test_a_catalog_campaigns_rule_takes_the_internal_catalog_events_and_ingests_rule_leaves_them(
    synthesized: Synthesized,
) -> None:
    rules = {r.campaign_id: r for r in _event_rules(synthesized) if r.kind == invocations.CATALOG_CHANGE}
    assert {k: (r.pattern, r.target_function) for k, r in rules.items()} == {
        "price-drop": (
            {
                "source": ["nudge.internal"],
                "detail-type": ["Catalog Price Dropped"],
                "detail": {"catalog": ["price_drop"], "drop_percent": [{"numeric": [">=", 10]}]},
            },
            "trigger",
        ),
        "back-in-stock": (
            {
                "source": ["nudge.internal"],
                "detail-type": ["Catalog Back In Stock"],
                "detail": {"catalog": ["back_in_stock"]},
            },
            "trigger",
        ),
    }
    assert _ingest_rule(synthesized)[1]["EventPattern"] == {"source": [{"anything-but": ["nudge.internal"]}]}


def test_a_journey_rule_routes_its_goal_and_exit_events_to_the_trigger_function_marked(
    synthesized: Synthesized,
) -> None:
    [(lid, rule)] = _rules_by_campaign(synthesized)[f"cart-recovery#{invocations.JOURNEY_EVENT}"]
    assert rule["EventPattern"] == {
        "detail": {"type": ["track"], "event": ["Checkout Started", "Order Completed"]}
    }, lid
    target = rule["Targets"][0]
    assert target["Arn"] == arn_of(synthesized.function_id("trigger"))
    sample = {"version": "0", "id": "e-1", "source": APP_EVENT_SOURCE, "detail": {"event": "x"}}
    delivered = json.loads(
        target["InputTransformer"]["InputTemplate"].replace(EVENT_PLACEHOLDER, json.dumps(sample))
    )
    assert delivered == {"campaign_id": "cart-recovery", "kind": "journey_event", "event": sample}


def test_l4_rule_targets_retry_then_dead_letter_to_the_trigger_dlq(
    l4_rules: list[Any], synthesized: Synthesized
) -> None:
    dlq_id = synthesized.queue_id(topology.TRIGGER_DLQ_KEY)
    dlq_allows = [
        s for s in synthesized.queue_policy_statements(topology.TRIGGER_DLQ_KEY) if s.effect == "Allow"
    ]
    for _campaign, lid, rule in l4_rules:
        target = rule["Targets"][0]
        retry = target["RetryPolicy"]
        assert retry["MaximumRetryAttempts"] >= 1 and 60 <= retry["MaximumEventAgeInSeconds"] <= DAY_S, lid
        assert target["DeadLetterConfig"] == {"Arn": arn_of(dlq_id)}, lid
        # EventBridge can only dead-letter into the queue if the queue's policy lets this rule send.
        assert any(
            s.allows("sqs:SendMessage")
            and s.raw["Principal"] == {"Service": "events.amazonaws.com"}
            and s.raw.get("Condition") == {"ArnEquals": {"aws:SourceArn": arn_of(lid)}}
            for s in dlq_allows
        ), f"trigger DLQ policy does not let {lid} deliver dead letters"


def test_each_l4_rule_may_invoke_the_trigger_function(l4_rules: list[Any], synthesized: Synthesized) -> None:
    trigger_id = synthesized.function_id("trigger")
    permissions = synthesized.of_type("AWS::Lambda::Permission").values()
    for _campaign, lid, _rule in l4_rules:
        granted = [
            p
            for p in permissions
            if p.get("SourceArn") == arn_of(lid) and p["Principal"] == "events.amazonaws.com"
        ]
        assert len(granted) == 1, lid
        assert granted[0]["Action"] == "lambda:InvokeFunction"
        assert granted[0]["FunctionName"] in (arn_of(trigger_id), ref(trigger_id))
    # No permission lets EventBridge invoke the trigger function without naming the rule.
    for permission in permissions:
        if permission["Principal"] == "events.amazonaws.com":
            assert "SourceArn" in permission, permission


# -- queues -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", topology.QUEUES, ids=lambda s: s.key)
def test_work_queue_redrives_to_its_own_dlq(spec: topology.QueueSpec, synthesized: Synthesized) -> None:
    queue = synthesized.props(synthesized.queue_id(spec.key))
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": arn_of(synthesized.queue_id(spec.dlq_key)),
        "maxReceiveCount": spec.max_receive_count,
    }
    assert queue["VisibilityTimeout"] == spec.visibility_timeout_s
    assert queue["MessageRetentionPeriod"] == spec.retention_days * DAY_S
    assert queue["SqsManagedSseEnabled"] is True
    assert "KmsMasterKeyId" not in queue


@pytest.mark.parametrize("key", [*(q.key for q in topology.QUEUES), *topology.DEAD_LETTER_QUEUES])
def test_each_queue_url_is_a_stack_output_for_nudge_dlq(key: str, synthesized: Synthesized) -> None:
    output = synthesized.json["Outputs"][topology.queue_output(key)]
    assert output["Value"] == ref(synthesized.queue_id(key))


def test_every_work_queue_has_a_dlq_of_its_own(synthesized: Synthesized) -> None:
    targets = [
        synthesized.props(synthesized.queue_id(q.key))["RedrivePolicy"]["deadLetterTargetArn"]
        for q in topology.QUEUES
    ]
    assert len({json.dumps(t, sort_keys=True) for t in targets}) == len(topology.QUEUES)


@pytest.mark.parametrize("key", ALL_DLQ_KEYS)
def test_dead_letter_queues_keep_messages_fourteen_days(key: str, synthesized: Synthesized) -> None:
    assert topology.DLQ_RETENTION_DAYS == 14
    dlq = synthesized.props(synthesized.queue_id(key))
    assert dlq["MessageRetentionPeriod"] == 14 * DAY_S
    assert dlq["SqsManagedSseEnabled"] is True
    assert "RedrivePolicy" not in dlq, "a dead-letter queue must not redrive anywhere"


@pytest.mark.parametrize("key", [*(q.key for q in topology.QUEUES), *ALL_DLQ_KEYS])
def test_queue_policies_refuse_requests_without_tls(key: str, synthesized: Synthesized) -> None:
    queue_arn = arn_of(synthesized.queue_id(key))
    denies = [
        s
        for s in synthesized.queue_policy_statements(key)
        if s.effect == "Deny" and s.raw.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert denies, f"{key}: no deny on aws:SecureTransport=false"
    assert any(
        s.raw["Principal"] in ({"AWS": "*"}, "*") and "sqs:*" in s.actions and queue_arn in s.resources
        for s in denies
    ), [s.raw for s in denies]


@pytest.mark.parametrize("spec", topology.QUEUES, ids=lambda s: s.key)
def test_each_work_queue_feeds_its_consumer(spec: topology.QueueSpec, synthesized: Synthesized) -> None:
    queue_arn = arn_of(synthesized.queue_id(spec.key))
    mappings = [
        m
        for m in synthesized.of_type("AWS::Lambda::EventSourceMapping").values()
        if m["EventSourceArn"] == queue_arn
    ]
    assert len(mappings) == 1, f"{spec.key}: {len(mappings)} event source mappings"
    mapping = mappings[0]
    assert mapping["FunctionName"] in (
        ref(synthesized.function_id(spec.consumer)),
        arn_of(synthesized.function_id(spec.consumer)),
    )
    assert mapping["BatchSize"] == spec.batch_size
    assert mapping.get("MaximumBatchingWindowInSeconds", 0) == spec.max_batching_window_s
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping.get("Enabled", True) is True


def test_dead_letter_queues_are_not_consumed(synthesized: Synthesized) -> None:
    sources = {
        json.dumps(m["EventSourceArn"])
        for m in synthesized.of_type("AWS::Lambda::EventSourceMapping").values()
    }
    for key in ALL_DLQ_KEYS:
        assert json.dumps(arn_of(synthesized.queue_id(key))) not in sources, key


@pytest.mark.parametrize("spec", topology.QUEUES, ids=lambda s: s.key)
def test_visibility_timeout_outlasts_the_consumer(spec: topology.QueueSpec, synthesized: Synthesized) -> None:
    """Lambda refuses a mapping whose queue hides messages for less than the function may run; AWS
    recommends six times the function timeout so throttled batches can be retried."""
    consumer = synthesized.props(synthesized.function_id(spec.consumer))
    assert synthesized.props(synthesized.queue_id(spec.key))["VisibilityTimeout"] >= 6 * consumer["Timeout"]


# -- functions ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda s: s.key)
def test_function_configuration(spec: topology.FunctionSpec, template: Any, synthesized: Synthesized) -> None:
    function = synthesized.props(synthesized.function_id(spec.key))
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {
            "Handler": spec.handler,
            "Runtime": "python3.13",
            "Architectures": ["arm64"],
            "MemorySize": spec.memory_mb,
            "Timeout": spec.timeout_s,
            "TracingConfig": {"Mode": "Active"},
        },
    )
    assert function["Runtime"] == "python3.13"
    assert function["Architectures"] == ["arm64"]
    assert function["Handler"] == spec.handler
    assert function["MemorySize"] == spec.memory_mb
    assert function["Timeout"] == spec.timeout_s
    assert function["TracingConfig"] == {"Mode": "Active"}
    assert function["Description"] == spec.description


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda s: s.key)
def test_function_uses_the_powertools_layer(spec: topology.FunctionSpec, synthesized: Synthesized) -> None:
    layers = render(synthesized.props(synthesized.function_id(spec.key))["Layers"])
    assert layers == [powertools_layer_arn(REGION)]
    assert layers[0].startswith(f"arn:{PARTITION}:lambda:{REGION}:017000801446:layer:")
    assert f":{REGION}:" in layers[0] and "arm64" in layers[0] and "python313" in layers[0]


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda s: s.key)
def test_function_handler_exists_in_the_code_asset(
    spec: topology.FunctionSpec, synthesized: Synthesized
) -> None:
    module_name, attribute = spec.handler.rsplit(".", 1)
    source = synthesized.asset_dir / (module_name.replace(".", "/") + ".py")
    assert source.is_file(), source
    defined = {n.name for n in ast.parse(source.read_text()).body if isinstance(n, ast.FunctionDef)}
    assert attribute in defined


def test_functions_share_one_code_asset(synthesized: Synthesized) -> None:
    codes = {
        json.dumps(synthesized.props(synthesized.function_id(k))["Code"], sort_keys=True)
        for k in FUNCTION_KEYS
    }
    assert len(codes) == 1


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda s: s.key)
def test_function_environment_is_exactly_what_the_topology_names(
    spec: topology.FunctionSpec, synthesized: Synthesized
) -> None:
    variables = synthesized.props(synthesized.function_id(spec.key))["Environment"]["Variables"]
    wanted = environment.function_environment(spec)
    ours = {k: v for k, v in variables.items() if not k.startswith("POWERTOOLS_")}
    expected_names = set(wanted) | ({"SENDER_EMAIL", "SES_CONFIGURATION_SET"} if spec.sends_email else set())
    expected_names |= {topology.TRUSTED_SOURCES_ENV} if spec.key == topology.INGEST_QUEUE.consumer else set()
    expected_names |= {topology.PUSH_APPLICATIONS_ENV} if spec.sends_push else set()
    expected_names |= {topology.FEED_KEY_ENV} if spec.reads_feed else set()
    assert set(ours) == expected_names
    stack = synthesized.stack
    for name, reference in wanted.items():
        kind, key = reference.split(":", 1)
        if kind == "table":
            expected: Any = ref(synthesized.table_id(key))
        elif kind == "queue":
            expected = ref(synthesized.queue_id(key))
        elif kind == "queue-arn":
            expected = arn_of(synthesized.queue_id(key))
        elif kind == "schedule-group":
            expected = ResourceNames(STACK_NAME).deferral_group
        elif kind == "role":
            expected = arn_of(synthesized.logical_id(stack.deferral_role))
        elif kind == "secret":
            secret = {
                "signing": stack.signing_secret,
                "privacy": stack.privacy_key,
                "catalog": stack.catalog_key,
            }[key]
            expected = ref(synthesized.logical_id(secret))
        elif kind == "bucket":
            expected = ref(synthesized.logical_id(stack.feed_bucket))
        elif kind == "bus":
            expected = ref(synthesized.logical_id(stack.bus))
        else:
            assert kind == "api-url", reference
            api_id = synthesized.logical_id(stack.api)
            assert key in json.dumps(variables[name]) and api_id in json.dumps(variables[name]), variables[
                name
            ]
            continue
        assert variables[name] == expected, f"{name} should point at {reference}"
    if spec.sends_email:
        assert variables["SENDER_EMAIL"] == SENDER_EMAIL
    if spec.key == topology.INGEST_QUEUE.consumer:  # no trusted_event_sources context: the app's own
        assert variables[topology.TRUSTED_SOURCES_ENV] == APP_EVENT_SOURCE
    if spec.sends_push:  # no push_applications context: none, so no endpoint is pushed to
        assert variables[topology.PUSH_APPLICATIONS_ENV] == ""
    if spec.reads_feed:
        assert variables[topology.FEED_KEY_ENV] == FEED_KEY
    assert variables["POWERTOOLS_SERVICE_NAME"] == f"nudge-{spec.key}"
    assert {k for k in variables if k.startswith("POWERTOOLS_")} >= {"POWERTOOLS_SERVICE_NAME"}


def test_only_the_email_sender_knows_the_sender_address(synthesized: Synthesized) -> None:
    senders = [
        k
        for k in FUNCTION_KEYS
        if "SENDER_EMAIL" in synthesized.props(synthesized.function_id(k))["Environment"]["Variables"]
    ]
    assert senders == [f.key for f in topology.FUNCTIONS if f.sends_email]


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda s: s.key)
def test_function_logs_are_kept_thirty_days(spec: topology.FunctionSpec, synthesized: Synthesized) -> None:
    logging = synthesized.props(synthesized.function_id(spec.key))["LoggingConfig"]
    log_group_id = logging["LogGroup"]["Ref"]
    assert synthesized.resources[log_group_id]["Type"] == "AWS::Logs::LogGroup"
    assert synthesized.props(log_group_id)["RetentionInDays"] == 30


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda s: s.key)
def test_async_functions_retry_then_park_the_invocation(
    spec: topology.FunctionSpec, synthesized: Synthesized
) -> None:
    function_id = synthesized.function_id(spec.key)
    configs = [
        c
        for c in synthesized.of_type("AWS::Lambda::EventInvokeConfig").values()
        if c["FunctionName"] in (ref(function_id), arn_of(function_id))
    ]
    if spec.on_failure is None:
        assert configs == []
        return
    assert len(configs) == 1
    config = configs[0]
    assert config["MaximumRetryAttempts"] == topology.ASYNC_RETRY_ATTEMPTS
    assert config["Qualifier"] == "$LATEST"
    destination = arn_of(synthesized.queue_id(spec.on_failure))
    assert config["DestinationConfig"]["OnFailure"]["Destination"] == destination
    # Lambda delivers on-failure records with the function's own role.
    assert any(
        s.allows("sqs:SendMessage") and destination in s.resources
        for s in synthesized.function_statements(spec.key)
    )


# -- IAM ---------------------------------------------------------------------------------------------


def _actions_on(statements: list[Statement], resource: Any) -> set[str]:
    return {a for s in statements if s.effect == "Allow" and resource in s.resources for a in s.actions}


def _all_actions(statements: list[Statement]) -> set[str]:
    return {a for s in statements if s.effect == "Allow" for a in s.actions}


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda s: s.key)
def test_function_roles_are_assumed_by_lambda_only(
    spec: topology.FunctionSpec, synthesized: Synthesized
) -> None:
    role = synthesized.props(synthesized.role_id(spec.key))
    trust = role["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]
    others = [
        lid
        for k in FUNCTION_KEYS
        if k != spec.key
        for lid in (synthesized.role_id(k),)
        if lid == synthesized.role_id(spec.key)
    ]
    assert others == [], f"{spec.key} shares its role"
    # No AWS managed policy (AWSLambdaBasicExecutionRole would let it write to every log group).
    assert "ManagedPolicyArns" not in role
    log_group = synthesized.props(synthesized.function_id(spec.key))["LoggingConfig"]["LogGroup"]["Ref"]
    [logs] = role["Policies"]
    assert [Statement.of(s) for s in logs["PolicyDocument"]["Statement"]] == [
        Statement.of(
            {
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Effect": "Allow",
                "Resource": arn_of(log_group),
            }
        )
    ]


def test_only_deliver_sends_email_and_only_to_the_sender_identities(synthesized: Synthesized) -> None:
    domain = SENDER_EMAIL.split("@", 1)[1]
    for spec in topology.FUNCTIONS:
        statements = [s for s in synthesized.function_statements(spec.key) if s.allows("ses:SendEmail")]
        if not spec.sends_email:
            assert statements == [], spec.key
            assert not any(
                a.startswith("ses:") for a in _all_actions(synthesized.function_statements(spec.key))
            )
            continue
        resources = {render(r) for s in statements for r in s.resources}
        assert "*" not in resources
        config_set = synthesized.props(
            synthesized.logical_id(synthesized.stack.node.find_child("SesConfigurationSet"))
        )
        assert resources == {
            f"arn:{PARTITION}:ses:{REGION}:{ACCOUNT}:identity/{domain}",
            f"arn:{PARTITION}:ses:{REGION}:{ACCOUNT}:identity/{SENDER_EMAIL}",
            f"arn:{PARTITION}:ses:{REGION}:{ACCOUNT}:configuration-set/{render(config_set['Name'])}",
        }
    assert [f.key for f in topology.FUNCTIONS if f.sends_email] == ["deliver"]


def test_only_deliver_publishes_push_and_only_to_platform_endpoints(synthesized: Synthesized) -> None:
    """And reads each endpoint's attributes first (whose device it is: docs/security.md)."""
    for spec in topology.FUNCTIONS:
        statements = [s for s in synthesized.function_statements(spec.key) if s.allows("sns:Publish")]
        if not spec.sends_push:
            assert statements == [], spec.key
            assert not any(
                a.startswith("sns:") for a in _all_actions(synthesized.function_statements(spec.key))
            )
            continue
        assert {r for s in statements for r in s.resources} == {
            f"arn:{PARTITION}:sns:{REGION}:{ACCOUNT}:endpoint/*"
        }
        assert all(s.allows("sns:GetEndpointAttributes") for s in statements)
    assert [f.key for f in topology.FUNCTIONS if f.sends_push] == ["deliver"]


def test_ingest_writes_profiles_and_conversions_reads_the_send_log_and_touches_nothing_else(
    synthesized: Synthesized,
) -> None:
    statements = synthesized.function_statements("ingest")
    assert "dynamodb:PutItem" in _actions_on(statements, arn_of(synthesized.table_id(topology.PROFILES.key)))
    # attribution: reads the shopper's decisions, writes each conversion once (a conditional put)
    messages = _actions_on(statements, arn_of(synthesized.table_id(topology.MESSAGES.key)))
    assert "dynamodb:Query" in messages and not messages & WRITE_ACTIONS
    conversions = _actions_on(statements, arn_of(synthesized.table_id(topology.CONVERSIONS.key)))
    assert conversions == {"dynamodb:PutItem"}
    for table in (topology.INBOX, topology.LEDGER):
        table_id = synthesized.table_id(table.key)
        assert not _actions_on(statements, arn_of(table_id)), table.key
        assert not [s.raw for s in statements if table_id in json.dumps(s.resources)], table.key
    assert not any(a.split(":")[0] in ("ses", "sns") for a in _all_actions(statements))


def test_only_ingest_writes_conversions(synthesized: Synthesized) -> None:
    table_arn = arn_of(synthesized.table_id(topology.CONVERSIONS.key))
    writers = {
        spec.key
        for spec in topology.FUNCTIONS
        if _actions_on(synthesized.function_statements(spec.key), table_arn) & {"dynamodb:PutItem"}
    }
    assert writers == {"ingest"}


def test_trigger_only_reads_profiles_and_writes_only_journey_instances(synthesized: Synthesized) -> None:
    statements = synthesized.function_statements("trigger")
    profiles = _actions_on(statements, arn_of(synthesized.table_id(topology.PROFILES.key)))
    journeys = _actions_on(statements, arn_of(synthesized.table_id(topology.JOURNEYS.key)))
    assert "dynamodb:GetItem" in profiles
    assert not profiles & WRITE_ACTIONS
    assert journeys == {"dynamodb:GetItem", "dynamodb:PutItem"}
    writes = {a for a in _all_actions(statements) if a.startswith("dynamodb:")} & WRITE_ACTIONS
    assert writes == {"dynamodb:PutItem"}


def test_planner_may_only_describe_the_profile_table_to_size_its_segments(synthesized: Synthesized) -> None:
    statements = synthesized.function_statements("planner")
    assert {a for a in _all_actions(statements) if a.startswith("dynamodb:")} == {"dynamodb:DescribeTable"}
    assert _actions_on(statements, arn_of(synthesized.table_id("profiles"))) >= {"dynamodb:DescribeTable"}
    env = synthesized.props(synthesized.function_id("planner"))["Environment"]["Variables"]
    assert env[topology.PROFILES.env_var] == ref(synthesized.table_id("profiles"))


def index_arns(synthesized: Synthesized, table_key: str) -> dict[str, Any]:
    """The ARN pattern of a table's indexes, as CDK grants it."""
    return {"Fn::Join": ["", [arn_of(synthesized.table_id(table_key)), "/index/*"]]}


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda s: s.key)
def test_table_access_follows_the_topology(spec: topology.FunctionSpec, synthesized: Synthesized) -> None:
    """Exactly the DynamoDB actions the topology lists, table by table (and those are the ones the
    code calls: tests/security/test_grants.py)."""
    statements = synthesized.function_statements(spec.key)
    for table in topology.TABLES:
        granted = _actions_on(statements, arn_of(synthesized.table_id(table.key)))
        assert granted == {f"dynamodb:{a}" for a in spec.tables.get(table.key, ())}, (spec.key, table.key)
    dynamo_resources = {
        json.dumps(r, sort_keys=True)
        for s in statements
        if any(a.startswith("dynamodb:") for a in s.actions)
        for r in s.resources
    }
    allowed = {json.dumps(arn_of(synthesized.table_id(t)), sort_keys=True) for t in spec.tables}
    allowed |= {  # a table's indexes (the interest index): CDK grants the same actions on them
        json.dumps(index_arns(synthesized, t), sort_keys=True)
        for t in spec.tables
        if topology.TABLES_BY_KEY[t].indexes
    }
    assert dynamo_resources <= allowed


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda s: s.key)
def test_queue_access_follows_the_topology(spec: topology.FunctionSpec, synthesized: Synthesized) -> None:
    statements = synthesized.function_statements(spec.key)
    may_send = set(spec.sends_to) | {k for k in (spec.parks_in, spec.on_failure) if k}
    consumes = {q.key for q in topology.QUEUES if q.consumer == spec.key} | set(spec.purges)
    for key in [*(q.key for q in topology.QUEUES), *ALL_DLQ_KEYS]:
        granted = _actions_on(statements, arn_of(synthesized.queue_id(key)))
        assert ("sqs:SendMessage" in granted) == (key in may_send), f"{spec.key} → {key}: {sorted(granted)}"
        assert ("sqs:ReceiveMessage" in granted) == (key in consumes), (
            f"{spec.key} ← {key}: {sorted(granted)}"
        )
        assert ("sqs:DeleteMessage" in granted) == (key in consumes), f"{spec.key} ← {key}: {sorted(granted)}"


# The whole permission matrix, wildcards and data protection: test_security.py.


# -- what the deployed code reads from its environment ------------------------------------------------

_SETTINGS_ENV = (
    *(t.env_var for t in topology.TABLES),
    *(q.env_var for q in topology.QUEUES),
    "DEAD_LETTER_QUEUE_URL",
    "SENDER_EMAIL",
    "SES_CONFIGURATION_SET",
    "AUDIENCE_SEGMENTS",
    "CAMPAIGN_CATALOG_DIR",
)


def _walk(value: Any, seen: set[int] | None = None) -> Iterator[Any]:
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    yield value
    if isinstance(value, dict):
        for item in value.values():
            yield from _walk(item, seen)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _walk(item, seen)
    elif type(value).__module__.startswith(("shared.", "functions.")) and hasattr(value, "__dict__"):
        for item in vars(value).values():
            yield from _walk(item, seen)


@pytest.fixture
def fresh_wiring() -> Iterator[Any]:
    from shared.platform import wiring

    wiring._lambda_wiring.cache_clear()
    yield wiring
    wiring._lambda_wiring.cache_clear()


@pytest.mark.parametrize("spec", [pytest.param(f, id=f.key) for f in topology.FUNCTIONS])
def test_function_cold_starts_with_the_deployed_environment_and_role(
    spec: topology.FunctionSpec, synthesized: Synthesized, fresh_wiring: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Build each handler's production ports from the environment the template gives the function,
    then check its role reaches every queue and table those ports use."""
    for name in _SETTINGS_ENV:
        monkeypatch.delenv(name, raising=False)
    variables = synthesized.props(synthesized.function_id(spec.key))["Environment"]["Variables"]
    for name, value in variables.items():
        monkeypatch.setenv(
            name, f"ref:{value['Ref']}" if isinstance(value, dict) and "Ref" in value else str(render(value))
        )
    monkeypatch.setenv("CAMPAIGN_CATALOG_DIR", str(synthesized.asset_dir / "campaigns"))

    module = importlib.import_module(spec.handler.rsplit(".", 1)[0])
    factories = [
        f for name, f in vars(module).items() if name.startswith("default_") and hasattr(f, "cache_clear")
    ]
    assert len(factories) == 1, f"{module.__name__}: expected one cached default_* ports factory"
    factory = factories[0]
    factory.cache_clear()
    try:
        ports = factory()
    finally:
        factory.cache_clear()

    from shared.adapters.sqs import SqsDeadLetters, SqsQueue

    statements = synthesized.function_statements(spec.key)
    used = list(_walk(ports))
    for queue in (p for p in used if isinstance(p, SqsQueue | SqsDeadLetters)):
        logical = queue.url.removeprefix("ref:")
        assert "sqs:SendMessage" in _actions_on(statements, arn_of(logical)), (
            f"{spec.key} cannot send to {logical}"
        )
    for store in (
        p for p in used if type(p).__module__.startswith("shared.adapters.dynamo.") and hasattr(p, "_table")
    ):
        logical = store._table.removeprefix("ref:")
        assert _actions_on(statements, arn_of(logical)), f"{spec.key} has no access to table {logical}"


# -- tables -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("spec", topology.TABLES, ids=lambda s: s.key)
def test_table_matches_its_spec(spec: topology.TableSpec, template: Any, synthesized: Synthesized) -> None:
    table = synthesized.props(synthesized.table_id(spec.key))
    keys = [(spec.partition_key, "HASH")] + ([(spec.sort_key, "RANGE")] if spec.sort_key else [])
    key_schema = [{"AttributeName": n, "KeyType": t} for n, t in keys]
    assert table["KeySchema"] == key_schema
    indexed = [(i.partition_key, "S") for i in spec.indexes] + [(i.sort_key, "N") for i in spec.indexes]
    assert sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
        (
            {"AttributeName": n, "AttributeType": t}
            for n, t in {**{n: "S" for n, _ in keys}, **dict(indexed)}.items()
        ),
        key=lambda a: a["AttributeName"],
    )
    assert table.get("GlobalSecondaryIndexes", []) == [
        {
            "IndexName": i.name,
            "KeySchema": [
                {"AttributeName": i.partition_key, "KeyType": "HASH"},
                {"AttributeName": i.sort_key, "KeyType": "RANGE"},
            ],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }
        for i in spec.indexes
    ]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["SSESpecification"]["SSEEnabled"] is True
    if spec.ttl_attribute:
        assert table["TimeToLiveSpecification"] == {"AttributeName": spec.ttl_attribute, "Enabled": True}
    else:
        assert "TimeToLiveSpecification" not in table
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": key_schema,
            "TimeToLiveSpecification": Match.object_equals(
                {"AttributeName": spec.ttl_attribute, "Enabled": True}
            )
            if spec.ttl_attribute
            else Match.absent(),
        },
    )
    assert synthesized.resources[synthesized.table_id(spec.key)]["DeletionPolicy"] == "Retain"


# -- schedules ----------------------------------------------------------------------------------------


def test_one_schedule_per_batch_campaign(synthesized: Synthesized) -> None:
    by_campaign = _schedules_by_campaign(synthesized)
    assert _batch_campaigns(synthesized.catalog), "the catalog should hold at least one batch campaign"
    assert sorted(by_campaign) == sorted(c.id for c in _batch_campaigns(synthesized.catalog))
    assert all(len(found) == 1 for found in by_campaign.values()), by_campaign


@pytest.fixture(scope="module")
def schedules(synthesized: Synthesized) -> list[tuple[Any, invocations.ScheduleSpec, dict[str, Any]]]:
    by_campaign = _schedules_by_campaign(synthesized)
    specs = {
        s.campaign_id: s for s in invocations.campaign_schedules(synthesized.catalog, now=synthesized.now)
    }
    return [(c, specs[c.id], by_campaign[c.id][0]) for c in _batch_campaigns(synthesized.catalog)]


def test_schedules_follow_the_campaign_files(schedules: list[Any], template: Any) -> None:
    for campaign, spec, schedule in schedules:
        assert schedule["ScheduleExpression"] == campaign.schedule.expression
        assert schedule["ScheduleExpressionTimezone"] == campaign.schedule.timezone
        assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
        assert schedule["State"] == ("ENABLED" if campaign.enabled else "DISABLED")
        assert (spec.expression, spec.timezone) == (campaign.schedule.expression, campaign.schedule.timezone)
        template.has_resource_properties(
            "AWS::Scheduler::Schedule",
            {
                "ScheduleExpression": campaign.schedule.expression,
                "ScheduleExpressionTimezone": campaign.schedule.timezone,
                "Target": Match.object_like({"Input": Match.serialized_json(spec.input_template)}),
            },
        )


def test_every_kind_of_schedule_is_deployed_as_written_with_its_time_zone(schedules: list[Any]) -> None:
    """Weekly, monthly and yearly cron, each in its own zone, straight from the files (the shipped
    examples hold no one-time at(): it would expire; tests/unit/test_expiry.py plans those)."""
    deployed = {c.id: (s["ScheduleExpression"], s["ScheduleExpressionTimezone"]) for c, _spec, s in schedules}
    assert deployed["weekend-sale-sea"] == ("cron(0 10 ? * SAT *)", "Asia/Jakarta")
    assert deployed["payday-sale-india"] == ("cron(30 12 1 * ? *)", "Asia/Kolkata")
    assert deployed["vip-early-access"] == ("cron(0 18 ? 11 5#4 *)", "America/New_York")
    kinds = {expression.split("(", 1)[0] for expression, _zone in deployed.values()}
    assert kinds == {"cron"}


def test_schedules_start_the_planner_with_the_occurrence_time(
    schedules: list[Any], synthesized: Synthesized
) -> None:
    planner_id = synthesized.function_id("planner")
    for campaign, spec, schedule in schedules:
        target = schedule["Target"]
        assert spec.target_function == "planner"
        assert target["Arn"] == arn_of(planner_id)
        assert json.loads(target["Input"]) == spec.input_template
        assert SCHEDULED_TIME in target["Input"] and campaign.id in target["Input"]


def test_schedules_retry_then_dead_letter_to_the_planner_dlq(
    schedules: list[Any], synthesized: Synthesized
) -> None:
    dlq_arn = arn_of(synthesized.queue_id(topology.PLANNER_DLQ_KEY))
    for _campaign, spec, schedule in schedules:
        target = schedule["Target"]
        assert target["RetryPolicy"] == {
            "MaximumRetryAttempts": spec.retry_attempts,
            "MaximumEventAgeInSeconds": spec.max_event_age_s,
        }
        assert target["DeadLetterConfig"] == {"Arn": dlq_arn}


def test_the_scheduler_role_may_invoke_the_planner_and_park_dead_letters(
    schedules: list[Any], synthesized: Synthesized
) -> None:
    planner_arn = arn_of(synthesized.function_id("planner"))
    dlq_arn = arn_of(synthesized.queue_id(topology.PLANNER_DLQ_KEY))
    role_ids = {schedule["Target"]["RoleArn"]["Fn::GetAtt"][0] for _c, _s, schedule in schedules}
    assert len(role_ids) == 1
    role_id = role_ids.pop()
    trust = synthesized.props(role_id)["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "scheduler.amazonaws.com"}]
    assert trust[0]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    statements = synthesized.policy_statements(role_id)
    assert "lambda:InvokeFunction" in _actions_on(statements, planner_arn)
    assert "sqs:SendMessage" in _actions_on(statements, dlq_arn)
    invokable = {
        json.dumps(r, sort_keys=True)
        for s in statements
        if s.allows("lambda:InvokeFunction")
        for r in s.resources
    }
    for key in FUNCTION_KEYS:
        if key not in ("planner", "score_planner", "catalog_feed"):
            assert json.dumps(arn_of(synthesized.function_id(key)), sort_keys=True) not in invokable, key


# -- the code asset -----------------------------------------------------------------------------------


def test_the_asset_bundles_the_catalog(synthesized: Synthesized) -> None:
    bundled = load_bundle(synthesized.asset_dir / "campaigns")
    as_json = sorted((c.model_dump(mode="json") for c in bundled), key=lambda c: c["id"])
    expected = sorted((c.model_dump(mode="json") for c in synthesized.catalog), key=lambda c: c["id"])
    assert as_json == expected
    files = [p.stem for p in (ROOT / "campaigns").glob("*.y*ml") if not p.name.startswith("_")]
    assert sorted(c.id for c in bundled) == sorted(files)
    assert bundled.policy == synthesized.catalog.policy
    assert bundled.vocabulary == synthesized.catalog.vocabulary


def test_the_bundled_catalog_carries_the_template_files_contents(synthesized: Synthesized) -> None:
    """Lambdas read no template files: the loader inlined them into campaigns.json at synth."""
    bundled = load_bundle(synthesized.asset_dir / "campaigns")
    from_files = [c for c in bundled if c.channels.email and c.channels.email.html_file]
    assert from_files, "at least one shipped campaign should use html_file"
    for campaign in from_files:
        email = campaign.channels.email
        assert email is not None and email.html_file is not None
        assert email.html == (ROOT / "campaigns" / email.html_file).read_text()
    assert not list((synthesized.asset_dir / "campaigns").glob("**/*.html"))


def test_the_asset_holds_our_code_and_the_vendored_libraries(synthesized: Synthesized) -> None:
    asset = synthesized.asset_dir
    for directory in ("shared", "functions", "jinja2", "markupsafe", "campaigns"):
        assert (asset / directory).is_dir(), directory
    assert (asset / "shared" / "deployment" / "topology.py").is_file()
    assert (asset / "jinja2" / "__init__.py").is_file() and (asset / "markupsafe" / "__init__.py").is_file()


def test_the_asset_has_no_native_code_and_only_the_runtimes_bytecode(synthesized: Synthesized) -> None:
    """Pure Python for arm64, and beside each module its python3.13 bytecode (infra/bytecode.py)."""
    asset = synthesized.asset_dir
    assert [str(p) for p in asset.rglob("*.so")] == []
    assert [str(p) for p in asset.rglob("*.pyd")] == []
    compiled = {p.relative_to(asset) for p in asset.rglob("*.pyc")}
    expected = {
        p.relative_to(asset).parent / "__pycache__" / f"{p.stem}.cpython-313.pyc" for p in asset.rglob("*.py")
    }
    assert compiled == expected


# Module-level imports must come from the asset, the Lambda runtime (boto3) or the Powertools layer.
RUNTIME_PROVIDED = {
    "boto3",
    "botocore",
    "aws_lambda_powertools",
    "pydantic",
    "pydantic_core",
    "typing_extensions",
}


def test_asset_modules_import_only_what_lambda_provides(synthesized: Synthesized) -> None:
    asset = synthesized.asset_dir
    bundled = {p.name for p in asset.iterdir() if p.is_dir()}
    problems = []
    for path in [*(asset / "shared").rglob("*.py"), *(asset / "functions").rglob("*.py")]:
        for node in ast.parse(path.read_text()).body:  # top level only: lazy imports are allowed
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else (
                    [node.module]
                    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                    else []
                )
            )
            for name in names:
                top = name.split(".")[0]
                if top not in sys.stdlib_module_names and top not in bundled | RUNTIME_PROVIDED:
                    problems.append(f"{path.relative_to(asset)} imports {name}")
    assert problems == []


# -- cfn-lint and campaign validation -------------------------------------------------------------------


def test_cfn_lint_reports_no_errors(template_file: Path) -> None:
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--regions", REGION, "--", str(template_file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode & 2 == 0, (
        f"cfn-lint errors (rc={result.returncode}):\n{result.stdout}{result.stderr}"
    )
    # 1 is cfn-lint's own failure (it did not lint at all); 2 errors, 4 warnings, 8 informational
    assert result.returncode != 1 and result.returncode < 16, (
        f"cfn-lint failed to run (rc={result.returncode}):\n{result.stderr}"
    )


BAD_CAMPAIGN = """\
id: broken-campaign
name: Broken
level: L1
schedule:
  expression: cron(0 10 ? * SAT *)
priority: 500
channels:
  in_app:
    title: Hi
    body: There
"""


def test_an_invalid_campaign_file_is_reported_with_file_and_line(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "campaigns", tmp_path, dirs_exist_ok=True)
    bad = tmp_path / "broken.yaml"
    bad.write_text(BAD_CAMPAIGN)
    priority_line = BAD_CAMPAIGN.splitlines().index("priority: 500") + 1
    with pytest.raises(CampaignFileError) as raised:
        load_campaign_dir(tmp_path)
    assert f"{bad}:{priority_line}: priority" in str(raised.value)
    assert all(p.startswith(f"{bad}:") for p in raised.value.problems)


def test_app_refuses_to_synthesize_invalid_campaigns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``app.py`` exits with the validation message before building any stack."""
    (tmp_path / "campaigns").mkdir()
    bad = tmp_path / "campaigns" / "broken.yaml"
    bad.write_text(BAD_CAMPAIGN)
    spec = importlib.util.spec_from_file_location("nudge_cdk_app", ROOT / "app.py")
    assert spec is not None and spec.loader is not None
    app = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(app)
    monkeypatch.setattr(app, "ROOT", tmp_path)
    with pytest.raises(SystemExit) as exited:
        app.main([])
    message = str(exited.value.code)
    assert message.startswith("campaign files are invalid:")
    assert f"{bad}:{BAD_CAMPAIGN.splitlines().index('priority: 500') + 1}: priority" in message
    assert not (tmp_path / "build").exists(), "no stack (and no asset) is built from invalid campaigns"


# -- one-time schedules (quiet-hours deferrals, trigger delays) ---------------------------------------


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda s: s.key)
def test_only_deferring_functions_create_schedules_and_pass_only_the_deferral_role(
    spec: topology.FunctionSpec, synthesized: Synthesized
) -> None:
    statements = synthesized.function_statements(spec.key)
    creates = [s for s in statements if s.allows("scheduler:CreateSchedule")]
    passes = [s for s in statements if s.allows("iam:PassRole")]
    if spec.defers_to is None:
        assert creates == [] and passes == [], spec.key
        return
    schedules = {render(r) for s in creates for r in s.resources}
    group = ResourceNames(STACK_NAME).deferral_group
    assert schedules == {f"arn:{PARTITION}:scheduler:{REGION}:{ACCOUNT}:schedule/{group}/*"}
    role_arn = arn_of(synthesized.logical_id(synthesized.stack.deferral_role))
    assert [r for s in passes for r in s.resources] == [role_arn]


def test_the_deferral_role_is_for_scheduler_and_sends_only_to_the_deferred_queues(
    synthesized: Synthesized,
) -> None:
    role_id = synthesized.logical_id(synthesized.stack.deferral_role)
    trust = synthesized.props(role_id)["AssumeRolePolicyDocument"]["Statement"]
    assert [s["Principal"] for s in trust] == [{"Service": "scheduler.amazonaws.com"}]
    statements = synthesized.policy_statements(role_id)
    targets = {topology.DELIVERY_QUEUE.key, topology.DELIVERY_QUEUE.dlq_key}
    allowed = {json.dumps(arn_of(synthesized.queue_id(k)), sort_keys=True) for k in targets}
    sent_to = {
        json.dumps(r, sort_keys=True) for s in statements if s.allows("sqs:SendMessage") for r in s.resources
    }
    assert sent_to == allowed
    assert {a for s in statements for a in s.actions if not a.startswith(("sqs:", "kms:"))} == set()
    [group] = synthesized.of_type("AWS::Scheduler::ScheduleGroup").values()
    assert group["Name"] == ResourceNames(STACK_NAME).deferral_group


def test_l4_rules_carry_the_where_conditions_as_content_filters(synthesized: Synthesized) -> None:
    checkout = synthesized.catalog.get("high-value-checkout")
    assert checkout is not None and checkout.trigger is not None
    by_campaign = _rules_by_campaign(synthesized)
    [(_, rule)] = by_campaign["high-value-checkout"]
    assert rule["EventPattern"]["detail"]["properties"] == {"total": [{"numeric": [">", 150]}]}


# -- the scoring run ----------------------------------------------------------------------------------


def test_the_daily_scoring_schedule_starts_the_score_planner(synthesized: Synthesized) -> None:
    spec = invocations.SCORING_SCHEDULE
    found = [
        s
        for s in synthesized.of_type("AWS::Scheduler::Schedule").values()
        if json.loads(s["Target"]["Input"]) == {"run": SCHEDULED_TIME}
        and s["Target"]["Arn"] == arn_of(synthesized.function_id("score_planner"))
    ]
    assert len(found) == 1
    schedule = found[0]
    assert (schedule["ScheduleExpression"], schedule["ScheduleExpressionTimezone"]) == (
        spec.expression,
        spec.timezone,
    )
    assert schedule["State"] == "ENABLED"
    assert schedule["Target"]["Arn"] == arn_of(synthesized.function_id("score_planner"))
    assert schedule["Target"]["DeadLetterConfig"] == {
        "Arn": arn_of(synthesized.queue_id(topology.PLANNER_DLQ_KEY))
    }


def test_the_scorer_updates_profiles_but_never_replaces_them(synthesized: Synthesized) -> None:
    statements = synthesized.function_statements("scorer")
    profiles = _actions_on(statements, arn_of(synthesized.table_id(topology.PROFILES.key)))
    assert "dynamodb:UpdateItem" in profiles and "dynamodb:Scan" in profiles
    assert not profiles & (WRITE_ACTIONS - {"dynamodb:UpdateItem"}), sorted(profiles)
    models = _actions_on(statements, arn_of(synthesized.table_id(topology.MODELS.key)))
    assert {"dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem"} <= models
    assert not _actions_on(statements, arn_of(synthesized.table_id(topology.MESSAGES.key)))
    assert not any(a.split(":")[0] in ("ses", "sns") for a in _all_actions(statements))


# -- the HTTP API ---------------------------------------------------------------------------------------


def test_http_routes_are_the_topologys_with_the_jwt_authorizer_where_required(
    synthesized: Synthesized,
) -> None:
    routes = {r["RouteKey"]: r for r in synthesized.of_type("AWS::ApiGatewayV2::Route").values()}
    expected = {f"{r.method} {r.path}": r for r in topology.HTTP_ROUTES}
    assert set(routes) == set(expected)
    [(authorizer_id, authorizer)] = synthesized.of_type("AWS::ApiGatewayV2::Authorizer").items()
    assert authorizer["AuthorizerType"] == "JWT"
    assert authorizer["IdentitySource"] == ["$request.header.Authorization"]
    issuer, audience = authorizer["JwtConfiguration"]["Issuer"], authorizer["JwtConfiguration"]["Audience"]
    assert issuer == JWT_ISSUER and audience == [JWT_AUDIENCE]
    assert "Parameters" not in synthesized.json or not {"JwtIssuer", "JwtAudience"} & set(
        synthesized.json["Parameters"]
    )
    integrations = synthesized.of_type("AWS::ApiGatewayV2::Integration")
    for key, route in routes.items():
        spec = expected[key]
        if spec.authorized:
            assert route["AuthorizationType"] == "JWT" and route["AuthorizerId"] == ref(authorizer_id), key
        else:
            assert route.get("AuthorizationType", "NONE") == "NONE", key
        integration_id = route["Target"]["Fn::Join"][1][1]["Ref"]
        uri = json.dumps(integrations[integration_id]["IntegrationUri"])
        assert synthesized.logical_id(synthesized.stack.invoked[spec.function]) in uri, key


def test_the_ses_feedback_rule_is_on_the_default_bus_and_invokes_feedback(synthesized: Synthesized) -> None:
    [rule] = [
        r
        for r in synthesized.of_type("AWS::Events::Rule").values()
        if r["EventBusName"] == "default" and r["EventPattern"]["source"] == ["aws.ses"]
    ]
    assert (
        rule["EventPattern"]
        == invocations.ses_feedback_rule(ResourceNames(STACK_NAME).configuration_set).pattern
    )
    assert rule["EventPattern"]["detail"] == {
        "mail": {"tags": {"ses:configuration-set": [ResourceNames(STACK_NAME).configuration_set]}}
    }
    [target] = rule["Targets"]
    assert target["Arn"] == arn_of(synthesized.function_id("feedback"))
    assert target["DeadLetterConfig"]["Arn"] == arn_of(synthesized.queue_id(topology.FEEDBACK_DLQ_KEY))
    destination = next(iter(synthesized.of_type("AWS::SES::ConfigurationSetEventDestination").values()))
    assert {"bounce", "complaint"} <= set(destination["EventDestination"]["MatchingEventTypes"])
