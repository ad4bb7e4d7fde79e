"""What each function's role may do, derived from its ``FunctionSpec`` (tables and their actions, queues
it sends to, parks in or purges, email, push, one-time schedules, the HMAC keys, the feed object), so a
function's role and its environment cannot drift apart. IAM wildcards it needs are accepted (cdk-nag
IAM5) with why."""

from __future__ import annotations

from typing import Any, Protocol

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs

from infra import nag
from infra.function import NudgeFunction
from infra.schedules import deferral_schedules_arn
from infra.settings import DeploySettings
from shared.deployment import topology
from shared.deployment.naming import ResourceNames
from shared.deployment.topology import push_endpoints_of


class GrantingStack(Protocol):
    """What the grants need from the stack: its resources by topology key, keys, deferral role, names."""

    bus: events.EventBus
    tables: dict[str, dynamodb.Table]
    queues: dict[str, sqs.IQueue]
    deferral_role: iam.Role
    signing_secret: secretsmanager.Secret
    privacy_key: secretsmanager.Secret
    catalog_key: secretsmanager.Secret
    feed_bucket: s3.Bucket
    settings: DeploySettings
    names: ResourceNames


def grant(
    stack: Any, spec: topology.FunctionSpec, built: NudgeFunction, sender: str, config_set: str | None
) -> None:
    """Grant ``built`` what ``spec`` declares. ``stack`` is a :class:`GrantingStack`; ``sender`` and
    ``config_set`` are the SES identity and configuration set it may send with."""
    granting: GrantingStack = stack
    function = built.function
    schedules_arn = deferral_schedules_arn(stack, granting.names)
    for table_key, actions in spec.tables.items():
        table = granting.tables[table_key]
        table.grant(function, *(f"dynamodb:{a}" for a in sorted(actions)))
        if topology.TABLES_BY_KEY[table_key].indexes:
            nag.accept(
                built.policy,
                "IAM5",
                f"CDK grants a table's actions on its indexes too (<table>/index/*); the {table_key} table's "
                "indexes are declared in the topology (keys only), and nothing else matches the wildcard.",
                resources=[f"{table.table_arn}/index/*"],
            )
    for queue_key in spec.sends_to:
        granting.queues[queue_key].grant_send_messages(function)
    if spec.announces:
        granting.bus.grant_put_events_to(function)
    if spec.parks_in:
        granting.queues[spec.parks_in].grant_send_messages(function)
    if spec.sends_email:
        domain = sender.split("@", 1)[1]
        resources = [
            stack.format_arn(service="ses", resource="identity", resource_name=domain),
            stack.format_arn(service="ses", resource="identity", resource_name=sender),
        ]
        if config_set:
            resources.append(
                stack.format_arn(service="ses", resource="configuration-set", resource_name=config_set)
            )
        function.add_to_role_policy(iam.PolicyStatement(actions=["ses:SendEmail"], resources=resources))
    if spec.defers_to:
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["scheduler:CreateSchedule"],
                resources=[schedules_arn],
            )
        )
        granting.deferral_role.grant_pass_role(function.grant_principal)
        nag.accept(
            built.policy,
            "IAM5",
            "One-time schedules are named per job at run time; the grant is limited to Nudge's own "
            "schedule group, and the only role it may pass to them is the deferral role.",
            resources=[schedules_arn],
        )
    if spec.cancels_deferrals:
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["scheduler:DeleteSchedule"], resources=[schedules_arn])
        )
        nag.accept(
            built.policy,
            "IAM5",
            "Erasure deletes the shopper's pending one-time schedules, whose names are only known at run "
            "time; the grant is limited to Nudge's own schedule group.",
            resources=[schedules_arn],
        )
    if spec.signs_links:
        granting.signing_secret.grant_read(function)
    if spec.seals:
        granting.catalog_key.grant_read(function)
    if spec.pseudonymizes:
        granting.privacy_key.grant_read(function)
    for queue_key in spec.purges:
        granting.queues[queue_key].grant_consume_messages(function)
    if spec.reads_feed and granting.settings.catalog_feed_key is not None:
        # the one object the deployment names, nothing else in the bucket (no List: a missing object
        # reads as AccessDenied, which the function reports with the bucket and key)
        function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject"],
                resources=[granting.feed_bucket.arn_for_objects(granting.settings.catalog_feed_key)],
            )
        )
    if spec.sends_push:
        # Declared platform applications narrow the grant to their endpoints; without any, delivery
        # refuses every push endpoint (SnsPushChannel), so the wider grant is never used.
        endpoints = [push_endpoints_of(a) + "*" for a in granting.settings.push_applications] or [
            stack.format_arn(service="sns", resource="endpoint/*")
        ]
        function.add_to_role_policy(
            iam.PolicyStatement(actions=["sns:Publish", "sns:GetEndpointAttributes"], resources=endpoints)
        )
        nag.accept(
            built.policy,
            "IAM5",
            "Push goes to the shopper's own SNS platform endpoint, created by the shop's backend when a "
            "device registers (the push_endpoint trait); only endpoints, never topics, in this account, "
            "and only those of the declared platform applications (context push_applications).",
            resources=endpoints,
        )
