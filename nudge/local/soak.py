"""`nudge soak`: synthetic events through ingest, L4 triggers and delivery, with duplicates and faults.

Every event is delivered 1 to 3 times (the same EventBridge envelope, as at-least-once delivery
does) and a share of the DynamoDB, SES and SNS calls fail with throttling errors
(:mod:`nudge.local.faults`). Afterwards the run is judged on what the system left behind, read back
from the tables, the dead-letter queues and moto's SES and SNS backends:

- profile aggregates equal a fault-free fold of the same events (after the ingest dead-letter queue
  is redriven, as an operator would once the throttling is over);
- no message went out twice: no send key was accepted by a channel twice, every provider record is
  one send key's, and a provider record no ``sent`` outcome accounts for belongs to a job parked
  as a possible send;
- every delivery job ended in one logged decision or in the delivery dead-letter queue with a
  reason, and the counts add up.
"""

from __future__ import annotations

import json
import os
import random
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_string
from email.policy import default as default_policy
from typing import Any

from shared.campaigns.loader import Catalog
from shared.core.clock import SimulatedClock
from shared.core.vocabulary import EMAIL_TRAIT, Channel, DecisionStatus

STEP = timedelta(hours=1)
TAP_EVENT = "provide-client-params.sqs.SendMessageBatch"
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
# Longer than any L4 delay in campaigns/ (post-purchase-review: 7 days): every pending job fires.
DRAIN_AFTER = timedelta(days=8)
# Decisions a job can end in, as logged under its send key.
FINAL = (
    DecisionStatus.SENT,
    DecisionStatus.WITHHELD_HOLDOUT,
    DecisionStatus.WITHHELD_GLOBAL_CONTROL,
    DecisionStatus.CAPPED,
    DecisionStatus.NO_CONSENT,
    DecisionStatus.SUPPRESSED,
    DecisionStatus.SKIPPED,
    DecisionStatus.CANCELLED,
)
# A claim never completed: the send may have happened with no record of it.
UNRECORDED = (DecisionStatus.CLAIMED, DecisionStatus.OUTCOME_UNKNOWN)
# The aggregates ingest keeps that do not depend on the order events arrive in.
AGGREGATES = (
    "counts",
    "orders",
    "revenue",
    "first_seen",
    "last_seen",
    "first_order_at",
    "last_order_at",
    "category_views",
    "category_purchases",
)
ACTIVITY_AGGREGATES = ("last", "orders", "categories")

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class SoakOptions:
    events: int = 10_000
    fault_rate: float = 0.2
    max_copies: int = 3
    seed: int = 9
    days: int = 7
    gentle: bool = False  # the runtime's kind, fixed order instead of the adversary's (debugging)


@dataclass
class SoakReport:
    """What the run did and what it left behind; ``problems`` lists every broken promise."""

    figures: dict[str, Any] = field(default_factory=dict)
    parked: dict[str, int] = field(default_factory=dict)  # "queue: reason" → count
    problems: list[str] = field(default_factory=list)


class JobTap:
    """Notes the send key of every job put on the delivery queue (a hook on SQS SendMessageBatch, and
    on the runtime's own sends: Scheduler firing a deferred job)."""

    def __init__(self, queue_url: str) -> None:
        self.url = queue_url
        self.send_keys: set[str] = set()
        self.enqueued = 0

    def machinery_call(self, operation: str, params: Mapping[str, Any]) -> None:
        if operation == "sqs.SendMessage":
            self(params)

    def __call__(self, params: Mapping[str, Any], **_: Any) -> None:
        if params.get("QueueUrl") != self.url:
            return
        for entry in params["Entries"]:
            body = json.loads(entry["MessageBody"])
            if "send_key" not in body:
                continue  # a journey's wake-up rides the delivery queue: no job, no send key
            self.enqueued += 1
            self.send_keys.add(body["send_key"])


def soak_catalog(full: Catalog) -> Catalog:
    """The real-time (L4) campaigns: the soak covers ingest, triggers and delivery."""
    return Catalog([c for c in full if c.trigger is not None], full.policy, full.custom)


