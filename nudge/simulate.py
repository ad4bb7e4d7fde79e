"""``nudge simulate``: how many messages each shopper would get, before anything is deployed.

The simulation replays the local synthetic store week by week through the code that runs in
production, not a model of it:

* profiles are folded from the store's events by ``shared.profiles.fold.fold_events`` (what ingest
  does), as of each moment a campaign fires or a message is decided;
* batch campaigns fire at the instants their ``schedule`` yields (``shared.campaigns.schedules``, the
  evaluator the local runtime uses, in the schedule's time zone) and make a job
  (``DeliveryJob.for_occurrence``) for every profile in the audience, anonymous ones too, as the
  audience workers do; real-time (L4) campaigns fire on every store event their trigger pattern matches
  (``shared.events.patterns``, the EventBridge matcher) and make their job with the trigger function's
  ``shared.triggers.triggers.trigger_job`` (audience, ``repeat``, send key), now or when the delay is
  over (one schedule per send key); catalog campaigns fire on the price drops and restocks the
  store's events make, fanned out to the interested shoppers as the trigger function does
  (``nudge.simulated_catalog``);
* each job is decided when due by delivery's own ``shared.delivery.decision.decide`` on the shopper's
  simulated contact ledger: inactive campaign, cancellation (``cancel_if``, ``repeat``, audience),
  holdout, channel (anonymous shoppers and missing consent), quiet hours (the job comes back when they
  end and is decided again), caps with the fallback to the next channel; a send key decided once and
  seen again is a duplicate, as the send log's claim finds;
* journeys run in the journey engine itself (``nudge.simulated_journeys``): entry, re-entry, holdout,
  waits fired at their time, branches, splits, goal and exit events; their jobs are decided as above.

It reports the uncapped demand (every message the campaigns would like to send) beside what the
caps let through, per campaign and per level, and the shoppers whose demand exceeds the caps.
``tests/integration/test_one_decision.py`` holds it to the deliverer's decisions.

Not modelled: shoppers reacting to messages (the store's behaviour is fixed by its seed), bounces,
complaints and unsubscribes (no channel is ever suppressed), predicted scores (the scoring run does
not run, so audiences on scores see none), the time ingest and the queues take (an event is folded
and its message decided at the event's own instant), sends that fail.
"""

from __future__ import annotations

import heapq
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from nudge.profile_replay import ProfileReplay
from nudge.simulated_catalog import SimulatedCatalog
from nudge.simulated_journeys import SimulatedJourneys
from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.loader import Catalog
from shared.campaigns.model import Campaign
from shared.campaigns.policy import LEVEL_RANK, DeliveryPolicy
from shared.campaigns.schedules import ScheduleExpression
from shared.core.identity import is_anonymous
from shared.delivery.decision import (
    CANCELLED,
    CAPPED,
    DEFERRED,
    DEFERRED_SEND_TIME,
    DUPLICATE,
    SENT,
    WITHHELD,
    Decision,
    decide,
    deferred_job,
)
from shared.events.contract import SegmentEvent
from shared.events.patterns import matches
from shared.profiles.ledger import Ledger, SentRecord, prune
from shared.profiles.profile import Profile
from shared.triggers.triggers import trigger_job

WEEK = timedelta(days=7)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SimulationOptions:
    users: int = 2000
    weeks: int = 4
    seed: int = 7
    warmup_days: int = 14  # history the store builds before the measured weeks start


@dataclass
class CampaignTally:
    level: str
    fired: int = 0  # occurrences (batch) or matching events (L4)
    in_audience: int = 0
    unreachable: int = 0
    holdout: int = 0
    cancelled: int = 0  # L4 triggers whose reason went away (cancel_if, repeat, audience)
    duplicates: int = 0  # a send key already decided (a once-per-shopper campaign firing again)
    wanted: int = 0  # reachable, not held out: the uncapped demand
    deferred: int = 0  # moved past quiet hours
    sent: int = 0
    capped: Counter[str] = field(default_factory=Counter)


