"""The alarms of the operations view and where they notify: an alarm per function (errors, throttles),
per dead-letter queue (depth) and on SES's account reputation (bounce and complaint rates), all sent
to the ``AlarmTopicArn`` parameter's topic, or, left empty, to a topic the stack creates with its own
KMS key (its ARN is the ``AlarmTopicArn`` output)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import Acknowledgment, ArnFormat, CfnCondition, CfnOutput, CfnParameter, Fn, Stack, Validations
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.metric_queries import PERIOD, ses_metric
from shared.deployment.naming import ResourceNames

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


@dataclass(frozen=True)
class AlarmTopic:
    """Where the alarms notify: ``arn`` is the given topic, else the stack's own ``own_topic`` (under
    ``own_key``), which exists only under ``create_condition`` (AlarmTopicArn left empty)."""

    arn: str
    own_topic: sns.CfnTopic
    own_key: kms.CfnKey
    create_condition: CfnCondition


def alarm_topic(scope: Construct) -> AlarmTopic:
    stack = Stack.of(scope)
    given = CfnParameter(
        stack,  # at stack level, so the parameter is called exactly "AlarmTopicArn"
        ALARM_TOPIC_PARAMETER,
        description="SNS topic for Nudge's alarms (empty: the stack creates one; see the output).",
        default="",
        allowed_pattern=ARN_PATTERN,
    )
    create = CfnCondition(
        scope, "CreateAlarmTopic", expression=Fn.condition_equals(given.value_as_string, "")
    )
    key = kms.CfnKey(
        scope,
        "OwnAlarmTopicKey",
        description="Encrypts the Nudge alarm topic; CloudWatch alarms may use it to publish.",
        enable_key_rotation=True,
        key_policy=_alarm_key_policy(stack.account),
    )
    key.cfn_options.condition = create
    # Its own key: CloudWatch cannot publish to a topic under the AWS-managed SNS key.
    topic = sns.CfnTopic(scope, "OwnAlarmTopic", display_name="Nudge alarms", kms_master_key_id=key.attr_arn)
    topic.cfn_options.condition = create
    policy = sns.CfnTopicPolicy(
        scope,
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
                        "StringEquals": {"aws:SourceAccount": stack.account},
                        "ArnLike": {
                            "aws:SourceArn": stack.format_arn(
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
        stack,
        "AlarmTopicArnOutput",
        key="AlarmTopicArn",
        value=topic.ref,
        description="The alarm topic the stack created (AlarmTopicArn was empty): subscribe to it.",
    )
    created.condition = create
    arn = Fn.condition_if(create.logical_id, topic.ref, given.value_as_string).to_string()
    return AlarmTopic(arn=arn, own_topic=topic, own_key=key, create_condition=create)


def _alarm_key_policy(account: str) -> iam.PolicyDocument:
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
                conditions={"StringEquals": {"aws:SourceAccount": account}},
            ),
        ]
    )


def add_alarms(
    scope: Construct,
    *,
    names: ResourceNames,
    action: cloudwatch.IAlarmAction,
    functions: Mapping[str, lambda_.IFunction],
    dead_letter_queues: Mapping[str, sqs.IQueue],
) -> dict[str, cloudwatch.Alarm]:
    """Every alarm, by key (``<function>-errors``, ``<queue>-depth``, ``ses-bounce-rate``, ...); each
    notifies ``action`` when it fires and when it clears."""
    alarms: dict[str, cloudwatch.Alarm] = {}

    def alarm(key: str, metric: cloudwatch.IMetric, threshold: float, description: str) -> None:
        created = cloudwatch.Alarm(
            scope,
            f"Alarm-{key}",
            alarm_name=names.alarm(key),
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        created.add_alarm_action(action)
        created.add_ok_action(action)
        Validations.of(created).acknowledge(
            Acknowledgment(
                id="CloudFormation-Validate::F3033",
                reason="The action is AlarmTopicArn only when it is not empty; else the stack's own topic.",
            )
        )
        alarms[key] = created

    for key, function in functions.items():
        alarm(
            f"{key}-errors",
            function.metric_errors(period=PERIOD, statistic="Sum"),
            0,
            f"The {key} function failed (an unhandled error or timeout). Its logs say why.",
        )
        alarm(
            f"{key}-throttles",
            function.metric_throttles(period=PERIOD, statistic="Sum"),
            0,
            f"Lambda throttled the {key} function: raise its concurrency or the account quota.",
        )
    for key, queue in dead_letter_queues.items():
        alarm(
            f"{key}-depth",
            queue.metric_approximate_number_of_messages_visible(period=PERIOD, statistic="Maximum"),
            0,
            f"Messages are waiting in the {key} dead-letter queue, each with the reason it was parked.",
        )
    alarm(
        "ses-bounce-rate",
        ses_metric("Reputation.BounceRate"),
        SES_BOUNCE_RATE_THRESHOLD,
        "SES bounce rate over 5%: SES reviews the account at 5% and may pause sending at 10%.",
    )
    alarm(
        "ses-complaint-rate",
        ses_metric("Reputation.ComplaintRate"),
        SES_COMPLAINT_RATE_THRESHOLD,
        "SES complaint rate over 0.1%: SES reviews the account at 0.1% and may pause sending at 0.5%.",
    )
    return alarms
