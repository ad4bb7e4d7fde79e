"""The one construct that builds every Nudge function, so no function is configured by hand."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import nag
from shared.topology import ASYNC_RETRY_ATTEMPTS, FunctionSpec

POWERTOOLS_LAYER_ACCOUNT = "017000801446"
POWERTOOLS_LAYER_VERSION = 27
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
# Actions IAM grants only on "*" (no resource-level permissions), and why a function needs each.
RESOURCELESS_ACTIONS = {
    "xray:PutTraceSegments": "active X-Ray tracing sends the function's trace segments",
    "xray:PutTelemetryRecords": "active X-Ray tracing sends the function's telemetry",
    "scheduler:ListSchedules": "erasure finds the shopper's pending one-time schedules to cancel them",
}
# The runtime the code asset, the Powertools layer above and the tests are built for.
RUNTIME = lambda_.Runtime.PYTHON_3_13


def powertools_layer_arn(region: str) -> str:
    """The AWS-published Powertools v3 layer (it carries Powertools and pydantic) for python3.13/arm64."""
    return (
        f"arn:aws:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
        f"AWSLambdaPowertoolsPythonV3-python313-arm64:{POWERTOOLS_LAYER_VERSION}"
    )


class NudgeFunction(Construct):
    """Python 3.13 on arm64 with the Powertools layer, structured logs kept a month, X-Ray tracing,
    and — for asynchronously invoked functions — bounded retries and an on-failure queue.

    Each function has a role of its own that may write only to its own log group (no AWS managed
    policy); the stack grants it the tables, queues and channels its spec names.
    ``resourceless_actions`` are the actions beyond X-Ray that it needs on "*" (see RESOURCELESS_ACTIONS).
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
        on_failure: sqs.IQueue | None = None,
        resourceless_actions: Sequence[str] = (),
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
            },
            retry_attempts=ASYNC_RETRY_ATTEMPTS if on_failure is not None else None,
            on_failure=destinations.SqsDestination(on_failure) if on_failure is not None else None,
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
    def layer_for(scope: Construct) -> lambda_.ILayerVersion:
        return lambda_.LayerVersion.from_layer_version_arn(
            scope, "PowertoolsLayer", powertools_layer_arn(Stack.of(scope).region)
        )
