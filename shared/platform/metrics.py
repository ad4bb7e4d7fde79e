"""Nudge's CloudWatch metrics: every name, unit and dimension in one place, emitted as EMF.

A handler counts its outcomes into its :class:`FunctionMetrics` while it runs; when it returns (or
raises) the counts are published through Powertools ``Metrics`` as Embedded Metric Format log
lines. EMF gives a log line one value per dimension, so counts are summed per dimension set first:
a batch of 100 events or 10 deliveries writes a handful of lines, not one per record.

Every metric carries the ``service`` dimension (``nudge-<function key>``, the functions'
``POWERTOOLS_SERVICE_NAME``) plus at most two more drawn from small, fixed sets — a decision status,
a channel, a cap, a campaign level. Never a user, campaign or message id: those belong in the logs.
``infra/dashboard.py`` builds the dashboard from these same definitions.
"""

from __future__ import annotations

import functools
import os
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from shared.core.vocabulary import Channel, DecisionStatus, Level
from shared.deployment.naming import DEFAULT_STACK_NAME, ResourceNames
from shared.journeys.transitions import Transition

if TYPE_CHECKING:
    from shared.core.queues import DeadLetters
    from shared.delivery.deliverer import SendDecision
    from shared.delivery.feedback import FeedbackOutcome
    from shared.ingest.ingest import IngestOutcome
    from shared.triggers.catalog_triggers import FanOutOutcome
    from shared.triggers.triggers import TriggerOutcome

# Each stack's functions publish into the stack's own namespace (ResourceNames.metric_namespace),
# which the stack passes in Powertools' variable; without it (locally), the default stack's.
NAMESPACE_ENV = "POWERTOOLS_METRICS_NAMESPACE"
NAMESPACE = ResourceNames(DEFAULT_STACK_NAME).metric_namespace
SERVICE = "service"
COUNT = "Count"
NO_UNIT = "None"
OTHER = "other"


@dataclass(frozen=True)
class MetricSpec:
    name: str
    dimensions: tuple[str, ...]  # besides ``service``
    description: str
    unit: str = COUNT


# -- the metrics ------------------------------------------------------------------------------------
DELIVERIES = MetricSpec(
    "Deliveries",
    ("status", "channel"),
    "Delivery decisions: sent, withheld_holdout, capped, deferred_quiet_hours, ... (channel 'none' "
    "when none was chosen).",
)
DELIVERIES_CAPPED = MetricSpec(
    "DeliveriesCapped",
    ("cap",),
    "Capped deliveries by the cap that stopped them (all_channels.per_week, ...).",
)
TRIGGERS = MetricSpec(
    "Triggers",
    ("status",),
    "L4 trigger evaluations: enqueued (fired now), scheduled (delayed), not_in_audience, ...",
)
EVENTS_INGESTED = MetricSpec("EventsIngested", (), "Events folded into profiles.")
EVENTS_DUPLICATE = MetricSpec("EventsDuplicate", (), "Redelivered events recognised and ignored.")
EVENTS_REJECTED = MetricSpec("EventsRejected", (), "Malformed events parked with their reason.")
PROFILES_WRITTEN = MetricSpec("ProfilesWritten", (), "Profile writes (at most one per user per batch).")
CONVERSIONS = MetricSpec(
    "Conversions",
    ("level", "group"),
    "Goal events counted for a campaign, by campaign level and holdout group (treated, withheld).",
)
CONVERSION_REVENUE = MetricSpec(
    "ConversionRevenue",
    ("level",),
    "Revenue credited to the last-touch message, by campaign level.",
    unit=NO_UNIT,
)
FEEDBACK_EVENTS = MetricSpec(
    "FeedbackEvents", ("type",), "SES events received: bounce, complaint, delivery, open, click, other."
)
ADDRESSES_SUPPRESSED = MetricSpec(
    "AddressesSuppressed", (), "Email suppressed after a permanent bounce or a complaint."
)
SEGMENTS_PLANNED = MetricSpec("SegmentsPlanned", (), "Audience segments queued for a campaign occurrence.")
PROFILES_SCANNED = MetricSpec("ProfilesScanned", (), "Profiles evaluated against a campaign audience.")
JOBS_ENQUEUED = MetricSpec("JobsEnqueued", (), "Delivery jobs queued by the audience workers.")
SCORING_SEGMENTS_PLANNED = MetricSpec("ScoringSegmentsPlanned", (), "Census tasks queued for a scoring run.")
SCORING_RUNS_WITHOUT_MODEL = MetricSpec(
    "ScoringRunsWithoutModel",
    (),
    "Daily scoring runs started with no trained model published (scored with the label-free models).",
)
PROFILES_SCORED = MetricSpec(
    "ProfilesScored", ("phase",), "Profiles read by the scorer, by phase (census, score)."
)
SCORES_WRITTEN = MetricSpec(
    "ScoresWritten",
    ("model",),
    "Profiles whose scores changed and were written, by the kind of model: trained or label-free.",
)
SCORE_CONFLICTS = MetricSpec("ScoreConflicts", (), "Score writes lost to a concurrent profile update.")
UNSUBSCRIBES = MetricSpec("Unsubscribes", ("channel",), "One-click unsubscribes, by channel.")
SHOPPERS_ERASED = MetricSpec("ShoppersErased", (), "Erasure requests carried out.")
HTTP_RESPONSES = MetricSpec("HttpResponses", ("status_class",), "HTTP API responses: 2xx, 4xx, 5xx.")
MESSAGES_PARKED = MetricSpec(
    "MessagesParked", (), "Messages or events a function put in its dead-letter queue, with a reason."
)
RECORDS_RETRIED = MetricSpec(
    "RecordsRetried", (), "Queue records reported as failed, to be redelivered by SQS."
)
CATALOG_FEED_ROWS = MetricSpec(
    "CatalogFeedRows", ("outcome",), "Rows of the scheduled catalog feed: loaded, refused (a bad row)."
)
CATALOG_FEED_CHANGES = MetricSpec(
    "CatalogFeedChanges", (), "Products the scheduled catalog feed changed (0 when it was loaded before)."
)