@dataclass
class SimulationReport:
    options: SimulationOptions
    start: datetime
    end: datetime
    shoppers: int
    events: int
    campaigns: dict[str, CampaignTally]
    wanted_per_user_week: dict[str, list[int]]
    sent_per_user_week: dict[str, list[int]]
    capped_users: dict[str, Counter[str]]
    wall_seconds: float = 0.0

    def distribution(self, which: str) -> dict[str, float]:
        """Messages per shopper per week over every (shopper, week): mean, p50, p95, max."""
        table = self.wanted_per_user_week if which == "wanted" else self.sent_per_user_week
        values = sorted(n for weeks in table.values() for n in weeks)
        if not values:
            return {"mean": 0.0, "p50": 0.0, "p95": 0.0, "max": 0.0}
        return {
            "mean": round(statistics.fmean(values), 2),
            "p50": float(_percentile(values, 50)),
            "p95": float(_percentile(values, 95)),
            "max": float(values[-1]),
        }

    def by_level(self) -> dict[str, dict[str, int]]:
        levels: dict[str, dict[str, int]] = {}
        for tally in self.campaigns.values():
            row = levels.setdefault(tally.level, {"wanted": 0, SENT: 0, CAPPED: 0, "campaigns": 0})
            row["wanted"] += tally.wanted
            row[SENT] += tally.sent
            row[CAPPED] += sum(tally.capped.values())
            row["campaigns"] += 1
        return dict(sorted(levels.items()))

    def per_week(self, count: int) -> float:
        return round(count / max(self.shoppers, 1) / self.options.weeks, 3)

    def as_dict(self) -> dict[str, Any]:
        return {
            "users": self.shoppers,
            "weeks": self.options.weeks,
            "seed": self.options.seed,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "events": self.events,
            "wall_seconds": self.wall_seconds,
            "per_user_week_wanted": self.distribution("wanted"),
            "per_user_week_sent": self.distribution(SENT),
            "campaigns": {
                cid: {
                    "level": t.level,
                    "fired": t.fired,
                    "in_audience": t.in_audience,
                    "unreachable": t.unreachable,
                    "holdout": t.holdout,
                    "wanted": t.wanted,
                    DEFERRED: t.deferred,
                    CANCELLED: t.cancelled,
                    "duplicates": t.duplicates,
                    SENT: t.sent,
                    CAPPED: dict(t.capped),
                }
                for cid, t in self.campaigns.items()
            },
            "levels": self.by_level(),
            "users_over_caps": len(self.capped_users),
        }


