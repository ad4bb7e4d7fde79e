"""The Nudge stack: wires bus, rules, tables, queues, functions, the API and schedules — all from
shared.deployment.topology — and the stack's outputs. Each kind of resource is built in its own module
(storage, keys, schedules, api, grants, routing, monitoring); this one puts them together in order."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Duration, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import api, grants, keys, nag, routing, schedules, storage
from infra.function import NudgeFunction, python_snapstart_available
from infra.monitoring import OperationsView
from infra.packaging import build_lambda_asset
from infra.settings import DeploySettings
from shared.campaigns.loader import Catalog
from shared.deployment import invocations, topology
from shared.deployment.environment import deployment_environment, function_environment
from shared.deployment.naming import ResourceNames


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
        self.tables = {spec.key: storage.table(self, spec) for spec in topology.TABLES}
        self.feed_bucket = storage.feed_bucket(self)
        self.queues: dict[str, sqs.IQueue] = {}
        self.dead_letter_queues: dict[str, sqs.Queue] = {}
        for queue_spec in topology.QUEUES:
            dlq = storage.dead_letter_queue(self, queue_spec.dlq_key)
            self.queues[queue_spec.dlq_key] = self.dead_letter_queues[queue_spec.dlq_key] = dlq
            self.queues[queue_spec.key] = storage.work_queue(self, queue_spec, dlq)
        for key in topology.ASYNC_DLQS:
            self.queues[key] = self.dead_letter_queues[key] = storage.dead_letter_queue(self, key)
            nag.accept(
                self.queues[key],
                "SQS3",
                "This queue is itself a dead-letter queue (of EventBridge rule targets, Lambda on-failure "
                "destinations or Scheduler targets); cdk-nag only recognises DLQs named in redrive policies.",
            )

        # The one-time schedules' group and role (deferrals, delays), and the two HMAC keys.
        self.deferral_group = schedules.deferral_group(self, self.names)
        self.deferral_role = schedules.deferral_role(self, self.queues)
        self.signing_secret = keys.signing_key(self, self.names)
        self.privacy_key = keys.privacy_key(self, self.names)
        self.catalog_key = keys.catalog_key(self, self.names)
        ses_configuration_set = settings.ses_configuration_set
        if ses_configuration_set is None and settings.ses_feedback:
            ses_configuration_set = routing.ses_configuration_set(self, self.names)
        self.ses_configuration_set = ses_configuration_set
        self.api = api.http_api(self, self.names)

        code = lambda_.Code.from_asset(str(build_lambda_asset(catalog, asset_dir)))
        self.functions: dict[str, lambda_.Function] = {}
        # What the API, the event source mappings, the rules and the schedules invoke: a SnapStart function's
        # alias (the HTTP functions', and the event path's with -c event_path_snapstart=true, where the
        # region has SnapStart for Python), else the function.
        self.invoked: dict[str, lambda_.IFunction] = {}
        snap_start = python_snapstart_available(self.region)
        with_snapstart = topology.SNAPSTART_FUNCTIONS | (
            topology.EVENT_PATH_SNAPSTART_FUNCTIONS if settings.event_path_snapstart else frozenset()
        )
        for spec in topology.FUNCTIONS:
            env = {name: self._resolve(ref) for name, ref in function_environment(spec).items()}
            env |= deployment_environment(
                spec,
                sender_email=settings.sender_email,
                ses_configuration_set=ses_configuration_set,
                trusted_event_sources=tuple(settings.trusted_event_sources),
                push_applications=tuple(settings.push_applications),
                catalog_feed_key=settings.catalog_feed_key,
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
                snap_start=snap_start and spec.key in with_snapstart,
            )
            self.functions[spec.key] = built.function
            self.invoked[spec.key] = built.invoked
            grants.grant(self, spec, built, settings.sender_email, ses_configuration_set)

        for queue_spec in topology.QUEUES:
            self.invoked[queue_spec.consumer].add_event_source(
                sources.SqsEventSource(
                    self.queues[queue_spec.key],
                    batch_size=queue_spec.batch_size,
                    max_batching_window=Duration.seconds(queue_spec.max_batching_window_s)
                    if queue_spec.max_batching_window_s
                    else None,
                    report_batch_item_failures=True,
                )
            )
        feed_key = settings.catalog_feed_key
        for rule in invocations.event_rules(
            catalog,
            now=now,
            ses_configuration_set=ses_configuration_set,
            feed_object=(self.feed_bucket.bucket_name, feed_key) if feed_key is not None else None,
        ):
            routing.add_rule(self, rule)
        if settings.segment_partner_bus:
            self.segment_forwarding = routing.forward_partner_bus(
                self, settings.segment_partner_bus, self.bus
            )
        schedules.add_schedules(
            self,
            invocations.all_schedules(catalog, now=now, feed=settings.feed),
            self.invoked,
            self.queues[topology.PLANNER_DLQ_KEY],
        )
        api.add_routes(self.api, self.invoked, settings, self.names)
        self._outputs()
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
            secrets = {
                "privacy": self.privacy_key,
                "catalog": self.catalog_key,
                "signing": self.signing_secret,
            }
            return secrets[key].secret_arn
        if kind == "bucket":
            return self.feed_bucket.bucket_name
        if kind == "api-url":
            return f"{self.api.api_endpoint}{key}"
        if kind == "bus":
            return self.bus.event_bus_name
        return self.queues[key].queue_url

    def _outputs(self) -> None:
        """What the CLI and the shop's apps read from a deployed stack (``shared.deployment.topology``)."""
        CfnOutput(self, "ApiUrl", value=self.api.api_endpoint, description="Inbox API and unsubscribe links.")
        CfnOutput(
            self,
            topology.BUS_OUTPUT,
            value=self.bus.event_bus_name,
            description="Put your apps' events here.",
        )
        CfnOutput(
            self,
            topology.FEED_BUCKET_OUTPUT,
            value=self.feed_bucket.bucket_name,
            description="Put the catalog feed here, at the key of context catalog_feed_key.",
        )
        group = str(self.deferral_group.name)
        CfnOutput(self, "DeferralGroupOutput", key=topology.DEFERRAL_GROUP_OUTPUT, value=group)
        key_arn = self.privacy_key.secret_arn
        CfnOutput(self, topology.PRIVACY_KEY_OUTPUT, value=key_arn, description="For nudge erase --stack.")
        catalog_arn, use = self.catalog_key.secret_arn, "For nudge catalog load --stack."
        CfnOutput(self, topology.CATALOG_KEY_OUTPUT, value=catalog_arn, description=use)
        for spec in topology.TABLES:
            CfnOutput(self, topology.table_output(spec.key), value=self.tables[spec.key].table_name)
        for key in [*(q.key for q in topology.QUEUES), *topology.DEAD_LETTER_QUEUES]:  # for `nudge dlq`
            CfnOutput(self, topology.queue_output(key), value=self.queues[key].queue_url)
