"""The Nudge stack: bus, rules, queues, tables, functions and schedules — all from shared.topology."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.function import NudgeFunction
from infra.packaging import build_lambda_asset
from shared import topology
from shared.campaigns import Catalog

DEFAULT_SENDER = "no-reply@example.com"


class NudgeStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        catalog: Catalog,
        asset_dir: Path,
        sender_email: str = DEFAULT_SENDER,
        ses_configuration_set: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.catalog = catalog
        self.bus = events.EventBus(self, "Bus", event_bus_name=topology.BUS_NAME)
        self.tables = {spec.key: self._table(spec) for spec in topology.TABLES}
        self.queues: dict[str, sqs.IQueue] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        for spec in topology.QUEUES:
            self._work_queue(spec)
        for key in topology.ASYNC_DLQS:
            self.queues[key] = self.dead_letter_queues[key] = self._dead_letter_queue(key)

        code = lambda_.Code.from_asset(str(build_lambda_asset(catalog, asset_dir)))
        layer = NudgeFunction.layer_for(self)
        self.functions: dict[str, lambda_.Function] = {}
        for spec in topology.FUNCTIONS:
            env = {name: self._resolve(ref) for name, ref in topology.function_environment(spec).items()}
            if spec.sends_email:
                env["SENDER_EMAIL"] = sender_email
                if ses_configuration_set:
                    env["SES_CONFIGURATION_SET"] = ses_configuration_set
            built = NudgeFunction(
                self,
                f"Fn-{spec.key}",
                spec=spec,
                code=code,
                layer=layer,
                environment=env,
                on_failure=self.queues[spec.on_failure] if spec.on_failure else None,
            )
            self.functions[spec.key] = built.function
            self._grant(spec, built.function, sender_email, ses_configuration_set)

        for queue_spec in topology.QUEUES:
            self.functions[queue_spec.consumer].add_event_source(
                sources.SqsEventSource(
                    self.queues[queue_spec.key],
                    batch_size=queue_spec.batch_size,
                    max_batching_window=Duration.seconds(queue_spec.max_batching_window_s)
                    if queue_spec.max_batching_window_s
                    else None,
                    report_batch_item_failures=True,
                )
            )
        for rule in topology.event_rules(catalog):
            self._rule(rule)
        if topology.campaign_schedules(catalog):
            self._schedules(topology.campaign_schedules(catalog))

    def _resolve(self, reference: str) -> str:
        kind, key = reference.split(":", 1)
        if kind == "table":
            return self.tables[key].table_name
        return self.queues[key].queue_url

    def _table(self, spec: topology.TableSpec) -> dynamodb.Table:
        return dynamodb.Table(
            self,
            f"Table-{spec.key}",
            partition_key=dynamodb.Attribute(name=spec.partition_key, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=spec.sort_key, type=dynamodb.AttributeType.STRING)
            if spec.sort_key
            else None,
            time_to_live_attribute=spec.ttl_attribute,
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
        )

    def _dead_letter_queue(self, key: str) -> sqs.Queue:
        return sqs.Queue(
            self,
            f"Queue-{key}",
            retention_period=Duration.days(topology.DLQ_RETENTION_DAYS),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )

    def _work_queue(self, spec: topology.QueueSpec) -> None:
        dlq = self._dead_letter_queue(spec.dlq_key)
        self.queues[spec.dlq_key] = self.dead_letter_queues[spec.dlq_key] = dlq
        self.queues[spec.key] = sqs.Queue(
            self,
            f"Queue-{spec.key}",
            visibility_timeout=Duration.seconds(spec.visibility_timeout_s),
            retention_period=Duration.days(spec.retention_days),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=spec.max_receive_count),
        )

    def _grant(
        self, spec: topology.FunctionSpec, function: lambda_.Function, sender: str, config_set: str | None
    ) -> None:
        for table_key, access in spec.tables.items():
            table = self.tables[table_key]
            if access == "read":
                table.grant(
                    function, "dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Scan", "dynamodb:Query"
                )
            elif access == "write":
                table.grant(function, "dynamodb:PutItem")
            else:
                table.grant(
                    function,
                    "dynamodb:GetItem",
                    "dynamodb:BatchGetItem",
                    "dynamodb:PutItem",
                    "dynamodb:Query",
                )
        for queue_key in spec.sends_to:
            self.queues[queue_key].grant_send_messages(function)
        if spec.parks_in:
            self.queues[spec.parks_in].grant_send_messages(function)
        if spec.sends_email:
            domain = sender.split("@", 1)[1]
            resources = [
                self.format_arn(service="ses", resource="identity", resource_name=domain),
                self.format_arn(service="ses", resource="identity", resource_name=sender),
            ]
            if config_set:
                resources.append(
                    self.format_arn(service="ses", resource="configuration-set", resource_name=config_set)
                )
            function.add_to_role_policy(iam.PolicyStatement(actions=["ses:SendEmail"], resources=resources))
        if spec.sends_push:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["sns:Publish"],
                    resources=[self.format_arn(service="sns", resource="endpoint/*")],
                )
            )

    def _rule(self, rule: topology.RuleSpec) -> None:
        target: dict[str, Any] = {"id": "target"}
        if rule.target_queue is not None:
            queue = self.queues[rule.target_queue]
            target["arn"] = queue.queue_arn
        else:
            function = self.functions[str(rule.target_function)]
            target.update(
                arn=function.function_arn,
                input_transformer=events.CfnRule.InputTransformerProperty(input_template=rule.input_template),
                retry_policy=events.CfnRule.RetryPolicyProperty(
                    maximum_retry_attempts=8, maximum_event_age_in_seconds=3600
                ),
                dead_letter_config=events.CfnRule.DeadLetterConfigProperty(
                    arn=self.queues[topology.TRIGGER_DLQ_KEY].queue_arn
                ),
            )
        cfn_rule = events.CfnRule(
            self,
            f"Rule-{rule.key}",
            description=rule.description,
            event_bus_name=self.bus.event_bus_name,
            event_pattern=json.loads(json.dumps(rule.pattern)),
            state="ENABLED",
            targets=[events.CfnRule.TargetProperty(**target)],
        )
        principal = iam.ServicePrincipal("events.amazonaws.com")
        if rule.target_queue is not None:
            self.queues[rule.target_queue].add_to_resource_policy(
                iam.PolicyStatement(
                    actions=["sqs:SendMessage"],
                    principals=[principal],
                    resources=[self.queues[rule.target_queue].queue_arn],
                    conditions={"ArnEquals": {"aws:SourceArn": cfn_rule.attr_arn}},
                )
            )
        else:
            self.functions[str(rule.target_function)].add_permission(
                f"Invoke-{rule.key}", principal=principal, source_arn=cfn_rule.attr_arn
            )
            self.queues[topology.TRIGGER_DLQ_KEY].add_to_resource_policy(
                iam.PolicyStatement(
                    actions=["sqs:SendMessage"],
                    principals=[principal],
                    resources=[self.queues[topology.TRIGGER_DLQ_KEY].queue_arn],
                    conditions={"ArnEquals": {"aws:SourceArn": cfn_rule.attr_arn}},
                )
            )

    def _schedules(self, specs: list[topology.ScheduleSpec]) -> None:
        role = iam.Role(
            self,
            "SchedulerRole",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": self.account}}
            ),
        )
        dlq = self.queues[topology.PLANNER_DLQ_KEY]
        dlq.grant_send_messages(role)
        for spec in specs:
            function = self.functions[spec.target_function]
            function.grant_invoke(role)
            scheduler.CfnSchedule(
                self,
                f"Schedule-{spec.key}",
                description=f"Batch campaign {spec.campaign_id}",
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
                    dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(arn=dlq.queue_arn),
                ),
            )
