"""``nudge simulate``: how many messages each shopper would get, before anything is deployed.

The simulation replays the local synthetic store week by week through the code that runs in
production, not a model of it:

* profiles are folded from the store's events by ``shared.profiles.profile.fold_events`` (what ingest does),
  as of each moment a campaign fires;
* batch campaigns fire at the instants their ``schedule`` yields (``shared.campaigns.schedules``, the
  evaluator the local runtime uses, in the schedule's time zone); real-time (L4) campaigns fire on
  every store event their trigger pattern matches (``shared.events.patterns``, the EventBridge matcher);
* the audience is the campaign's rules (``shared.campaigns.audience``), evaluated when the campaign fires;
* the holdout, the channel (the first one the shopper can receive,
``shared.delivery.deliverer.choose_channel``),
  quiet hours and frequency caps are applied in delivery's order with the delivery guards' own pure
  functions (``shared.delivery.guards``), to each shopper's simulated send history, in time order.

It reports the uncapped demand (every message the campaigns would like to send) beside what the
caps let through, per campaign and per level, and the shoppers whose demand exceeds the caps.

Not modelled: shoppers reacting to messages (the store's behaviour is fixed by its seed), L4 delays
and cancel conditions, bounces and complaints.
"""

from __future__ import annotations

import heapq
import statistics
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from shared.campaigns.cancellation import cancel_reason
from shared.campaigns.jobs import DeliveryJob, TriggerContext
from shared.campaigns.loader import Catalog
from shared.campaigns.model import Campaign
from shared.campaigns.policy import LEVEL_RANK
from shared.campaigns.schedules import ScheduleExpression
from shared.delivery.deliverer import choose_channel
from shared.delivery.guards import Candidate, cap_reason, in_holdout, quiet_until, shopper_zone
from shared.events.contract import SegmentEvent
from shared.events.patterns import matches
from shared.profiles.ledger import SentRecord, prune
from shared.profiles.profile import Profile, fold_events

WEEK = timedelta(days=7)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class SimulationOptions:
    users: int = 2000
    weeks: int = 4
    seed: int = 7
    warmup_days: int = 14  # history the store builds before the measured weeks start


@dataclass(frozen=True)
class Intent:
    """A message a campaign wants to send to one shopper at one moment (before the guards)."""

    at: datetime
    campaign: Campaign
    user_id: str
    send_key: str
    channel: str | None
    timezone: str | None


