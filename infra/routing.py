"""Nudge's event routing in CloudFormation: its bus, the rules of ``shared.deployment.topology`` with their
targets, the SES configuration set whose events feed back on the default bus, and the optional
forwarding from Segment's partner event bus."""

from __future__ import annotations

import json
from typing import Any, Protocol

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_ses as ses
from aws_cdk import aws_sqs as sqs

from shared.deployment import invocations, topology
from shared.deployment.naming import OWN_BUS, ResourceNames

PARTNER_FORWARD_KEY = "segment-forward"
# EventBridge's retries for a function target or a forward, before the event goes to the rule's DLQ.
TARGET_RETRY_ATTEMPTS = 8
TARGET_MAX_EVENT_AGE = Duration.hours(1)


class RoutedStack(Protocol):
    """What the rules need from the stack: its bus, queues, and what invokes each function by topology
    key (a SnapStart function's alias, else the function)."""

    bus: events.EventBus
    queues: dict[str, sqs.IQueue]
    invoked: dict[str, lambda_.IFunction]


def own_bus(stack: Stack, names: ResourceNames) -> events.EventBus:
    return events.EventBus(stack, "Bus", event_bus_name=names.bus)


def ses_configuration_set(stack: Stack, names: ResourceNames) -> str:
    """A configuration set whose sending events go to the default bus (bounces, complaints, ...);
    SES tags each with the set's name, which the feedback rule filters on."""
    config_set = ses.CfnConfigurationSet(stack, "SesConfigurationSet", name=names.configuration_set)
    ses.CfnConfigurationSetEventDestination(
        stack,
        "SesEventsToEventBridge",
        configuration_set_name=config_set.ref,
        event_destination=ses.CfnConfigurationSetEventDestination.EventDestinationProperty(
            enabled=True,
            matching_event_types=["send", "delivery", "bounce", "complaint", "open", "click", "reject"],
            event_bridge_destination=ses.CfnConfigurationSetEventDestination.EventBridgeDestinationProperty(
                event_bus_arn=stack.format_arn(
                    service="events", resource="event-bus", resource_name=topology.DEFAULT_BUS
                )
            ),
        ),
    )
    return names.configuration_set


def _allow_rule_to_send(queue: sqs.IQueue, rule: events.CfnRule) -> None:
    queue.add_to_resource_policy(
        iam.PolicyStatement(
            actions=["sqs:SendMessage"],
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            resources=[queue.queue_arn],
            conditions={"ArnEquals": {"aws:SourceArn": rule.attr_arn}},
        )
    )


def add_rule(stack: Any, rule: invocations.RuleSpec) -> events.CfnRule:
    """One topology rule on its bus, with its one target (a queue, or a function with retries and
    a dead-letter queue). ``stack`` is a :class:`RoutedStack`."""
    routed: RoutedStack = stack
    target: dict[str, Any] = {"id": "target"}
    if rule.target_queue is not None:
        target["arn"] = routed.queues[rule.target_queue].queue_arn
    else:
        function = routed.invoked[str(rule.target_function)]
        target.update(
            arn=function.function_arn,
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_retry_attempts=TARGET_RETRY_ATTEMPTS,
                maximum_event_age_in_seconds=int(TARGET_MAX_EVENT_AGE.to_seconds()),
            ),
            dead_letter_config=events.CfnRule.DeadLetterConfigProperty(
                arn=routed.queues[rule.dead_letter_queue].queue_arn
            ),
        )
        if rule.input_template is not None:
            target["input_transformer"] = events.CfnRule.InputTransformerProperty(
                input_template=rule.input_template
            )
    cfn_rule = events.CfnRule(
        stack,
        f"Rule-{rule.key}",
        description=rule.description,
        event_bus_name=routed.bus.event_bus_name if rule.bus == OWN_BUS else rule.bus,
        event_pattern=json.loads(json.dumps(rule.pattern)),
        state="ENABLED",
        targets=[events.CfnRule.TargetProperty(**target)],
    )
    if rule.target_queue is not None:
        _allow_rule_to_send(routed.queues[rule.target_queue], cfn_rule)
    else:
        routed.invoked[str(rule.target_function)].add_permission(
            f"Invoke-{rule.key}",
            principal=iam.ServicePrincipal("events.amazonaws.com"),
            source_arn=cfn_rule.attr_arn,
        )
        _allow_rule_to_send(routed.queues[rule.dead_letter_queue], cfn_rule)
    return cfn_rule


def forward_partner_bus(stack: Any, partner_bus: str, bus: events.EventBus) -> events.CfnRule:
    """A rule on Segment's partner event bus that puts every Segment event on Nudge's bus, through a
    role that may put events on that one bus; events it cannot forward go to the trigger DLQ (which
    holds events to put on the bus again), with EventBridge's error attached."""
    routed: RoutedStack = stack
    role = iam.Role(
        stack,
        "SegmentForwardRole",
        description="EventBridge forwards Segment's events from the partner bus to Nudge's bus.",
        assumed_by=iam.ServicePrincipal(
            "events.amazonaws.com",
            conditions={"StringEquals": {"aws:SourceAccount": Stack.of(stack).account}},
        ),
    )
    bus.grant_put_events_to(role)
    dead_letters = routed.queues[topology.TRIGGER_DLQ_KEY]
    rule = events.CfnRule(
        stack,
        f"Rule-{PARTNER_FORWARD_KEY}",
        description="Segment's EventBridge destination (partner bus) to Nudge's bus.",
        event_bus_name=partner_bus,
        event_pattern=json.loads(json.dumps(invocations.SEGMENT_FORWARD_PATTERN)),
        state="ENABLED",
        targets=[
            events.CfnRule.TargetProperty(
                id="nudge-bus",
                arn=bus.event_bus_arn,
                role_arn=role.role_arn,
                retry_policy=events.CfnRule.RetryPolicyProperty(
                    maximum_retry_attempts=TARGET_RETRY_ATTEMPTS,
                    maximum_event_age_in_seconds=int(TARGET_MAX_EVENT_AGE.to_seconds()),
                ),
                dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=dead_letters.queue_arn),
            )
        ],
    )
    _allow_rule_to_send(dead_letters, rule)
    return rule