ALL_METRICS = (
    DELIVERIES,
    DELIVERIES_CAPPED,
    TRIGGERS,
    EVENTS_INGESTED,
    EVENTS_DUPLICATE,
    EVENTS_REJECTED,
    PROFILES_WRITTEN,
    CONVERSIONS,
    CONVERSION_REVENUE,
    FEEDBACK_EVENTS,
    ADDRESSES_SUPPRESSED,
    SEGMENTS_PLANNED,
    PROFILES_SCANNED,
    JOBS_ENQUEUED,
    SCORING_SEGMENTS_PLANNED,
    SCORING_RUNS_WITHOUT_MODEL,
    PROFILES_SCORED,
    SCORES_WRITTEN,
    SCORE_CONFLICTS,
    UNSUBSCRIBES,
    SHOPPERS_ERASED,
    HTTP_RESPONSES,
    MESSAGES_PARKED,
    RECORDS_RETRIED,
    CATALOG_FEED_ROWS,
    CATALOG_FEED_CHANGES,
)

# SES sending-event types (``detail.eventType``) → the ``type`` dimension of FEEDBACK_EVENTS.
FEEDBACK_TYPES = {
    "Bounce": "bounce",
    "Complaint": "complaint",
    "Delivery": "delivery",
    "Open": "open",
    "Click": "click",
}
LEVELS = tuple(Level)
GROUPS = ("treated", "withheld", "global_control")
CHANNELS = tuple(Channel)
# The deliveries metric's statuses: the decisions and the wait for a profile (a claim is never counted).
DELIVERY_STATUSES = tuple(s for s in DecisionStatus if s != DecisionStatus.CLAIMED)


def service_name(function_key: str) -> str:
    """The ``service`` dimension of a function's metrics (and its ``POWERTOOLS_SERVICE_NAME``)."""
    return f"nudge-{function_key}"


def bounded(value: object, allowed: Iterable[str]) -> str:
    """``value`` if it is one of ``allowed``, else ``other``: a dimension never grows unbounded."""
    return value if isinstance(value, str) and value in tuple(allowed) else OTHER


# -- counting and publishing ------------------------------------------------------------------------
Handler = TypeVar("Handler", bound=Callable[..., Any])
Key = tuple[tuple[tuple[str, str], ...], str, str]  # (dimensions, name, unit)


