"""What invokes the functions, declared once: the event-bus rules (every event to ingest, one rule per
L4 campaign, SES feedback) and the schedules (one per batch campaign, the daily scoring run), as
the stack and the local runtime both build them. Campaigns that have expired are left out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.deployment.naming import CATALOG_CHANGE, JOURNEY_EVENT, OWN_BUS
from shared.deployment.topology import (
    DEFAULT_BUS,
    FEEDBACK_DLQ_KEY,
    INGEST_QUEUE,
    PLANNER_DLQ_KEY,
    TRIGGER_DLQ_KEY,
)
from shared.events.sources import INTERNAL_EVENT_SOURCE

if TYPE_CHECKING:
    from shared.campaigns.model import Campaign


# The bus is Nudge's own, so the ingest rule takes everything on it: a malformed payload must reach
# ingest (and its dead-letter queue, with a reason) rather than be dropped silently by a narrower pattern.
# Everything but Nudge's own internal events (the catalog's price drops and restocks), which are no
# shopper's event: the catalog campaigns' rules take them.
MATCH_ALL_EVENTS: Mapping[str, Any] = {"source": [{"anything-but": [INTERNAL_EVENT_SOURCE]}]}


@dataclass(frozen=True)
class RuleSpec:
    """An EventBridge rule on the Nudge bus, with exactly one target: a queue or a function."""

    key: str
    pattern: Mapping[str, Any]
    description: str
    target_queue: str | None = None
    target_function: str | None = None
    campaign_id: str | None = None
    bus: str = OWN_BUS  # DEFAULT_BUS for events AWS services publish (SES feedback)
    dead_letter_queue: str = TRIGGER_DLQ_KEY
    kind: str | None = None  # JOURNEY_EVENT: an event a journey ends on or waits for (not an entry);
    # CATALOG_CHANGE: a catalog campaign's change

    def target_input(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """What a function target receives: the campaign id beside the whole original event."""
        if self.campaign_id is None:
            return dict(event)
        kind = {"kind": self.kind} if self.kind else {}
        return {"campaign_id": self.campaign_id, **kind, "event": dict(event)}

    @property
    def input_template(self) -> str | None:
        """The same payload as an EventBridge input transformer template (``aws.events.event.json``)."""
        if self.campaign_id is None:
            return None
        kind = f'"kind": "{self.kind}", ' if self.kind else ""
        return f'{{"campaign_id": "{self.campaign_id}", {kind}"event": <aws.events.event.json>}}'


def journey_event_pattern(campaign: Campaign) -> dict[str, Any] | None:
    """The pattern of a journey's event rule: the events that end it (goal, exit_if) or that a
    ``wait until`` waits for, by name; their ``where`` conditions are checked when one arrives. None
    when the journey waits for no event (no rule, no cost)."""
    from shared.campaigns.journey import WaitStep

    if not campaign.is_journey:
        return None
    names = set(campaign.ending_events())
    names.update(
        s.until.event for s in campaign.flow.steps if isinstance(s, WaitStep) and s.until is not None
    )
    if not names:
        return None
    return {"detail": {"type": ["track"], "event": sorted(names)}}


SCHEDULED_TIME = "<aws.scheduler.scheduled-time>"


@dataclass(frozen=True)
class ScheduleSpec:
    """An EventBridge Scheduler schedule: one occurrence of a batch campaign (``campaign_id``), or
    a system job such as the daily scoring run (``campaign_id`` None: the input is the run time)."""

    key: str
    expression: str
    timezone: str
    campaign_id: str | None
    target_function: str = "planner"
    enabled: bool = True
    retry_attempts: int = 3
    max_event_age_s: int = 3600

    @property
    def input_template(self) -> dict[str, str]:
        if self.campaign_id is None:
            return {"run": SCHEDULED_TIME}
        return {"campaign_id": self.campaign_id, "occurrence": SCHEDULED_TIME}

    def payload(self, scheduled_time: str) -> dict[str, str]:
        """What the target receives when the schedule fires at ``scheduled_time``."""
        return {k: scheduled_time if v == SCHEDULED_TIME else v for k, v in self.input_template.items()}


INGEST_RULE = RuleSpec(
    "ingest-all",
    MATCH_ALL_EVENTS,
    "Every event on the Nudge bus goes to ingest.",
    target_queue=INGEST_QUEUE.key,
)


# Segment's EventBridge destination writes to a partner event bus (aws.partner/segment.com/...); with
# context segment_partner_bus a rule there forwards its events to Nudge's bus, where they are routed
# like any app's (ingest, L4 triggers: both route on the payload, never on the source).
SEGMENT_FORWARD_PATTERN: Mapping[str, Any] = {"source": [{"prefix": "aws.partner/segment.com"}]}

SES_FEEDBACK_DETAIL_TYPES = (
    "Email Bounced",
    "Email Complaint Received",
    "Email Delivered",
    "Email Opened",
    "Email Clicked",
)
# SES tags every event it publishes through a configuration set with the set's name.
SES_CONFIGURATION_SET_TAG = "ses:configuration-set"


def ses_feedback_rule(configuration_set: str) -> RuleSpec:
    """SES publishes sending events to the account's default bus (configuration set → EventBridge),
    where other applications' mail lands too: the rule takes only events of Nudge's configuration set."""
    return RuleSpec(
        "ses-feedback",
        {
            "source": ["aws.ses"],
            "detail-type": list(SES_FEEDBACK_DETAIL_TYPES),
            "detail": {"mail": {"tags": {SES_CONFIGURATION_SET_TAG: [configuration_set]}}},
        },
        "Permanent bounces and complaints suppress the address; deliveries, opens and clicks are measured.",
        target_function="feedback",
        bus=DEFAULT_BUS,
        dead_letter_queue=FEEDBACK_DLQ_KEY,
    )


def event_rules(
    campaigns: Iterable[Campaign],
    *,
    now: datetime,
    ses_configuration_set: str | None,
    feed_object: tuple[str, str] | None = None,
) -> list[RuleSpec]:
    """The ingest rule, SES feedback (unless there is no configuration set: feedback turned off), the
    catalog feed's when ``feed_object`` (bucket, key) is named, and
    one rule per enabled real-time (L4) campaign that has not expired at ``now`` (shared.campaigns.expiry),
    and one per live journey that ends on or waits for events (:func:`journey_event_pattern`)."""
    # Here, not at the top: the campaign calendar (schedules, cron, the calendar module) is synth's
    # concern, not a request's.
    from shared.campaigns.expiry import is_deployed

    campaigns = list(campaigns)
    rules = [INGEST_RULE]
    if ses_configuration_set is not None:
        rules.append(ses_feedback_rule(ses_configuration_set))
    if feed_object is not None:
        rules.append(catalog_feed_rule(*feed_object))
    for campaign in campaigns:
        if campaign.trigger is not None and campaign.enabled and is_deployed(campaign, now):
            rules.append(
                RuleSpec(
                    f"trigger-{campaign.id}",
                    campaign.trigger.event_pattern(),
                    f"L4 trigger for campaign {campaign.id}",
                    target_function="trigger",
                    campaign_id=campaign.id,
                    kind=CATALOG_CHANGE if campaign.trigger.catalog is not None else None,
                )
            )
    for campaign in campaigns:
        if campaign.is_journey and campaign.enabled and is_deployed(campaign, now):
            pattern = journey_event_pattern(campaign)
            if pattern is not None:
                rules.append(
                    RuleSpec(
                        f"journey-{campaign.id}",
                        pattern,
                        f"Goal, exit and awaited events of journey {campaign.id}",
                        target_function="trigger",
                        campaign_id=campaign.id,
                        kind=JOURNEY_EVENT,
                    )
                )
    return rules


def campaign_schedules(campaigns: Iterable[Campaign], *, now: datetime) -> list[ScheduleSpec]:
    """One schedule per batch (L1-L3) campaign that has not expired at ``now``: a one-time schedule
    in the past would fail the deploy or never run (shared.campaigns.expiry)."""
    from shared.campaigns.expiry import is_deployed

    return [
        ScheduleSpec(f"campaign-{c.id}", c.schedule.expression, c.schedule.timezone, c.id, enabled=c.enabled)
        for c in campaigns
        if c.schedule is not None and is_deployed(c, now)
    ]


# Scores are refreshed daily, before the morning's L3 campaigns; the run's time is its "as of".
SCORING_SCHEDULE = ScheduleSpec(
    "scoring-daily", "cron(0 2 * * ? *)", "UTC", campaign_id=None, target_function="score_planner"
)
# The catalog feed (docs/catalog.md) is loaded daily before the scoring run, once the deployment names
# its object (context catalog_feed_key; without one the schedule is deployed off): context
# catalog_feed_schedule changes when.
CATALOG_FEED_SCHEDULE = ScheduleSpec(
    "catalog-feed", "cron(0 1 * * ? *)", "UTC", campaign_id=None, target_function="catalog_feed"
)
SYSTEM_SCHEDULES = (SCORING_SCHEDULE, CATALOG_FEED_SCHEDULE)


@dataclass(frozen=True)
class FeedSettings:
    """Where and when the catalog feed is loaded: the object's ``key`` in the stack's feed bucket (None:
    no feed, its schedule off and no rule) and the schedule's ``expression``."""

    key: str | None = None
    expression: str = CATALOG_FEED_SCHEDULE.expression


