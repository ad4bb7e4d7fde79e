"""The one construct that builds every Nudge function, so no function is configured by hand."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Annotations, Duration, RemovalPolicy, Token
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk.region_info import RegionInfo
from constructs import Construct

from infra import nag
from shared.deployment.topology import ASYNC_RETRY_ATTEMPTS, FunctionSpec
from shared.platform import metrics

POWERTOOLS_LAYER_NAME = "AWSLambdaPowertoolsPythonV3-python313-arm64"
POWERTOOLS_LAYER_VERSION = 27
# The account that publishes the layer above in each region, as the Powertools documentation lists it
# (docs.aws.amazon.com/powertools/python/latest → Lambda Layer: the arm64 table, "AWS China regions"
# and "AWS GovCloud regions"). tests/infra/test_partitions.py fails when a CDK upgrade brings a region
# that is neither here nor in NO_POWERTOOLS_LAYER.
COMMERCIAL_LAYER_ACCOUNT = "017000801446"
POWERTOOLS_LAYER_ACCOUNTS: dict[str, str] = {
    **dict.fromkeys(
        (
            "af-south-1",
            "ap-east-1",
            "ap-northeast-1",
            "ap-northeast-2",
            "ap-northeast-3",
            "ap-south-1",
            "ap-south-2",
            "ap-southeast-1",
            "ap-southeast-2",
            "ap-southeast-3",
            "ap-southeast-4",
            "ap-southeast-5",
            "ap-southeast-7",
            "ca-central-1",
            "eu-central-1",
            "eu-central-2",
            "eu-north-1",
            "eu-south-1",
            "eu-south-2",
            "eu-west-1",
            "eu-west-2",
            "eu-west-3",
            "il-central-1",
            "me-central-1",
            "me-south-1",
            "mx-central-1",
            "sa-east-1",
            "us-east-1",
            "us-east-2",
            "us-west-1",
            "us-west-2",
        ),
        COMMERCIAL_LAYER_ACCOUNT,
    ),
    "cn-north-1": "498634801083",
    "us-gov-east-1": "165087284144",
    "us-gov-west-1": "165093116878",
}
# Regions Powertools publishes no python3.13 arm64 layer in (the documentation lists none there).
NO_POWERTOOLS_LAYER = frozenset({"ca-west-1", "cn-northwest-1", "ap-east-2", "ap-southeast-6"})
LAYER_CONTEXT_KEY = "powertools_layer_arn"
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
# Actions IAM grants only on "*" (no resource-level permissions), and why a function needs each.
RESOURCELESS_ACTIONS = {
    "xray:PutTraceSegments": "active X-Ray tracing sends the function's trace segments",
    "xray:PutTelemetryRecords": "active X-Ray tracing sends the function's telemetry",
    "scheduler:ListSchedules": "erasure finds the shopper's pending one-time schedules to cancel them",
}
# The runtime the code asset, the Powertools layer above and the tests are built for.
RUNTIME = lambda_.Runtime.PYTHON_3_13
# SnapStart for Python runs in every commercial region but these two (the Lambda guide, "Improving
# startup performance with Lambda SnapStart"), and in neither China nor GovCloud ("Lambda SnapStart
# for Python and .NET is not available" in both partitions' guides).
NO_PYTHON_SNAPSTART = frozenset({"ap-southeast-6", "ap-east-2"})  # Asia Pacific (New Zealand), (Taipei)
LIVE_ALIAS = "live"


def python_snapstart_available(region: str) -> bool:
    return RegionInfo.get(region).partition == "aws" and region not in NO_PYTHON_SNAPSTART


class LayerUnavailable(ValueError):
    """No AWS-published Powertools layer for the stack's region."""


def powertools_layer_arn(region: str) -> str:
    """The AWS-published Powertools v3 layer (it carries Powertools and pydantic) for python3.13/arm64,
    in the region's partition (``aws``, ``aws-cn``, ``aws-us-gov``) from the region's publisher."""
    if Token.is_unresolved(region):
        raise LayerUnavailable(
            "the stack has no region, and the Powertools layer differs by region and partition: set "
            "CDK_DEFAULT_REGION (the CDK CLI sets it from AWS_REGION or your profile's region)"
        )
    account = POWERTOOLS_LAYER_ACCOUNTS.get(region)
    partition = RegionInfo.get(region).partition
    if account is None or partition is None:
        raise LayerUnavailable(
            f"Powertools publishes no {POWERTOOLS_LAYER_NAME} layer in {region}: pass "
            f"-c {LAYER_CONTEXT_KEY}=ARN (a copy you published, e.g. from the Serverless Application "
            "Repository, at the same Powertools version) or deploy to another region"
        )
    return (
        f"arn:{partition}:lambda:{region}:{account}:layer:{POWERTOOLS_LAYER_NAME}:{POWERTOOLS_LAYER_VERSION}"
    )


