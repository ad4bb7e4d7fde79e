"""The Nudge stack: bus, rules, queues, tables, functions and schedules — all from
shared.deployment.topology."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, RemovalPolicy, Stack
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import nag, routing
from infra.function import LOG_RETENTION, NudgeFunction
from infra.monitoring import OperationsView
from infra.packaging import build_lambda_asset
from infra.settings import DeploySettings
from infra.throttling import api_throttling
from shared.campaigns.loader import Catalog
from shared.deployment import invocations, topology
from shared.deployment.naming import ResourceNames
from shared.deployment.topology import push_endpoints_of


class NudgeStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        catalog: Catalog,
        asset_dir: Path,
        now: datetime,
        settings: DeploySettings,
        **kwargs: Any,
    ) -> None:
        """``settings`` come checked from the context (infra.settings); what depends on the region
        (the Powertools layer, SES configuration sets) is checked here, before anything is built."""
        super().__init__(scope, construct_id, **kwargs)
        self.catalog = catalog
        self.settings = settings
        self.names = ResourceNames(self.stack_name)
        # The deploy time: campaigns expired by then get no schedule and no rule (shared.campaigns.expiry).
        self.deployed_at = now
        settings.check_region(self.region)
        layer = NudgeFunction.layer_for(self, self.region, settings.powertools_layer_arn)
        self.bus = routing.own_bus(self, self.names)
        self.tables = {spec.key: self._table(spec) for spec in topology.TABLES}
        self.queues: dict[str, sqs.IQueue] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        for spec in topology.QUEUES:
            self._work_queue(spec)
        for key in topology.ASYNC_DLQS:
            self.queues[key] = self.dead_letter_queues[key] = self._dead_letter_queue(key)
            nag.accept(
                self.queues[key],
                "SQS3",
                "This queue is itself a dead-letter queue (of EventBridge rule targets, Lambda on-failure "
                "destinations or Scheduler targets); cdk-nag only recognises DLQs named in redrive policies.",
            )

        self._delivery_guards()
        ses_configuration_set = settings.ses_configuration_set
        if ses_configuration_set is None and settings.ses_feedback:
            ses_configuration_set = routing.ses_configuration_set(self, self.names)
        self.ses_configuration_set = ses_configuration_set
        self.api = apigw.HttpApi(
            self,
            "HttpApi",
            api_name=self.names.of("api"),
            description="Nudge: the in-app inbox, erasure and one-click unsubscribe.",
            cors_preflight=apigw.CorsPreflightOptions(
                allow_origins=["*"],
                allow_methods=[
                    apigw.CorsHttpMethod.GET,
                    apigw.CorsHttpMethod.POST,
                    apigw.CorsHttpMethod.DELETE,
                ],
                allow_headers=["authorization", "content-type"],
            ),
        )
        self._access_logs(self.api)

        code = lambda_.Code.from_asset(str(build_lambda_asset(catalog, asset_dir)))
        self.functions: dict[str, lambda_.Function] = {}
        for spec in topology.FUNCTIONS:
            env = {name: self._resolve(ref) for name, ref in topology.function_environment(spec).items()}
            env |= topology.deployment_environment(
                spec,
                sender_email=settings.sender_email,
                ses_configuration_set=ses_configuration_set,
                trusted_event_sources=tuple(settings.trusted_event_sources),
                push_applications=tuple(settings.push_applications),
            )
            built = NudgeFunction(
                self,
                f"Fn-{spec.key}",
                spec=spec,
                code=code,
                layer=layer,
                environment=env,
                metric_namespace=self.names.metric_namespace,
                on_failure=self.queues[spec.on_failure] if spec.on_failure else None,
                resourceless_actions=("scheduler:ListSchedules",) if spec.cancels_deferrals else (),
            )
            self.functions[spec.key] = built.function
            self._grant(spec, built, settings.sender_email, ses_configuration_set)

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
        for rule in invocations.event_rules(catalog, now=now, ses_configuration_set=ses_configuration_set):
            routing.add_rule(self, rule)
        if settings.segment_partner_bus:
            self.segment_forwarding = routing.forward_partner_bus(
                self, settings.segment_partner_bus, self.bus
            )
        self._schedules(invocations.all_schedules(catalog, now=now))
        self._http_routes()
        self.operations = OperationsView(
            self,
            "Operations",
            names=self.names,
            functions=self.functions,
            dead_letter_queues=self.dead_letter_queues,
        )

    def _resolve(self, reference: str) -> str:
        kind, key = reference.split(":", 1)
        if kind == "table":
            return self.tables[key].table_name
        if kind == "queue-arn":
            return self.queues[key].queue_arn
        if kind == "schedule-group":
            return str(self.deferral_group.name)
        if kind == "role":
            return self.deferral_role.role_arn
        if kind == "secret":
            return (self.privacy_key if key == "privacy" else self.signing_secret).secret_arn
        if kind == "api-url":
            return f"{self.api.api_endpoint}{key}"
        return self.queues[key].queue_url

    def _delivery_guards(self) -> None:
        """The one-time schedules' group and role (deferrals, delays) and the unsubscribe-link key."""
        self.deferral_group = scheduler.CfnScheduleGroup(
            self, "DeferralGroup", name=self.names.deferral_group
        )
        self.deferral_role = iam.Role(
            self,
            "DeferralRole",
            description="EventBridge Scheduler puts deferred delivery jobs on their queue.",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": self.account}}
            ),
        )
        for spec in topology.FUNCTIONS:
            if spec.defers_to:
                self.queues[spec.defers_to].grant_send_messages(self.deferral_role)
                self.queues[topology.QUEUES_BY_KEY[spec.defers_to].dlq_key].grant_send_messages(
                    self.deferral_role
                )
        self.signing_secret = secretsmanager.Secret(
            self,
            "SigningKey",
            secret_name=self.names.signing_secret,
            description="HMAC key for Nudge's one-click unsubscribe links.",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
        )
        nag.accept(
            self.signing_secret,
            "SMG4",
            "Rotating the HMAC key would void the unsubscribe links in every email already sent, and they "
            "must keep working (RFC 8058, CAN-SPAM's 30 days); only deliver and preferences may read it.",
        )
        self.privacy_key = secretsmanager.Secret(
            self,
            "PrivacyKey",
            secret_name=self.names.privacy_key,
            description="HMAC key of Nudge's erasure markers and the suppressions kept after erasure.",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=64, exclude_punctuation=True
            ),
            removal_policy=RemovalPolicy.RETAIN,
        )
        nag.accept(
            self.privacy_key,
            "SMG4",
            "The privacy table holds HMACs under this key: a new key would orphan every erasure marker and "
            "every suppression kept after erasure (erased shoppers' old events would be stored again, "
            "opted-out addresses mailed). Retained with the tables; readable only by the functions that "
            "write or honour those records.",
        )

    def _access_logs(self, api: apigw.HttpApi) -> None:
        """Access logs of the HTTP API's default stage: route, status and timing; no IP, no path values
        and no query string (it carries the unsubscribe token)."""
        log_group = logs.LogGroup(
            self, "HttpApiAccessLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
        )
        fields = {
            "requestId": "$context.requestId",
            "requestTime": "$context.requestTimeEpoch",
            "route": "$context.routeKey",
            "status": "$context.status",
            "latencyMs": "$context.responseLatency",
            "responseLength": "$context.responseLength",
            "integrationError": "$context.integrationErrorMessage",
            "authorizerError": "$context.authorizer.error",
        }
        stage = api.default_stage
        assert stage is not None, "the HTTP API keeps its $default stage"
        cfn_stage: apigw.CfnStage = stage.node.default_child  # type: ignore[assignment]
        cfn_stage.access_log_settings = apigw.CfnStage.AccessLogSettingsProperty(
            destination_arn=log_group.log_group_arn, format=json.dumps(fields)
        )
        throttle = api_throttling(self)  # every route: 429 past it, before any function runs
        cfn_stage.default_route_settings = apigw.CfnStage.RouteSettingsProperty(
            throttling_burst_limit=throttle.burst, throttling_rate_limit=throttle.rate
        )

    def _http_routes(self) -> None:
        """The routes, behind the JWT authorizer of context ``jwt_issuer`` / ``jwt_audience``."""
        authorizer = authorizers.HttpJwtAuthorizer(
            "ShopperJwt",
            self.settings.jwt_issuer,
            jwt_audience=[self.settings.jwt_audience],
            authorizer_name=self.names.of("shopper-jwt"),
        )
        integration_of: dict[str, integrations.HttpLambdaIntegration] = {}
        for route in topology.HTTP_ROUTES:
            if route.function not in integration_of:
                integration_of[route.function] = integrations.HttpLambdaIntegration(
                    f"Integration-{route.function}", self.functions[route.function]
                )
            added = self.api.add_routes(
                path=route.path,
                methods=[apigw.HttpMethod(route.method)],
                integration=integration_of[route.function],
                authorizer=authorizer if route.authorized else apigw.HttpNoneAuthorizer(),
            )
            if not route.authorized:
                for http_route in added:
                    nag.accept(
                        http_route,
                        "APIG4",
                        "One-click unsubscribe from an email (RFC 8058) has no session: the HMAC-signed "
                        "token of user, channel and campaign in the link is the authorization (else 403).",
                    )
        CfnOutput(self, "ApiUrl", value=self.api.api_endpoint, description="Inbox API and unsubscribe links.")
        CfnOutput(self, "BusName", value=self.bus.event_bus_name, description="Put your apps' events here.")
        group = str(self.deferral_group.name)
        CfnOutput(self, "DeferralGroupOutput", key=topology.DEFERRAL_GROUP_OUTPUT, value=group)
        key_arn = self.privacy_key.secret_arn
        CfnOutput(self, topology.PRIVACY_KEY_OUTPUT, value=key_arn, description="For nudge erase --stack.")
        for spec in topology.TABLES:
            CfnOutput(self, topology.table_output(spec.key), value=self.tables[spec.key].table_name)
        for key in [*(q.key for q in topology.QUEUES), *topology.DEAD_LETTER_QUEUES]:  # for `nudge dlq`
            CfnOutput(self, topology.queue_output(key), value=self.queues[key].queue_url)

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
        self, spec: topology.FunctionSpec, built: NudgeFunction, sender: str, config_set: str | None
    ) -> None:
        function = built.function
        for table_key, actions in spec.tables.items():
            self.tables[table_key].grant(function, *(f"dynamodb:{a}" for a in sorted(actions)))
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
        if spec.defers_to:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["scheduler:CreateSchedule"],
                    resources=[self._deferral_schedules_arn()],
                )
            )
            self.deferral_role.grant_pass_role(function)
            nag.accept(
                built.policy,
                "IAM5",
                "One-time schedules are named per job at run time; the grant is limited to Nudge's own "
                "schedule group, and the only role it may pass to them is the deferral role.",
                resources=[self._deferral_schedules_arn()],
            )
        if spec.cancels_deferrals:
            function.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["scheduler:DeleteSchedule"], resources=[self._deferral_schedules_arn()]
                )
            )
            nag.accept(
                built.policy,
                "IAM5",
                "Erasure deletes the shopper's pending one-time schedules, whose names are only known at run "
                "time; the grant is limited to Nudge's own schedule group.",
                resources=[self._deferral_schedules_arn()],
            )
        if spec.signs_links:
            self.signing_secret.grant_read(function)
        if spec.pseudonymizes:
            self.privacy_key.grant_read(function)
        for queue_key in spec.purges:
            self.queues[queue_key].grant_consume_messages(function)
        if spec.sends_push:
            # Declared platform applications narrow the grant to their endpoints; without any, delivery
            # refuses every push endpoint (SnsPushChannel), so the wider grant is never used.
            endpoints = [push_endpoints_of(a) + "*" for a in self.settings.push_applications] or [
                self.format_arn(service="sns", resource="endpoint/*")
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

    def _deferral_schedules_arn(self) -> str:
        return self.format_arn(
            service="scheduler", resource="schedule", resource_name=f"{self.names.deferral_group}/*"
        )

    def _schedules(self, specs: list[invocations.ScheduleSpec]) -> None:
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
            # The schedules target the unqualified ARN: no versions or aliases (grant_invoke adds ":*").
            role.add_to_policy(
                iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[function.function_arn])
            )
            scheduler.CfnSchedule(
                self,
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
                    dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(arn=dlq.queue_arn),
                ),
            )
