"""cdk-nag's AwsSolutions checks on the Nudge stack: nothing unsuppressed, and every suppression on its
own resource, with a reason, for a rule we have decided to accept there — and actually needed.

The checks run during the session's one synth (``synth.py``), reporting each suppressed finding too,
so a suppression that no longer matches a finding shows up here as well.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
from synth import Synthesized

from infra import nag

# The rules Nudge accepts, on which kind of resource, and why in general; each suppression carries its
# own reason for its resource. Anything else must be fixed, not suppressed.
ACCEPTED = {
    # X-Ray and scheduler:ListSchedules have no resource-level permissions; one-time schedules and SNS
    # platform endpoints are named at run time (their ARNs are limited to our group / to endpoints).
    "AwsSolutions-IAM5": {"AWS::IAM::Policy"},
    # Python 3.13 moves together with the pinned Powertools layer, not with each new runtime.
    "AwsSolutions-L1": {"AWS::Lambda::Function"},
    # Dead-letter queues of rule targets, Scheduler and Lambda on-failure: nag only knows redrive DLQs.
    "AwsSolutions-SQS3": {"AWS::SQS::Queue"},
    # Rotating the unsubscribe-link key would void links in emails already sent.
    "AwsSolutions-SMG4": {"AWS::SecretsManager::Secret"},
    # The one-click unsubscribe routes are authorized by the signed token in the link, not a JWT.
    "AwsSolutions-APIG4": {"AWS::ApiGatewayV2::Route"},
}
MIN_REASON = 60  # characters: a reason says why for this resource, not "not needed"


def _suppressions(synthesized: Synthesized) -> list[tuple[str, dict[str, Any]]]:
    """(logical id, suppression) for every cdk-nag suppression in the template."""
    return [
        (lid, rule)
        for lid, resource in synthesized.resources.items()
        for rule in resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
    ]


def _paths(synthesized: Synthesized) -> dict[str, str]:
    """Logical id → construct path of every CloudFormation resource in the stack."""
    from aws_cdk import CfnResource

    return {
        synthesized.stack.resolve(c.logical_id): c.node.path
        for c in synthesized.stack.node.find_all()
        if isinstance(c, CfnResource)
    }


def test_the_synth_leaves_no_error_or_warning(synthesized: Synthesized) -> None:
    """Every AwsSolutions finding is fixed or suppressed, and warnings count as much as errors (CDK's
    own warnings, e.g. deprecated APIs, too)."""
    reported = [
        (m.level, m.path, m.text.splitlines()[0])
        for m in synthesized.messages
        if m.level.lower() in ("error", "warning")
    ]
    assert reported == []


def test_the_checks_ran(synthesized: Synthesized) -> None:
    suppressed = [m for m in synthesized.messages if m.text.startswith("CdkNagSuppression")]
    assert suppressed, "cdk-nag reported no suppressed finding: did the AwsSolutions checks run?"


def test_no_suppression_is_stack_wide(synthesized: Synthesized) -> None:
    assert "cdk_nag" not in synthesized.json.get("Metadata", {})


def test_each_suppression_is_an_accepted_rule_on_its_kind_of_resource_with_a_reason(
    synthesized: Synthesized,
) -> None:
    suppressions = _suppressions(synthesized)
    assert suppressions
    for lid, rule in suppressions:
        assert rule["id"] in ACCEPTED, f"{lid}: {rule['id']} is not a rule Nudge accepts; fix it instead"
        assert synthesized.resources[lid]["Type"] in ACCEPTED[rule["id"]], (lid, rule["id"])
        assert len(rule["reason"]) >= MIN_REASON, (lid, rule)
        if rule["id"] == "AwsSolutions-IAM5":
            # Never a blanket IAM5: each names the wildcard resources it accepts, and never an action.
            assert rule.get("applies_to"), (lid, rule)
            assert all(str(a).startswith("Resource::") for a in rule["applies_to"]), (lid, rule)


def test_every_suppression_matches_a_finding(synthesized: Synthesized) -> None:
    """A suppression whose finding went away (the resource was fixed) must go too."""
    paths = _paths(synthesized)
    reported = {(m.path.lstrip("/"), m.text) for m in synthesized.messages if m.level.lower() == "info"}
    for lid, rule in _suppressions(synthesized):
        path = paths[lid]
        findings = [f"[{a}]" for a in rule.get("applies_to", [])] or [""]
        for finding in findings:
            expected = f"CdkNagSuppression{finding}: {rule['id']} was triggered but suppressed."
            assert any(p == path and text.startswith(expected) for p, text in reported), (path, expected)


def test_function_role_suppressions_name_each_resourceless_action(synthesized: Synthesized) -> None:
    """The '*' suppression on a function's policy lists exactly the actions that hold '*' in it."""
    for spec_key in synthesized.stack.functions:
        policy_ids = [
            lid
            for lid, props in synthesized.of_type("AWS::IAM::Policy").items()
            if {"Ref": synthesized.role_id(spec_key)} in props["Roles"]
        ]
        assert len(policy_ids) == 1, spec_key
        [policy_id] = policy_ids
        star_actions = {
            a
            for s in synthesized.policy_statements(synthesized.role_id(spec_key))
            if "*" in s.resources
            for a in s.actions
        }
        [reason] = [
            rule["reason"]
            for lid, rule in _suppressions(synthesized)
            if lid == policy_id and rule.get("applies_to") == ["Resource::*"]
        ]
        assert {a for a in star_actions if a not in reason} == set(), (spec_key, reason)