class NudgeFunction(Construct):
    """Python 3.13 on arm64 with the Powertools layer, structured logs kept a month, X-Ray tracing,
    and — for asynchronously invoked functions — bounded retries and an on-failure queue.

    Each function has a role of its own that may write only to its own log group (no AWS managed
    policy); the stack grants it the tables, queues and channels its spec names.
    ``resourceless_actions`` are the actions beyond X-Ray that it needs on "*" (see RESOURCELESS_ACTIONS).

    ``snap_start``: Lambda snapshots each published version after its init and restores new execution
    environments from it (the handler's hooks: shared/platform/snapshots.py). SnapStart applies to
    published versions only, so the function gets the alias ``live`` on its current version, and
    callers (the HTTP API) invoke :attr:`invoked`, that alias; a version replaced by the next deploy is
    deleted, so no old snapshot stays cached (and billed).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        spec: FunctionSpec,
        code: lambda_.Code,
        layer: lambda_.ILayerVersion,
        environment: Mapping[str, str],
        metric_namespace: str,
        on_failure: sqs.IQueue | None = None,
        resourceless_actions: Sequence[str] = (),
        snap_start: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
        self.role = iam.Role(
            self,
            "Role",
            description=f"Nudge {spec.key}: {spec.description}"[:1000],
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            inline_policies={
                "Logs": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                            resources=[log_group.log_group_arn],
                        )
                    ]
                )
            },
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=spec.description,
            role=self.role,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.ARM_64,
            handler=spec.handler,
            code=code,
            layers=[layer],
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_s),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=log_group,
            environment={
                **environment,
                "POWERTOOLS_SERVICE_NAME": f"nudge-{spec.key}",
                "POWERTOOLS_LOG_LEVEL": "INFO",
                "POWERTOOLS_LOGGER_LOG_EVENT": "false",
                metrics.NAMESPACE_ENV: metric_namespace,
            },
            retry_attempts=ASYNC_RETRY_ATTEMPTS if on_failure is not None else None,
            on_failure=destinations.SqsDestination(on_failure) if on_failure is not None else None,
            snap_start=lambda_.SnapStartConf.ON_PUBLISHED_VERSIONS if snap_start else None,
            current_version_options=lambda_.VersionOptions(removal_policy=RemovalPolicy.DESTROY)
            if snap_start
            else None,
        )
        self.invoked: lambda_.IFunction = self.function
        if snap_start:
            self.invoked = lambda_.Alias(
                self, "Live", alias_name=LIVE_ALIAS, version=self.function.current_version
            )
            Annotations.of(self.function).acknowledge_warning(
                "@aws-cdk/aws-lambda:snapStartRequirePublish",
                "Its current version is published with every deploy, and the alias live points at it.",
            )
        if resourceless_actions:
            self.role.add_to_policy(iam.PolicyStatement(actions=list(resourceless_actions), resources=["*"]))
        # Active tracing has put the X-Ray statement in the role's default policy, where grants go too.
        self.policy = self.role.node.find_child("DefaultPolicy")
        needs_star = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", *resourceless_actions]
        nag.accept(
            self.policy,
            "IAM5",
            "IAM has no resource-level permissions for "
            + "; ".join(f"{a} ({RESOURCELESS_ACTIONS[a]})" for a in needs_star),
            resources=["*"],
        )
        nag.accept(
            self.function,
            "L1",
            f"Pinned to {RUNTIME.name}: the AWS-published Powertools layer version in this file and the "
            "vendored code asset are built and tested for it; move both together.",
        )

    @staticmethod
    def layer_for(scope: Construct, region: str, layer_arn: str | None = None) -> lambda_.ILayerVersion:
        """The Powertools layer of ``region``, or ``layer_arn`` when given (context powertools_layer_arn)."""
        return lambda_.LayerVersion.from_layer_version_arn(
            scope, "PowertoolsLayer", layer_arn or powertools_layer_arn(region)
        )
