"""The operations dashboard: one row per question (what alarms, what was decided and sent, what converted,
what came in, SES reputation and dead letters, function health, batch campaigns and scoring), graphed
from the functions and dead-letter queues of the topology and the application metrics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.alarms import SES_BOUNCE_RATE_THRESHOLD, SES_COMPLAINT_RATE_THRESHOLD
from infra.metric_queries import PERIOD, app_metric, search, ses_metric
from shared.core.vocabulary import DecisionStatus
from shared.deployment.naming import ResourceNames
from shared.platform import metrics


def dashboard(
    scope: Construct,
    *,
    names: ResourceNames,
    functions: Mapping[str, lambda_.IFunction],
    dead_letter_queues: Mapping[str, sqs.IQueue],
    alarms: Mapping[str, cloudwatch.Alarm],
) -> cloudwatch.Dashboard:
    built = cloudwatch.Dashboard(
        scope,
        "Dashboard",
        dashboard_name=names.dashboard,
        default_interval=Duration.days(1),
    )
    for row in DashboardRows(names.metric_namespace, functions, dead_letter_queues, alarms).rows():
        built.add_widgets(*row)
    return built


class DashboardRows:
    """The widgets, row by row, for one metric namespace and the stack's functions, queues and alarms."""

    def __init__(
        self,
        namespace: str,
        functions: Mapping[str, lambda_.IFunction],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        alarms: Mapping[str, cloudwatch.Alarm],
    ) -> None:
        self.namespace = namespace
        self.functions = functions
        self.dead_letter_queues = dead_letter_queues
        self.alarms = alarms

    def _search(
        self, spec: metrics.MetricSpec, statistic: str = "Sum", **filters: str
    ) -> cloudwatch.SearchExpression:
        return search(self.namespace, spec, statistic, **filters)

    def _app_metric(
        self, spec: metrics.MetricSpec, function_key: str, label: str | None = None
    ) -> cloudwatch.Metric:
        return app_metric(self.namespace, spec, function_key, label)

    def _per_function(self, title: str, metric_of: str, statistic: str) -> cloudwatch.GraphWidget:
        lines = [
            function.metric(metric_of, period=PERIOD, statistic=statistic, label=key)
            for key, function in self.functions.items()
        ]
        return cloudwatch.GraphWidget(title=title, left=lines, width=8, height=6)

    def rows(self) -> Sequence[Sequence[cloudwatch.IWidget]]:
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
