"""The one construct that builds every Nudge function, so no function is configured by hand."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from shared.topology import ASYNC_RETRY_ATTEMPTS, FunctionSpec

POWERTOOLS_LAYER_ACCOUNT = "017000801446"
POWERTOOLS_LAYER_VERSION = 27
LOG_RETENTION = logs.RetentionDays.ONE_MONTH


def powertools_layer_arn(region: str) -> str:
    """The AWS-published Powertools v3 layer (it carries Powertools and pydantic) for python3.13/arm64."""
    return (
        f"arn:aws:lambda:{region}:{POWERTOOLS_LAYER_ACCOUNT}:layer:"
        f"AWSLambdaPowertoolsPythonV3-python313-arm64:{POWERTOOLS_LAYER_VERSION}"
    )


class NudgeFunction(Construct):
    """Python 3.13 on arm64 with the Powertools layer, structured logs kept a month, X-Ray tracing,
    and — for asynchronously invoked functions — bounded retries and an on-failure queue."""

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
    ) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        log_group = logs.LogGroup(self, "Logs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY)
        self.function = lambda_.Function(
            self,
            "Function",
            description=spec.description,
            runtime=lambda_.Runtime.PYTHON_3_13,
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

    @staticmethod
    def layer_for(scope: Construct) -> lambda_.ILayerVersion:
        return lambda_.LayerVersion.from_layer_version_arn(
            scope, "PowertoolsLayer", powertools_layer_arn(Stack.of(scope).region)
        )