def system_schedules(feed: FeedSettings) -> list[ScheduleSpec]:
    """The system's own schedules, the catalog feed's as ``feed`` says."""
    return [
        replace(spec, expression=feed.expression, enabled=feed.key is not None)
        if spec is CATALOG_FEED_SCHEDULE
        else spec
        for spec in SYSTEM_SCHEDULES
    ]


def all_schedules(
    campaigns: Iterable[Campaign], *, now: datetime, feed: FeedSettings = FeedSettings()
) -> list[ScheduleSpec]:
    """Every schedule deployed at ``now``: the system's own, then one per live batch campaign."""
    return [*system_schedules(feed), *campaign_schedules(campaigns, now=now)]


def catalog_feed_rule(bucket: str, key: str) -> RuleSpec:
    """S3 publishes its buckets' events to the account's default bus (the feed bucket has EventBridge
    notifications on): the rule loads the feed when its object is created or replaced."""
    return RuleSpec(
        "catalog-feed-object",
        {
            "source": ["aws.s3"],
            "detail-type": ["Object Created"],
            "detail": {"bucket": {"name": [bucket]}, "object": {"key": [key]}},
        },
        "The catalog feed object was put: load it.",
        target_function="catalog_feed",
        bus=DEFAULT_BUS,
        dead_letter_queue=PLANNER_DLQ_KEY,
    )
