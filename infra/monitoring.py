"""The operations view: a CloudWatch dashboard and alarms for every function and dead-letter queue.

Functions and queues come from ``shared.deployment.topology`` and the application metrics from
``shared.platform.metrics``, so a function or queue added there is graphed and alarmed without an edit here.
Alarms notify the SNS topic given as the ``AlarmTopicArn`` stack parameter; left empty, the stack
creates a topic of its own, encrypted with its own KMS key (its ARN is the ``AlarmTopicArn``
output), for you to subscribe to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import (
    Acknowledgment,
    ArnFormat,
    CfnCondition,
    CfnOutput,
    CfnParameter,
    Duration,
    Fn,
    Stack,
    Validations,
)
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from shared.core.vocabulary import DecisionStatus
from shared.deployment import topology
from shared.deployment.naming import ResourceNames
from shared.platform import metrics

PERIOD = Duration.minutes(5)
SES_PERIOD = Duration.hours(1)
# SES reviews an account whose bounce rate reaches 5% or complaint rate 0.1%; these alarm at those
# levels, before the 10% and 0.5% at which it may pause sending.
SES_BOUNCE_RATE_THRESHOLD = 0.05
SES_COMPLAINT_RATE_THRESHOLD = 0.001
ALARM_TOPIC_PARAMETER = "AlarmTopicArn"
KEY_ADMINISTRATION = (
    "DescribeKey",
    "GetKeyPolicy",
    "PutKeyPolicy",
    "GetKeyRotationStatus",
    "EnableKeyRotation",
    "DisableKeyRotation",
    "EnableKey",
    "DisableKey",
    "UpdateKeyDescription",
    "ListResourceTags",
    "TagResource",
    "UntagResource",
    "ListGrants",
    "RevokeGrant",
    "ScheduleKeyDeletion",
    "CancelKeyDeletion",
)
ARN_PATTERN = r"^$|^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$"


def search(
    namespace: str, spec: metrics.MetricSpec, statistic: str = "Sum", **filters: str
) -> cloudwatch.SearchExpression:
    """Every series of an application metric (one per dimension value), optionally narrowed."""
    schema = ",".join([namespace, *sorted((metrics.SERVICE, *spec.dimensions))])
    narrowed = "".join(f' {name}="{value}"' for name, value in filters.items())
    return cloudwatch.SearchExpression(
        expression=f"SEARCH('{{{schema}}} MetricName=\"{spec.name}\"{narrowed}', "
        f"'{statistic}', {int(PERIOD.to_seconds())})",
        label="",
        period=PERIOD,
    )


def app_metric(
    namespace: str, spec: metrics.MetricSpec, function_key: str, label: str | None = None
) -> cloudwatch.Metric:
    """An application metric that has only the ``service`` dimension."""
    assert not spec.dimensions, spec.name
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=spec.name,
        dimensions_map={metrics.SERVICE: metrics.service_name(function_key)},
        statistic="Sum",
        period=PERIOD,
        label=label or spec.name,
    )


def ses_metric(name: str, label: str | None = None) -> cloudwatch.Metric:
    """An account-level SES reputation metric (a fraction: 0.05 is 5%)."""
    return cloudwatch.Metric(
        namespace="AWS/SES", metric_name=name, statistic="Maximum", period=SES_PERIOD, label=label
    )


class OperationsView(Construct):
    """Dashboard and alarms for the functions and dead-letter queues the topology defines."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        functions: Mapping[str, lambda_.IFunction],
        dead_letter_queues: Mapping[str, sqs.IQueue],
    ) -> None:
        super().__init__(scope, construct_id)
        self.stack = Stack.of(self)
        self.names = names
        self.functions = {spec.key: functions[spec.key] for spec in topology.FUNCTIONS}
        self.dead_letter_queues = {key: dead_letter_queues[key] for key in topology.DEAD_LETTER_QUEUES}
        self.alarm_topic_arn = self._alarm_topic()
        self.alarm_action = actions.SnsAction(
            sns.Topic.from_topic_arn(self, "AlarmTopic", self.alarm_topic_arn)
        )
        self.alarms: dict[str, cloudwatch.Alarm] = {}
        self._alarms()
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=names.dashboard,
            default_interval=Duration.days(1),
        )
        for row in self._rows():
            self.dashboard.add_widgets(*row)

    def _search(
        self, spec: metrics.MetricSpec, statistic: str = "Sum", **filters: str
    ) -> cloudwatch.SearchExpression:
        return search(self.names.metric_namespace, spec, statistic, **filters)

    def _app_metric(
        self, spec: metrics.MetricSpec, function_key: str, label: str | None = None
    ) -> cloudwatch.Metric:
        return app_metric(self.names.metric_namespace, spec, function_key, label)

    # -- the notification topic ---------------------------------------------------------------------
    def _alarm_topic(self) -> str:
        given = CfnParameter(
            self.stack,  # at stack level, so the parameter is called exactly "AlarmTopicArn"
            ALARM_TOPIC_PARAMETER,
            description="SNS topic for Nudge's alarms (empty: the stack creates one; see the output).",
            default="",
            allowed_pattern=ARN_PATTERN,
        )
        create = CfnCondition(
            self, "CreateAlarmTopic", expression=Fn.condition_equals(given.value_as_string, "")
        )
        key = kms.CfnKey(
            self,
            "OwnAlarmTopicKey",
            description="Encrypts the Nudge alarm topic; CloudWatch alarms may use it to publish.",
            enable_key_rotation=True,
            key_policy=self._alarm_key_policy(),
        )
        key.cfn_options.condition = create
        # Its own key: CloudWatch cannot publish to a topic under the AWS-managed SNS key.
        topic = sns.CfnTopic(
            self, "OwnAlarmTopic", display_name="Nudge alarms", kms_master_key_id=key.attr_arn
        )
        topic.cfn_options.condition = create
        self.own_topic, self.own_key, self.create_topic_condition = topic, key, create
        policy = sns.CfnTopicPolicy(
            self,
            "OwnAlarmTopicPolicy",
            topics=[topic.ref],
            policy_document=iam.PolicyDocument(
                statements=[
                    iam.PolicyStatement(
                        sid="CloudWatchAlarmsOfThisAccount",
                        actions=["sns:Publish"],
                        principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                        resources=[topic.ref],
                        conditions={
                            "StringEquals": {"aws:SourceAccount": self.stack.account},
                            "ArnLike": {
                                "aws:SourceArn": self.stack.format_arn(
                                    service="cloudwatch",
                                    resource="alarm",
                                    resource_name="*",
                                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                                )
                            },
                        },
                    ),
                    iam.PolicyStatement(
                        sid="TlsOnly",
                        effect=iam.Effect.DENY,
                        actions=["sns:Publish"],
                        principals=[iam.AnyPrincipal()],
                        resources=[topic.ref],
                        conditions={"Bool": {"aws:SecureTransport": "false"}},
                    ),
                ]
            ),
        )
        policy.cfn_options.condition = create
        created = CfnOutput(
            self.stack,
            "AlarmTopicArnOutput",
            key="AlarmTopicArn",
            value=topic.ref,
            description="The alarm topic the stack created (AlarmTopicArn was empty): subscribe to it.",
        )
        created.condition = create
        return Fn.condition_if(create.logical_id, topic.ref, given.value_as_string).to_string()

    def _alarm_key_policy(self) -> iam.PolicyDocument:
        """The account administers the key (IAM decides who); CloudWatch may encrypt and decrypt with it,
        for this account's alarms only."""
        return iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="AccountAdministers",
                    principals=[iam.AccountRootPrincipal()],
                    actions=[f"kms:{action}" for action in KEY_ADMINISTRATION],
                    resources=["*"],  # in a key policy, "*" is this key
                ),
                iam.PolicyStatement(
                    sid="CloudWatchAlarmsPublish",
                    principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=["*"],
                    # only for this account's alarms (confused deputy), as the topic's policy
                    conditions={"StringEquals": {"aws:SourceAccount": self.stack.account}},
                ),
            ]
        )

    # -- alarms -------------------------------------------------------------------------------------
    def _alarm(self, key: str, metric: cloudwatch.IMetric, threshold: float, description: str) -> None:
        alarm = cloudwatch.Alarm(
            self,
            f"Alarm-{key}",
            alarm_name=self.names.alarm(key),
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(self.alarm_action)
        alarm.add_ok_action(self.alarm_action)
        Validations.of(alarm).acknowledge(
            Acknowledgment(
                id="CloudFormation-Validate::F3033",
                reason="The action is AlarmTopicArn only when it is not empty; else the stack's own topic.",
            )
        )
        self.alarms[key] = alarm

    def _alarms(self) -> None:
        for key, function in self.functions.items():
            self._alarm(
                f"{key}-errors",
                function.metric_errors(period=PERIOD, statistic="Sum"),
                0,
                f"The {key} function failed (an unhandled error or timeout). Its logs say why.",
            )
            self._alarm(
                f"{key}-throttles",
                function.metric_throttles(period=PERIOD, statistic="Sum"),
                0,
                f"Lambda throttled the {key} function: raise its concurrency or the account quota.",
            )
        for key, queue in self.dead_letter_queues.items():
            self._alarm(
                f"{key}-depth",
                queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
                0,
                f"Messages are waiting in the {key} dead-letter queue, each with the reason it was parked.",
            )
        self._alarm(
            "ses-bounce-rate",
            ses_metric("Reputation.BounceRate"),
            SES_BOUNCE_RATE_THRESHOLD,
            "SES bounce rate over 5%: SES reviews the account at 5% and may pause sending at 10%.",
        )
        self._alarm(
            "ses-complaint-rate",
            ses_metric("Reputation.ComplaintRate"),
            SES_COMPLAINT_RATE_THRESHOLD,
            "SES complaint rate over 0.1%: SES reviews the account at 0.1% and may pause sending at 0.5%.",
        )

    # -- dashboard ----------------------------------------------------------------------------------
    def _per_function(self, title: str, metric_of: str, statistic: str) -> cloudwatch.GraphWidget:
        lines = [
            function.metric(metric_of, period=PERIOD, statistic=statistic, label=key)
            for key, function in self.functions.items()
        ]
        return cloudwatch.GraphWidget(title=title, left=lines, width=8, height=6)

    def _rows(self) -> Sequence[Sequence[cloudwatch.IWidget]]:
        ingest = "ingest"
        return [
            [
                cloudwatch.AlarmStatusWidget(
                    title="Alarms", alarms=list(self.alarms.values()), width=24, height=4
                )
            ],
            [
                cloudwatch.GraphWidget(
                    title="Delivery decisions (status, channel)",
                    left=[self._search(metrics.DELIVERIES)],
                    stacked=True,
                    width=12,
                    height=6,
                ),
                cloudwatch.GraphWidget(
                    title="Messages sent, by channel",
                    left=[self._search(metrics.DELIVERIES, status=DecisionStatus.SENT)],
                    stacked=True,
                    width=6,
                    height=6,
                ),
                cloudwatch.GraphWidget(
                    title="Capped deliveries, by cap",
                    left=[self._search(metrics.DELIVERIES_CAPPED)],
                    width=6,
                    height=6,
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    title="Conversions (level, holdout group)",
                    left=[self._search(metrics.CONVERSIONS)],
                    width=12,
                    height=6,
                ),
                cloudwatch.GraphWidget(
                    title="Revenue credited (last touch), by level",
                    left=[self._search(metrics.CONVERSION_REVENUE)],
                    stacked=True,
                    width=12,
                    height=6,
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    title="Events",
                    left=[
                        self._app_metric(metrics.EVENTS_INGESTED, ingest, "ingested"),
                        self._app_metric(metrics.EVENTS_DUPLICATE, ingest, "duplicates"),
                        self._app_metric(metrics.EVENTS_REJECTED, ingest, "rejected"),
                    ],
                    width=8,
                    height=6,
                ),
                cloudwatch.GraphWidget(
                    title="L4 triggers, by outcome", left=[self._search(metrics.TRIGGERS)], width=8, height=6
                ),
                cloudwatch.GraphWidget(
                    title="SES feedback", left=[self._search(metrics.FEEDBACK_EVENTS)], width=8, height=6
                ),
            ],
            [
                cloudwatch.GraphWidget(
                    title="SES reputation (account)",
                    left=[
                        ses_metric("Reputation.BounceRate", "bounce rate"),
                        ses_metric("Reputation.ComplaintRate", "complaint rate"),
                    ],
                    left_annotations=[
                        cloudwatch.HorizontalAnnotation(
                            value=SES_BOUNCE_RATE_THRESHOLD, label="bounce alarm"
                        ),
                        cloudwatch.HorizontalAnnotation(
                            value=SES_COMPLAINT_RATE_THRESHOLD, label="complaint alarm"
                        ),
                    ],
                    width=8,
                    height=6,
                ),
                cloudwatch.GraphWidget(
                    title="Dead-letter queue depth",
                    left=[
                        queue.metric_approximate_number_of_messages_visible(
                            period=PERIOD, statistic="Maximum", label=key
                        )
                        for key, queue in self.dead_letter_queues.items()
                    ],
                    width=8,
                    height=6,
                ),
                cloudwatch.GraphWidget(
                    title="Parked and retried, by function",
                    left=[self._search(metrics.MESSAGES_PARKED)],
                    right=[self._search(metrics.RECORDS_RETRIED)],
                    width=8,
                    height=6,
                ),
            ],
            [
                self._per_function("Errors", "Errors", "Sum"),
                self._per_function("Throttles", "Throttles", "Sum"),
                self._per_function("Duration p95 (ms)", "Duration", "p95"),
            ],
            [
                cloudwatch.GraphWidget(
                    title="Batch campaigns",
                    left=[
                        self._app_metric(metrics.SEGMENTS_PLANNED, "planner", "segments planned"),
                        self._app_metric(metrics.PROFILES_SCANNED, "audience", "profiles scanned"),
                        self._app_metric(metrics.JOBS_ENQUEUED, "audience", "jobs enqueued"),
                    ],
                    width=12,
                    height=6,
                ),
                cloudwatch.GraphWidget(
                    title="Scoring",
                    left=[self._search(metrics.PROFILES_SCORED)],
                    right=[
                        self._search(metrics.SCORES_WRITTEN),
                        self._app_metric(
                            metrics.SCORING_RUNS_WITHOUT_MODEL,
                            "score_planner",
                            "runs without a trained model",
                        ),
                    ],
                    width=12,
                    height=6,
                ),
            ],
        ]