def run_soak(catalog: Catalog, options: SoakOptions, progress: Progress | None = None) -> SoakReport:
    os.environ.update(FAKE_CREDENTIALS)
    from moto import mock_aws

    from nudge.local.faults import ThrottleFaults
    from nudge.local.runtime import LocalRuntime
    from nudge.shop.store import StoreConfig, SyntheticStore
    from shared.deployment import invocations, topology

    started = time.perf_counter()
    users = max(20, options.events // (options.days + 2))
    store = SyntheticStore(StoreConfig(users=users, days=options.days, seed=options.seed))
    start = store.config.start
    with mock_aws():
        clock = SimulatedClock(start)
        runtime = LocalRuntime(
            soak_catalog(catalog),
            clock,
            log_level="CRITICAL",
            without_schedules=[invocations.SCORING_SCHEDULE.key],
            gentle=options.gentle,
            seed=options.seed,
        )
        endpoints = {
            s.user_id: runtime.register_push_endpoint(
                s.push_platform, f"device-{s.user_id}", user_id=s.user_id
            )
            for s in store.shoppers
            if s.push_platform
        }
        events = list(store.events(push_endpoints=endpoints))[: options.events]
        rng = random.Random(options.seed)
        copies = [rng.randint(1, options.max_copies) for _ in events]
        faults = ThrottleFaults(options.fault_rate, options.seed).attach(runtime)
        tap = JobTap(runtime.queue_urls[topology.DELIVERY_QUEUE.key])
        runtime.client("sqs").meta.events.register(TAP_EVENT, tap)
        runtime.machinery_listeners.append(tap.machinery_call)  # jobs Scheduler puts on the queue

        hours = int((_timestamp(events[-1]) - start) / STEP) + 1 if events else 0
        cursor = 0
        for hour in range(hours):
            window_end = start + STEP * (hour + 1)
            first = cursor
            while cursor < len(events) and _timestamp(events[cursor]) < window_end:
                cursor += 1
            # The hour's events arrive at its end, not before they happen (ingest clamps event times
            # to their arrival, and a profile must equal the fold of the events as they happened).
            runtime.advance_to(window_end)
            runtime.publish(events[first:cursor], copies[first:cursor])
            runtime.drain()
            if progress:
                progress(hour + 1, hours, f"{cursor:,} events")
        runtime.advance_to(clock.now() + DRAIN_AFTER)  # every delayed trigger and deferral fires
        runtime.drain()
        faults.detach()
        runtime.client("sqs").meta.events.unregister(TAP_EVENT, tap)
        runtime.machinery_listeners.remove(tap.machinery_call)
        _deliver_ses_events(runtime)

        report = SoakReport()
        parked = runtime.parked()
        report.parked = dict(Counter(f"{p.queue}: {_reason_kind(p.reason)}" for p in parked).most_common())
        messages = runtime.scan("messages")
        _check_deliveries(runtime, report, tap, messages, parked)
        ingest_parked = [p for p in parked if p.queue == topology.INGEST_QUEUE.dlq_key]
        _check_profiles(runtime, report, events, ingest_parked)
        figures = report.figures
        figures.update(
            events=len(events),
            shoppers=users,
            deliveries=sum(copies),
            duplicates_injected=sum(copies) - len(events),
            calls_to_faulty_services=sum(faults.calls.values()),
            faults_injected=sum(faults.injected.values()),
            faults_by_service=dict(Counter(k.split(".")[0] for k in faults.injected.elements())),
            sqs_records=dict(runtime.received),
            sqs_redeliveries=dict(runtime.redelivered),
            async_retries=dict(runtime.async_retries),
            trigger_parked=sum(1 for p in parked if p.queue == topology.TRIGGER_DLQ_KEY),
            wall_seconds=round(time.perf_counter() - started, 1),
            fault_rate=options.fault_rate,
            seed=options.seed,
            mode=runtime.mode,
            hostility=dict(sorted(runtime.adversary.seen.items())) if runtime.adversary else {},
        )
    return report


def _timestamp(event: Mapping[str, Any]) -> datetime:
    return datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00"))


def _reason_kind(reason: str) -> str:
    """A reason without the times, ids and error messages that make each one unique, for counting."""
    kind = re.sub(r"20\d\d-\d\d-\d\dT[\d:.+]+", "<time>", reason)
    kind = re.sub(r" \(provider id [^)]*\)", "", kind)
    error = r"An error occurred \((\w+)\) when calling the (\w+) operation: .*"
    kind = re.sub(r"(?:\w+: )?" + error, r"\1 on \2", kind)
    return kind


def _deliver_ses_events(runtime: Any) -> None:
    """SES's Delivery event for every email it accepted, as its configuration set publishes them (moto
    emits none): feedback folds each into its send, and reconciles a send whose outcome was lost."""
    from nudge.local.ses_events import ses_event, tagged_mail

    for message in runtime.sent:
        if message.channel != Channel.EMAIL:
            continue
        at = (message.at + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
        mail = tagged_mail(message.user_id, message.campaign_id, message.provider_id, message.send_key)
        runtime.publish_aws_event(ses_event("Delivery", mail, time=at, delivery={"timestamp": at}))


def _open_claims(runtime: Any, outcome: Mapping[str, Mapping[str, Any]]) -> set[str]:
    """The send keys claimed in a contact ledger whose outcome the send log does not have."""
    from shared.delivery.claims import outcome_logged
    from shared.profiles.ledger import SentRecord

    records = [SentRecord.from_json(r) for item in runtime.scan("ledger") for r in json.loads(item["sends"])]
    return {r.send_key for r in records if not outcome_logged(r, outcome.get(r.send_key))}


def _check_deliveries(
    runtime: Any, report: SoakReport, tap: JobTap, messages: list[dict[str, Any]], parked: list[Any]
) -> None:
    from nudge.local.account import ACCOUNT, REGION

    outcome = {m["send_key"]: m for m in messages}
    parked_jobs: dict[str, list[str]] = defaultdict(list)
    for p in parked:
        body = json.loads(p.body) if p.queue == "delivery-dlq" else {}
        if "send_key" in body:  # not a journey's wake-up (it rides the delivery queue; the tap counts no job)
            parked_jobs[body["send_key"]].append(p.reason)
    decided: Counter[str] = Counter()
    lost = []
    for key in tap.send_keys:
        status = outcome.get(key, {}).get("status")
        if status in FINAL:
            decided[status] += 1
        elif key in parked_jobs:
            decided["parked"] += 1
        else:
            lost.append((key, status))
    jobs = len(tap.send_keys)
    if lost:
        report.problems.append(f"{len(lost)} jobs neither decided nor parked, e.g. {lost[:3]}")
    if sum(decided.values()) != jobs:
        report.problems.append(f"outcomes {sum(decided.values())} != jobs {jobs}")

    # A job decided on a profile that was not there yet (delivery before ingest) is a lost message.
    profiles = runtime.all_profiles()
    early = [k for k in tap.send_keys if outcome.get(k, {}).get("reason") == "unknown_user"]
    known = {p.user_id for p in profiles}
    too_early = [k for k in early if outcome[k]["user_id"] in known]
    if too_early:
        report.problems.append(
            f"{len(too_early)} jobs decided before ingest wrote the profile, e.g. {too_early[:3]}"
        )

    # Who each provider record went to, and which records a logged send accounts for.
    by_email = {}
    by_endpoint = {}
    for profile in profiles:
        if profile.traits.get(EMAIL_TRAIT):
            by_email[str(profile.traits[EMAIL_TRAIT]).lower()] = profile.user_id
        if profile.traits.get("push_endpoint"):
            by_endpoint[str(profile.traits["push_endpoint"])] = profile.user_id
    recorded = {str(m.get("provider_message_id")) for m in messages if m["status"] == DecisionStatus.SENT}
    # Sends whose outcome is unknown or unrecorded, per shopper: the only sends allowed no record.
    open_claims = _open_claims(runtime, outcome)
    possible: Counter[str] = Counter()
    for key, reasons in parked_jobs.items():
        entry = outcome.get(key, {})
        unrecorded = entry.get("status") in UNRECORDED or key in open_claims
        if unrecorded or any("not recorded" in r for r in reasons):
            possible[key.rsplit("#", 1)[-1]] += 1
    provider: list[tuple[str, str, str]] = []  # (channel, provider id, user)
    from moto.ses.models import ses_backends
    from moto.sns.models import sns_backends

    for m in ses_backends[ACCOUNT][REGION].sent_messages:
        raw = getattr(m, "raw_data", None)
        if raw is not None:
            to = str(message_from_string(raw, policy=default_policy)["To"]).lower()
            provider.append((Channel.EMAIL, m.id, by_email.get(to, to)))
    for arn, endpoint in sns_backends[ACCOUNT][REGION].platform_endpoints.items():
        provider += [
            (Channel.PUSH, message_id, by_endpoint.get(arn, arn)) for message_id in endpoint.messages
        ]
    provider += [
        (Channel.IN_APP, str(item["message_key"]), str(item["user_id"])) for item in runtime.scan("inbox")
    ]
    unaccounted: Counter[str] = Counter(user for _, pid, user in provider if pid not in recorded)
    doubled = {u: n for u, n in unaccounted.items() if n > possible[u]}
    if doubled:
        report.problems.append(f"provider records no send accounts for (a second send?): {doubled}")
    # The channels' own record of what they accepted (the runtime notes each send with its key).
    per_key = Counter(s.send_key for s in runtime.sent)
    twice = [k for k, n in per_key.items() if n > 1]
    if twice:
        report.problems.append(f"{len(twice)} send keys accepted by a channel more than once: {twice[:3]}")
    sent = [m for m in messages if m["status"] == DecisionStatus.SENT]
    inbox_keys = Counter(str(i[2]) + str(i[1]).split("-", 1)[-1] for i in provider if i[0] == Channel.IN_APP)
    if any(n > 1 for n in inbox_keys.values()):
        report.problems.append("an in-app message was put in an inbox twice")
    report.figures.update(
        jobs=jobs,
        jobs_enqueued=tap.enqueued,
        outcomes=dict(decided.most_common()),
        sent_by_channel=dict(Counter(m["channel"] for m in sent)),
        provider_records=dict(Counter(c for c, _, _ in provider)),
        provider_records_unaccounted=sum(unaccounted.values()),
        send_keys_sent_twice=len(twice),
        possible_sends_parked=sum(possible.values()),
        # sends whose outcome was lost, logged afterwards from the provider's event (SES Delivery)
        sends_reconciled=sum(1 for m in sent if m.get("reconciled_from")),
        claims_without_outcome=len(open_claims),
    )


def _check_profiles(
    runtime: Any, report: SoakReport, events: list[dict[str, Any]], ingest_parked: list[Any]
) -> None:
    from nudge.local.account import physical_name
    from shared.adapters.sqs import SqsDeadLetterQueue, SqsQueue
    from shared.core.errors import EventRejected
    from shared.core.identity import anonymous_profile_id
    from shared.deployment import topology
    from shared.events.contract import parse_detail
    from shared.profiles.fold import fold_events
    from shared.profiles.merge import linked_anonymous_id
    from shared.profiles.profile import Profile

    parsed = []
    for detail in events:
        try:
            parsed.append(parse_detail(detail, now=_timestamp(detail)))
        except EventRejected:
            continue
    # Each synthetic device is one shopper's: its visitor's events all end up on the shopper it logs in.
    logged_in = {
        anonymous_profile_id(a): e.user_id for e in parsed if e.user_id and (a := linked_anonymous_id(e))
    }
    by_user: dict[str, list[Any]] = defaultdict(list)
    for event in parsed:
        by_user[logged_in.get(event.profile_id, event.profile_id)].append(event)
    expected = {u: fold_events(Profile(user_id=u), evs).profile for u, evs in by_user.items()}
    parked_users = {
        logged_in.get(profile_id, profile_id)
        for profile_id in (parse_detail(json.loads(p.body)["detail"]).profile_id for p in ingest_parked)
    }

    def differing(profiles: list[Profile], skip: set[Any]) -> list[str]:
        found = {p.user_id: p for p in profiles if p.linked_to is None}  # a link holds no history
        wrong = [
            u
            for u in expected
            if u not in skip and (u not in found or _aggregates(found[u]) != _aggregates(expected[u]))
        ]
        wrong += [u for u in found if u not in expected]
        return wrong

    before = differing(runtime.all_profiles(), parked_users)
    if before:
        report.problems.append(f"{len(before)} profiles differ from a fault-free fold, e.g. {before[:3]}")
    # After the throttling: redrive the ingest dead-letter queue and drain, as an operator would.
    sqs = runtime.client("sqs")
    dlq = SqsDeadLetterQueue(sqs, runtime.queue_urls[topology.INGEST_QUEUE.dlq_key])
    redriven = dlq.redrive(SqsQueue(sqs, runtime.queue_urls[topology.INGEST_QUEUE.key]))
    runtime.drain()
    after = differing(runtime.all_profiles(), set())
    if after:
        report.problems.append(
            f"after redriving {physical_name('ingest-dlq')}, {len(after)} profiles differ, e.g. {after[:3]}"
        )
    # Traits and the open cart are state, not aggregates: the last event applied wins, so an event
    # retried after a later one of the same shopper can leave older state. Counted, not asserted.
    final = {p.user_id: p for p in runtime.all_profiles()}
    state_differs = sum(
        1
        for u, p in expected.items()
        if u in final and (final[u].traits != p.traits or _cart(final[u]) != _cart(p))
    )
    report.figures.update(
        profiles_state_differs=state_differs,
        profiles=len(expected),
        profiles_exact_before_redrive=len(expected) - len(before) - len(parked_users & set(expected)),
        ingest_parked=len(ingest_parked),
        ingest_redriven=redriven,
        profiles_exact_after_redrive=len(expected) - len(after),
    )


def _cart(profile: Any) -> Any:
    return profile.cart.model_dump(exclude={"updated_at"}) if profile.cart else None


def _aggregates(profile: Any) -> dict[str, Any]:
    values = {name: getattr(profile, name) for name in AGGREGATES}
    values.update({f"activity.{name}": getattr(profile.activity, name) for name in ACTIVITY_AGGREGATES})
    return values