@dataclass
class CampaignTally:
    level: str
    fired: int = 0  # occurrences (batch) or matching events (L4)
    in_audience: int = 0
    unreachable: int = 0
    holdout: int = 0
    cancelled: int = 0  # delayed L4 triggers whose reason went away (cancel_if, repeat, audience)
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
            row = levels.setdefault(tally.level, {"wanted": 0, "sent": 0, "capped": 0, "campaigns": 0})
            row["wanted"] += tally.wanted
            row["sent"] += tally.sent
            row["capped"] += sum(tally.capped.values())
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
            "per_user_week_sent": self.distribution("sent"),
            "campaigns": {
                cid: {
                    "level": t.level,
                    "fired": t.fired,
                    "in_audience": t.in_audience,
                    "unreachable": t.unreachable,
                    "holdout": t.holdout,
                    "wanted": t.wanted,
                    "deferred_quiet_hours": t.deferred,
                    "cancelled": t.cancelled,
                    "sent": t.sent,
                    "capped": dict(t.capped),
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
    fired: Counter[str] = Counter()
    cancelled: Counter[str] = Counter()
    intents = _intents(catalog, events, start, end, step, fired, cancelled)
    step("applying holdout, quiet hours and caps", 0, 1)
    shoppers = sorted({e.profile_id for e in events if not e.profile_id.startswith("anon:")})
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
    for campaign_id, count in fired.items():
        report.campaigns[campaign_id].fired = count
    for campaign_id, count in cancelled.items():
        report.campaigns[campaign_id].cancelled = count
    _deliver(catalog, intents, report)
    report.wall_seconds = round(time.perf_counter() - started, 2)
    return report


@dataclass
class _Replay:
    """Profiles as of a moving instant: events are folded when a campaign needs the profile."""

    profiles: dict[str, Profile] = field(default_factory=dict)
    pending: dict[str, list[SegmentEvent]] = field(default_factory=lambda: defaultdict(list))

    def add(self, event: SegmentEvent) -> None:
        self.pending[event.profile_id].append(event)

    def profile(self, user_id: str) -> Profile | None:
        waiting = self.pending.pop(user_id, None)
        if waiting:
            current = self.profiles.get(user_id) or Profile(user_id=user_id)
            self.profiles[user_id] = fold_events(current, waiting, in_place=True).profile
        return self.profiles.get(user_id)

    def everyone(self) -> list[Profile]:
        for user_id in list(self.pending):
            self.profile(user_id)
        return list(self.profiles.values())


def _intents(
    catalog: Catalog,
    events: list[SegmentEvent],
    start: datetime,
    end: datetime,
    step: Progress,
    fired: Counter[str],
    cancelled: Counter[str] | None = None,
) -> list[Intent]:
    """Every message a campaign wants in the measured window, in time order; counts firings."""
    active = [c for c in catalog if c.enabled]
    firings: list[tuple[datetime, int, Campaign]] = []
    for campaign in active:
        if campaign.schedule is not None:
            expression = ScheduleExpression.parse(campaign.schedule.expression, campaign.schedule.timezone)
            firings += [(t, LEVEL_RANK[campaign.level], campaign) for t in expression.occurrences(start, end)]
    firings.sort(key=lambda f: (f[0], -f[1], f[2].id))
    triggered = [c for c in active if c.trigger is not None]
    patterns = [(c, c.trigger.event_pattern()) for c in triggered if c.trigger is not None]
    replay = _Replay()
    intents: list[Intent] = []
    cursor = 0
    total = len(events)

    def fire_batch(at: datetime, campaign: Campaign) -> None:
        occurrence = at.strftime("%Y-%m-%dT%H:%M:%SZ")
        if not campaign.is_active(at):
            return
        audience = campaign.parsed_audience
        fired[campaign.id] += 1
        for profile in replay.everyone():
            if profile.user_id.startswith("anon:") or not audience.includes(profile, at):
                continue
            intents.append(
                Intent(
                    at,
                    campaign,
                    profile.user_id,
                    f"{campaign.id}#{occurrence}#{profile.user_id}",
                    choose_channel(campaign, profile)[0],
                    _zone_name(profile),
                )
            )

    # Delayed triggers wait here until due; then the profile as of that moment decides (cancel_if,
    # repeat, audience), as delivery does when the one-time schedule fires.
    delayed: list[tuple[datetime, int, Campaign, SegmentEvent, str]] = []
    once: set[str] = set()
    cancelled = Counter() if cancelled is None else cancelled

    def release_due(until: datetime | None) -> None:
        while delayed and (until is None or delayed[0][0] <= until):
            due, _, campaign, event, send_key = heapq.heappop(delayed)
            profile = replay.profile(event.profile_id) or Profile(user_id=event.profile_id)
            job = DeliveryJob.for_trigger(campaign.id, event.profile_id, _context(event))
            if cancel_reason(campaign, profile, job, due) is not None:
                cancelled[campaign.id] += 1
                continue
            intents.append(
                Intent(
                    due,
                    campaign,
                    event.profile_id,
                    send_key,
                    choose_channel(campaign, profile)[0],
                    _zone_name(profile),
                )
            )

    next_firing = 0
    for index, event in enumerate(events):
        release_due(event.timestamp)
        while next_firing < len(firings) and firings[next_firing][0] <= event.timestamp:
            at, _, campaign = firings[next_firing]
            fire_batch(at, campaign)
            next_firing += 1
        if event.timestamp > start and patterns and not event.profile_id.startswith("anon:"):
            envelope = {"detail": event.model_dump(mode="json", by_alias=True, exclude_none=True)}
            for campaign, pattern in patterns:
                if not matches(pattern, envelope) or not campaign.is_active(event.timestamp):
                    continue
                trigger = campaign.trigger
                assert trigger is not None
                fired[campaign.id] += 1
                profile = replay.profile(event.profile_id)
                audience = campaign.parsed_audience
                if profile is None:
                    profile = Profile(user_id=event.profile_id)
                if audience.rules and not audience.includes(profile, event.timestamp):
                    continue
                occurrence = "once" if trigger.once_per_user else event.message_id
                send_key = f"{campaign.id}#{occurrence}#{event.profile_id}"
                if trigger.once_per_user:
                    if send_key in once:
                        continue
                    once.add(send_key)
                if trigger.delay_time:
                    due = event.timestamp + trigger.delay_time
                    heapq.heappush(delayed, (due, index, campaign, event, send_key))
                    continue
                intents.append(
                    Intent(
                        event.timestamp,
                        campaign,
                        event.profile_id,
                        send_key,
                        choose_channel(campaign, profile)[0],
                        _zone_name(profile),
                    )
                )
        replay.add(event)
        cursor = index + 1
        if cursor % 5000 == 0:
            step("replaying the store, firing campaigns", cursor, total)
    for at, _, campaign in firings[next_firing:]:
        fire_batch(at, campaign)
    release_due(end)
    intents.sort(key=lambda i: i.at)
    step("replaying the store, firing campaigns", total, total)
    return intents


def _context(event: SegmentEvent) -> TriggerContext:
    return TriggerContext(
        event=event.event or event.type,
        message_id=event.message_id,
        timestamp=event.timestamp,
        properties=event.properties,
    )


def _zone_name(profile: Profile) -> str | None:
    zone = profile.traits.get("timezone")
    return zone if isinstance(zone, str) else None


def _deliver(catalog: Catalog, intents: Iterable[Intent], report: SimulationReport) -> None:
    """The delivery guards, in delivery's order: holdout, channel, quiet hours (defer), caps."""
    policy = catalog.policy
    queue: list[tuple[datetime, int, int, Intent]] = []
    for sequence, intent in enumerate(intents):
        tally = report.campaigns[intent.campaign.id]
        tally.in_audience += 1
        campaign = intent.campaign
        if in_holdout(campaign.id, intent.user_id, campaign.holdout_percent):
            tally.holdout += 1
            continue
        if intent.channel is None:
            tally.unreachable += 1
            continue
        tally.wanted += 1
        week = _week(report, intent.at)
        if intent.user_id in report.wanted_per_user_week and week is not None:
            report.wanted_per_user_week[intent.user_id][week] += 1
        zone = shopper_zone({"timezone": intent.timezone} if intent.timezone else {}, policy)
        send_at = quiet_until(intent.at, zone, intent.channel, policy) or intent.at
        if send_at != intent.at:
            tally.deferred += 1
        rank = -(LEVEL_RANK[campaign.level] * 1000 + campaign.priority)
        heapq.heappush(queue, (send_at, rank, sequence, intent))
    history: dict[str, list[SentRecord]] = defaultdict(list)
    while queue:
        send_at, _, _, intent = heapq.heappop(queue)
        campaign = intent.campaign
        tally = report.campaigns[campaign.id]
        channel = str(intent.channel)
        zone = shopper_zone({"timezone": intent.timezone} if intent.timezone else {}, policy)
        ledger = history[intent.user_id] = prune(history[intent.user_id], send_at)
        candidate = Candidate(
            channel,
            campaign.id,
            campaign.level,
            campaign.priority,
            intent.send_key,
            campaign.caps,
            campaign.trigger.throttle_time if campaign.trigger else None,
        )
        reason = cap_reason(ledger, candidate, policy, send_at, zone)
        if reason is not None:
            tally.capped[reason] += 1
            report.capped_users.setdefault(intent.user_id, Counter())[reason] += 1
            continue
        ledger.append(SentRecord(send_at, channel, campaign.id, campaign.level, intent.send_key))
        tally.sent += 1
        week = _week(report, send_at)
        if intent.user_id in report.sent_per_user_week and week is not None:
            report.sent_per_user_week[intent.user_id][week] += 1


def _week(report: SimulationReport, at: datetime) -> int | None:
    """Which measured week ``at`` falls in (a message deferred past the end counts in the last week)."""
    if at < report.start:
        return None
    return min(int((at - report.start) / WEEK), report.options.weeks - 1)
