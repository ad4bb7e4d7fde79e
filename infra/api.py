"""The HTTP API: the in-app inbox, erasure and one-click unsubscribe routes of
``shared.deployment.topology.HTTP_ROUTES``, behind the shopper JWT authorizer (unsubscribe behind its
signed token), with access logs and stage throttling."""

from __future__ import annotations

import json
from collections.abc import Mapping

from aws_cdk import RemovalPolicy
from aws_cdk import aws_apigatewayv2 as apigw
from aws_cdk import aws_apigatewayv2_authorizers as authorizers
from aws_cdk import aws_apigatewayv2_integrations as integrations
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import nag
from infra.function import LOG_RETENTION
from infra.settings import DeploySettings
from infra.throttling import api_throttling
from shared.deployment import topology
from shared.deployment.naming import ResourceNames


def http_api(scope: Construct, names: ResourceNames) -> apigw.HttpApi:
    """The API (CORS for the shop's apps) with its default stage's access logs and throttling."""
    api = apigw.HttpApi(
        scope,
        "HttpApi",
        api_name=names.of("api"),
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
    _access_logs(scope, api)
    return api


def _access_logs(scope: Construct, api: apigw.HttpApi) -> None:
    """Access logs of the HTTP API's default stage: route, status and timing; no IP, no path values
    and no query string (it carries the unsubscribe token)."""
    log_group = logs.LogGroup(
        scope, "HttpApiAccessLogs", retention=LOG_RETENTION, removal_policy=RemovalPolicy.DESTROY
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
    throttle = api_throttling(scope)  # every route: 429 past it, before any function runs
    cfn_stage.default_route_settings = apigw.CfnStage.RouteSettingsProperty(
        throttling_burst_limit=throttle.burst, throttling_rate_limit=throttle.rate
    )


def add_routes(
    api: apigw.HttpApi,
    functions: Mapping[str, lambda_.IFunction],
    settings: DeploySettings,
    names: ResourceNames,
) -> None:
    """The routes, behind the JWT authorizer of context ``jwt_issuer`` / ``jwt_audience``."""
    authorizer = authorizers.HttpJwtAuthorizer(
        "ShopperJwt",
        settings.jwt_issuer,
        jwt_audience=[settings.jwt_audience],
        authorizer_name=names.of("shopper-jwt"),
    )
    integration_of: dict[str, integrations.HttpLambdaIntegration] = {}
    for route in topology.HTTP_ROUTES:
        if route.function not in integration_of:
            integration_of[route.function] = integrations.HttpLambdaIntegration(
                f"Integration-{route.function}", functions[route.function]
            )
        added = api.add_routes(
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