def _percentile(ordered: list[int], q: int) -> int:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, -(-q * len(ordered) // 100))
    return ordered[rank - 1]


def simulate(
    catalog: Catalog, options: SimulationOptions, progress: Progress | None = None
) -> SimulationReport:
    from nudge.local.snapshot import store_events

    started = time.perf_counter()
    step = progress or (lambda _label, _done, _total: None)
    step("generating the store's events", 0, 1)
    days = options.warmup_days + 7 * options.weeks
    events, store_start, end = store_events(options.users, days, options.seed)
    start = store_start + timedelta(days=options.warmup_days)
    step("replaying the store, firing campaigns and deciding", 0, 1)
    shoppers = sorted({e.profile_id for e in events if not is_anonymous(e.profile_id)})
    report = SimulationReport(
        options=options,
        start=start,
        end=end,
        shoppers=len(shoppers),
        events=len(events),
        campaigns={c.id: CampaignTally(c.level) for c in catalog if c.enabled},
        wanted_per_user_week={u: [0] * options.weeks for u in shoppers},
        sent_per_user_week={u: [0] * options.weeks for u in shoppers},
        capped_users={},
    )
    _run(catalog, events, start, end, step, report)
    report.wall_seconds = round(time.perf_counter() - started, 2)
    return report


@dataclass
class SimulatedDelivery:
    """Delivery's decisions on simulated ledgers: :func:`decide` on each shopper's simulated send
    history, and the send log's rule that a send key's first logged decision stands (a later job
    with the same key that reaches the caps is a ``duplicate``, as the deliverer's claim finds)."""

    policy: DeliveryPolicy
    history: dict[str, list[SentRecord]] = field(default_factory=lambda: defaultdict(list))
    logged: dict[str, str] = field(default_factory=dict)  # send key -> the decision logged first

    def deliver(
        self,
        job: DeliveryJob,
        campaign: Campaign,
        profile: Profile | None,
        now: datetime,
        weights: Mapping[str, float] | None = None,
    ) -> Decision:
        """``weights``: an experiment's reviewed traffic shares (as delivery reads them), else the file's."""
        sends = self.history[job.user_id] = prune(self.history[job.user_id], now)
        ledger = Ledger(job.user_id, tuple(sends))
        decision = decide(job, campaign, profile, ledger, self.policy, now, weights)
        if decision.status in (DEFERRED, DEFERRED_SEND_TIME):
            return decision  # logged beside the send key
        if decision.reaches_caps and job.send_key in self.logged:
            return replace(
                decision, status=DUPLICATE, reason="already_sent_or_in_flight", channel=decision.channels[0]
            )
        self.logged.setdefault(job.send_key, decision.status)
        if decision.status == SENT:
            assert decision.channel is not None
            sends.append(SentRecord(now, decision.channel, campaign.id, campaign.level, job.send_key))
        return decision


@dataclass(order=True)
class _Due:
    """A delivery job due at ``at`` (higher-ranked messages first at the same instant)."""

    at: datetime
    rank: int
    sequence: int
    job: DeliveryJob = field(compare=False)
    campaign: Campaign = field(compare=False)
    redelivered: bool = field(default=False, compare=False)  # after a quiet-hours deferral


def _run(
    catalog: Catalog,
    events: list[SegmentEvent],
    start: datetime,
    end: datetime,
    step: Progress,
    report: SimulationReport,
) -> None:
    """Replay the store in time order: campaigns make jobs as the trigger and audience functions do
    (``shared.triggers.triggers.trigger_job``, ``DeliveryJob.for_occurrence``) and each job is decided
    when it is due, on the profile as of then, as the deliver function does."""
    active = [c for c in catalog if c.enabled]
    firings: list[tuple[datetime, int, Campaign]] = []
    for campaign in active:
        if campaign.schedule is not None:
            expression = ScheduleExpression.parse(campaign.schedule.expression, campaign.schedule.timezone)
            firings += [(t, LEVEL_RANK[campaign.level], campaign) for t in expression.occurrences(start, end)]
    firings.sort(key=lambda f: (f[0], -f[1], f[2].id))
    patterns = [(c, c.trigger.event_pattern()) for c in active if c.trigger is not None]
    replay = ProfileReplay()
    delivery = SimulatedDelivery(catalog.policy)
    due: list[_Due] = []
    scheduled: set[str] = set()  # delayed triggers' one-time schedules, named by send key
    sequence = 0

    def enqueue(at: datetime, job: DeliveryJob, campaign: Campaign, redelivered: bool = False) -> None:
        nonlocal sequence
        rank = -(LEVEL_RANK[campaign.level] * 1000 + campaign.priority)
        heapq.heappush(due, _Due(at, rank, sequence, job, campaign, redelivered))
        sequence += 1
        if not redelivered:
            report.campaigns[campaign.id].in_audience += 1

    journeys = SimulatedJourneys(catalog, replay.profile, start)
    products = SimulatedCatalog(catalog)  # price drops and restocks (nudge/simulated_catalog.py)

    def take_journey_jobs(at: datetime) -> None:
        for job, step_campaign in journeys.taken():
            enqueue(at, job, step_campaign)

    def deliver_due(until: datetime) -> None:
        while (due and due[0].at <= until) or ((wake := journeys.next_wake()) is not None and wake <= until):
            if (wake := journeys.next_wake()) is not None and wake <= until and (not due or wake < due[0].at):
                take_journey_jobs(journeys.wake_next())
                continue
            item = heapq.heappop(due)
            scheduled.discard(item.job.send_key)
            # a job made for a visitor is decided for the shopper they logged in as, as delivery does
            item = replace(item, job=item.job.model_copy(update={"user_id": replay.follow(item.job.user_id)}))
            profile = replay.profile(item.job.user_id)
            decision = delivery.deliver(item.job, item.campaign, profile, item.at)
            _tally(report, item, decision)
            if decision.status in (DEFERRED, DEFERRED_SEND_TIME) and decision.defer_until is not None:
                # as delivery's one-time schedule brings it back (a send time's keeps its variant)
                later = deferred_job(item.job, decision)
                enqueue(decision.defer_until, later, item.campaign, redelivered=True)

    def fire_batch(at: datetime, campaign: Campaign) -> None:
        if not campaign.is_active(at):
            return  # the planner makes no segment
        report.campaigns[campaign.id].fired += 1
        occurrence = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        audience = campaign.parsed_audience
        for profile in replay.everyone():  # every profile the table holds, anonymous ones too
            if audience.includes(profile, at):
                enqueue(at, DeliveryJob.for_occurrence(campaign.id, occurrence, profile.user_id), campaign)

    next_firing = 0
    total = len(events)
    for index, event in enumerate(events):
        deliver_due(event.timestamp - MOMENT)
        while next_firing < len(firings) and firings[next_firing][0] <= event.timestamp:
            at, _, campaign = firings[next_firing]
            deliver_due(at - MOMENT)
            fire_batch(at, campaign)
            deliver_due(at)
            next_firing += 1
        if event.timestamp > start and journeys.routed:
            envelope = {"detail": event.model_dump(mode="json", by_alias=True, exclude_none=True)}
            journeys.route(event, envelope, replay.follow(event.profile_id))
            take_journey_jobs(event.timestamp)
        if event.timestamp > start and patterns:
            envelope = {"detail": event.model_dump(mode="json", by_alias=True, exclude_none=True)}
            profile_of = partial(replay.profile, event.profile_id)
            for campaign, pattern in patterns:
                if not matches(pattern, envelope):
                    continue
                outcome = trigger_job(campaign, event, profile_of, event.timestamp)
                if outcome.job is None:
                    continue
                report.campaigns[campaign.id].fired += 1
                if campaign.is_journey:
                    journeys.enter(campaign, outcome.job, event.timestamp)
                    take_journey_jobs(event.timestamp)
                    continue
                delay = campaign.trigger.delay_time if campaign.trigger else None
                if not delay:
                    enqueue(event.timestamp, outcome.job, campaign)
                elif outcome.job.send_key not in scheduled:  # a schedule is made once per name
                    scheduled.add(outcome.job.send_key)
                    delayed = outcome.job.model_copy(update={"not_before": event.timestamp + delay})
                    enqueue(event.timestamp + delay, delayed, campaign)
        if (
            products.campaigns
        ):  # catalog campaigns: the catalog and interest from every event, fired after start
            for campaign, jobs in products.add(event, replay.follow(event.profile_id)):
                if event.timestamp > start:
                    report.campaigns[campaign.id].fired += 1
                    for job in jobs:
                        enqueue(event.timestamp, job, campaign)
        if journeys.segments.journeys and event.timestamp > start:
            # segment entry, as ingest decides it: the profile before and after this event's fold
            owner = replay.follow(event.profile_id)
            before = journeys.segments_matched(replay.profile(owner), event.timestamp)
            replay.add(event)
            after = replay.profile(replay.follow(event.profile_id))
            if after is not None:
                journeys.enter_segments(before, after, event.message_id, event.timestamp)
                take_journey_jobs(event.timestamp)
        else:
            replay.add(event)  # ingest folds the event before delivery reads the profile
        deliver_due(event.timestamp)
        if (index + 1) % 5000 == 0:
            step("replaying the store, firing campaigns", index + 1, total)
    for at, _, campaign in firings[next_firing:]:
        deliver_due(at - MOMENT)
        fire_batch(at, campaign)
    deliver_due(end + WEEK)  # deferrals and delays past the end still go out (counted in the last week)
    step("replaying the store, firing campaigns", total, total)


# Jobs due strictly before an instant are decided before what happens at it.
MOMENT = timedelta(microseconds=1)


def _tally(report: SimulationReport, item: _Due, decision: Decision) -> None:
    tally = report.campaigns[item.campaign.id]
    user_id, status = item.job.user_id, decision.status
    if not item.redelivered and status in (DEFERRED, DEFERRED_SEND_TIME, SENT, CAPPED):
        tally.wanted += 1
        week = _week(report, item.at)
        if user_id in report.wanted_per_user_week and week is not None:
            report.wanted_per_user_week[user_id][week] += 1
    if status == DEFERRED:
        tally.deferred += 1
    elif status == DEFERRED_SEND_TIME:
        pass  # wanted (above); decided when its variant's send time comes
    elif status == SENT:
        tally.sent += 1
        week = _week(report, item.at)
        if user_id in report.sent_per_user_week and week is not None:
            report.sent_per_user_week[user_id][week] += 1
    elif status == CAPPED:
        reason = str(decision.reason)
        tally.capped[reason] += 1
        report.capped_users.setdefault(user_id, Counter())[reason] += 1
    elif status == WITHHELD:
        tally.holdout += 1
    elif status == CANCELLED:
        tally.cancelled += 1
    elif status == DUPLICATE:
        tally.duplicates += 1
    elif not item.redelivered:
        tally.unreachable += 1  # no channel reaches the shopper (or unknown, or the campaign ended)


def _week(report: SimulationReport, at: datetime) -> int | None:
    """Which measured week ``at`` falls in (a message deferred past the end counts in the last week)."""
    if at < report.start:
        return None
    return min(int((at - report.start) / WEEK), report.options.weeks - 1)