class FunctionMetrics:
    """One function's metric counts for the current invocation, published as EMF when it ends."""

    def __init__(self, function_key: str, namespace: str | None = None) -> None:
        self.function_key = function_key
        self.service = service_name(function_key)
        self._namespace = namespace
        self._values: dict[Key, float] = defaultdict(float)

    def add(self, spec: MetricSpec, value: float = 1, **dimensions: str) -> None:
        if set(dimensions) != set(spec.dimensions):
            raise ValueError(f"{spec.name} takes dimensions {spec.dimensions}, not {tuple(dimensions)}")
        key = (tuple(sorted(dimensions.items())), spec.name, spec.unit)
        self._values[key] += value

    @property
    def namespace(self) -> str:
        """The given namespace, else the deployment's (read when publishing, not at import)."""
        return self._namespace or os.environ.get(NAMESPACE_ENV) or NAMESPACE

    def counts(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        """What would be published now: (name, sorted dimensions) → value."""
        return {(name, dims): value for (dims, name, _), value in self._values.items()}

    def publish(self) -> None:
        """Print one EMF document per dimension set (Powertools ``Metrics``), then start afresh."""
        values, self._values = self._values, defaultdict(float)
        if not values or is_metrics_disabled():
            return
        by_dimensions: dict[tuple[tuple[str, str], ...], list[tuple[str, str, float]]] = defaultdict(list)
        for (dims, name, unit), value in values.items():
            by_dimensions[dims].append((name, unit, value))
        emf = Metrics(namespace=self.namespace, service=self.service)
        for dims, metrics in by_dimensions.items():
            for dimension, label in dims:
                emf.add_dimension(name=dimension, value=label)
            for name, unit, value in metrics:
                emf.add_metric(name=name, unit=unit, value=value)
            emf.flush_metrics()
        emf.clear_metrics()

    def log_metrics(self, handler: Handler) -> Handler:
        """Decorator: publish what the invocation counted when the handler returns or raises."""

        @functools.wraps(handler)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            try:
                return handler(*args, **kwargs)
            finally:
                self.publish()

        return cast(Handler, wrapped)

    def counting(self, dead_letters: DeadLetters) -> DeadLetters:
        """``dead_letters`` that also counts every message parked in it."""
        return _CountedDeadLetters(dead_letters, self)


class _CountedDeadLetters:
    def __init__(self, inner: DeadLetters, metrics: FunctionMetrics) -> None:
        self._inner = inner
        self._metrics = metrics

    def park(self, body: str, reason: str, source: str) -> None:
        self._inner.park(body, reason, source)
        self._metrics.add(MESSAGES_PARKED)


# -- what each function records ---------------------------------------------------------------------
def record_delivery(metrics: FunctionMetrics, decision: SendDecision) -> None:
    metrics.add(
        DELIVERIES,
        status=bounded(decision.status, DELIVERY_STATUSES),
        channel=bounded(decision.channel, CHANNELS) if decision.channel else "none",
    )
    if decision.status == DecisionStatus.CAPPED:
        metrics.add(DELIVERIES_CAPPED, cap=_cap_name(decision.reason))


def _cap_name(reason: str | None) -> str:
    """Cap reasons are ``throttle``, ``reserved_for_higher_value`` or ``<scope>.per_day|per_week``
    with scope ``all_channels`` or ``channel.<channel>`` — a set fixed by the policy's shape."""
    fixed = ("throttle", "reserved_for_higher_value")
    scopes = ("all_channels", *(f"channel.{c}" for c in CHANNELS))
    return bounded(reason, (*fixed, *(f"{s}.{p}" for s in scopes for p in ("per_day", "per_week"))))


def record_trigger(metrics: FunctionMetrics, outcome: TriggerOutcome | FanOutOutcome) -> None:
    metrics.add(TRIGGERS, status=bounded(outcome.status, TRIGGER_STATUSES))


TRIGGER_STATUSES = (
    "enqueued",
    "scheduled",
    "already_scheduled",
    "not_in_audience",
    "not_repeated",
    "inactive",
    "not_matching",
    *(f"journey_{t}" for t in Transition),
)


def record_ingest(metrics: FunctionMetrics, outcome: IngestOutcome) -> None:
    metrics.add(EVENTS_INGESTED, outcome.events_applied)
    metrics.add(EVENTS_DUPLICATE, outcome.duplicates)
    metrics.add(EVENTS_REJECTED, len(outcome.rejected))
    metrics.add(PROFILES_WRITTEN, outcome.profiles_written)
    if outcome.failed_record_ids:
        metrics.add(RECORDS_RETRIED, len(outcome.failed_record_ids))


class ConversionLike(Protocol):
    """What a recorded conversion tells the metrics (``shared.measurement.attribution.Conversion`` fits)."""

    @property
    def level(self) -> str: ...

    @property
    def group(self) -> str: ...

    @property
    def revenue(self) -> float: ...

    @property
    def attributed(self) -> bool: ...


def record_conversions(metrics: FunctionMetrics, conversions: Iterable[ConversionLike]) -> None:
    """Count newly recorded conversions by level and holdout group; sum the revenue credited by
    last touch (``attributed``) by level, so an order counted for several campaigns adds its revenue
    once. Pass only conversions recorded for the first time, so a redelivered order adds nothing."""
    for conversion in conversions:
        level = bounded(conversion.level, LEVELS)
        metrics.add(CONVERSIONS, level=level, group=bounded(conversion.group, GROUPS))
        if conversion.attributed:
            metrics.add(CONVERSION_REVENUE, conversion.revenue, level=level)


def record_feedback(
    metrics: FunctionMetrics, event: Mapping[str, Any], outcome: FeedbackOutcome | None
) -> None:
    """The SES event's type, and whether it suppressed the address (``outcome`` None: parked)."""
    from shared.delivery.feedback import ADDRESS_SUPPRESSED

    detail = event.get("detail")
    kind = detail.get("eventType") if isinstance(detail, Mapping) else None
    metrics.add(FEEDBACK_EVENTS, type=FEEDBACK_TYPES.get(str(kind), OTHER))
    if outcome is not None and outcome.status == ADDRESS_SUPPRESSED:
        metrics.add(ADDRESSES_SUPPRESSED)


def record_batch(metrics: FunctionMetrics, response: Mapping[str, Any]) -> None:
    """The records an SQS batch handler hands back to the queue (partial batch failures)."""
    failures = response.get("batchItemFailures") or []
    if failures:
        metrics.add(RECORDS_RETRIED, len(failures))


def record_http(metrics: FunctionMetrics, response: Mapping[str, Any]) -> None:
    status = int(response.get("statusCode", 200))
    metrics.add(HTTP_RESPONSES, status_class=f"{min(max(status // 100, 1), 5)}xx")