# -- the checks and the suppression helper on a small stack: they can fail ----------------------------


@pytest.fixture(scope="module")
def small_stack() -> Any:
    """A queue without TLS enforcement and a role with two wildcard resources, one of them accepted."""
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    import aws_cdk as cdk
    from aws_cdk import aws_iam as iam
    from aws_cdk import aws_sqs as sqs

    app = cdk.App()
    stack = cdk.Stack(app, "Small", env=cdk.Environment(account="123456789012", region="eu-west-1"))
    sqs.Queue(stack, "Plain", encryption=sqs.QueueEncryption.SQS_MANAGED)
    role = iam.Role(stack, "Role", assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"))
    accepted = stack.format_arn(service="sns", resource="endpoint/*")
    role.add_to_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=[accepted]))
    role.add_to_policy(iam.PolicyStatement(actions=["sns:Publish"], resources=["arn:aws:sns:*:*:*"]))
    nag.accept(
        role.node.find_child("DefaultPolicy"),
        "IAM5",
        "Only the platform endpoints of this account are accepted in this test stack.",
        resources=[accepted],
    )
    nag.check(app)
    assembly = app.synth()
    messages = assembly.get_stack_artifact(stack.artifact_id).messages
    return {
        "messages": [(str(m.level.value).lower(), m.id, str(m.entry.data)) for m in messages],
        "findings": nag.findings(assembly),
    }


def test_the_checks_report_a_queue_that_allows_plain_http(small_stack: dict[str, Any]) -> None:
    assert any(
        level == "error" and path.startswith("/Small/Plain") and text.startswith("AwsSolutions-SQS4")
        for level, path, text in small_stack["messages"]
    ), small_stack


def test_an_accepted_wildcard_leaves_the_others_reported(small_stack: dict[str, Any]) -> None:
    errors = [
        text.split("]")[0]
        for level, _, text in small_stack["messages"]
        if level == "error" and "IAM5" in text
    ]
    assert errors == ["AwsSolutions-IAM5[Resource::arn:aws:sns:*:*:*"], small_stack


def test_app_py_would_refuse_the_synth_with_these_findings(small_stack: dict[str, Any]) -> None:
    """What app.py prints before failing a synth: one line per unsuppressed finding."""
    assert any("at /Small/Plain/Resource: AwsSolutions-SQS4" in f for f in small_stack["findings"])
    assert any("AwsSolutions-IAM5[Resource::arn:aws:sns:*:*:*]" in f for f in small_stack["findings"])
    assert not any("endpoint/*" in f for f in small_stack["findings"]), small_stack["findings"]
