"""EventBridge Scheduler in the stack: the one-time schedules' group and role (deferred and delayed
deliveries, created at run time) and the recurring schedules of ``shared.deployment.invocations``
(batch campaigns and system jobs), each with its retries and the planner's dead-letter queue."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from shared.deployment import invocations, topology
from shared.deployment.naming import ResourceNames


def _scheduler_principal(scope: Construct) -> iam.ServicePrincipal:
    """EventBridge Scheduler, for this account's schedules only (confused deputy)."""
    return iam.ServicePrincipal(
        "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": Stack.of(scope).account}}
    )


def deferral_group(scope: Construct, names: ResourceNames) -> scheduler.CfnScheduleGroup:
    return scheduler.CfnScheduleGroup(scope, "DeferralGroup", name=names.deferral_group)


def deferral_role(scope: Construct, queues: Mapping[str, sqs.IQueue]) -> iam.Role:
    """The role the one-time schedules run as: it may put a job on the queue its function defers to,
    and on that queue's dead-letter queue."""
    role = iam.Role(
        scope,
        "DeferralRole",
        description="EventBridge Scheduler puts deferred delivery jobs on their queue.",
        assumed_by=_scheduler_principal(scope),
    )
    for spec in topology.FUNCTIONS:
        if spec.defers_to:
            queues[spec.defers_to].grant_send_messages(role)
            queues[topology.QUEUES_BY_KEY[spec.defers_to].dlq_key].grant_send_messages(role)
    return role


def deferral_schedules_arn(scope: Construct, names: ResourceNames) -> str:
    """Every schedule of Nudge's own one-time schedule group (their names are known only at run time)."""
    return Stack.of(scope).format_arn(
        service="scheduler", resource="schedule", resource_name=f"{names.deferral_group}/*"
    )


def add_schedules(
    scope: Construct,
    specs: list[invocations.ScheduleSpec],
    functions: Mapping[str, lambda_.IFunction],
    dead_letter_queue: sqs.IQueue,
) -> None:
    """One schedule per spec, invoking its function through one role; failed invocations go to
    ``dead_letter_queue``."""
    role = iam.Role(scope, "SchedulerRole", assumed_by=_scheduler_principal(scope))
    dead_letter_queue.grant_send_messages(role)
    for spec in specs:
        function = functions[spec.target_function]
        # The schedules target the ARN they are given (a SnapStart function's alias, else the function),
        # and may invoke it only (grant_invoke would add ":*", every version).
        role.add_to_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[function.function_arn])
        )
        scheduler.CfnSchedule(
            scope,
            f"Schedule-{spec.key}",
            description=f"Batch campaign {spec.campaign_id}"
            if spec.campaign_id
            else f"Nudge system job: {spec.key}",
            schedule_expression=spec.expression,
            schedule_expression_timezone=spec.timezone,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            state="ENABLED" if spec.enabled else "DISABLED",
            target=scheduler.CfnSchedule.TargetProperty(
                arn=function.function_arn,
                role_arn=role.role_arn,
                input=json.dumps(spec.input_template),
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_retry_attempts=spec.retry_attempts,
                    maximum_event_age_in_seconds=spec.max_event_age_s,
                ),
                dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(
                    arn=dead_letter_queue.queue_arn
                ),
            ),
        )
