"""How the operations view reads its metrics: Nudge's application metrics (``shared.platform.metrics``)
by CloudWatch SEARCH or by one function's service, and SES's account reputation; one period for all
but SES's."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch

from shared.platform import metrics

PERIOD = Duration.minutes(5)
SES_PERIOD = Duration.hours(1)


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
