"""Ingest: validate a batch of bus events and fold them into profiles, one write per user.

A malformed payload is parked in the dead-letter queue with the reason and never fails its
batch-mates; a user whose profile cannot be written (conflicts that do not settle, throttling)
fails only that user's records, which SQS then redelivers, and which are parked with the last
error on their final allowed receive (so none reaches the dead-letter queue without a reason).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from shared.catalog.ports import ProductCatalog
from shared.catalog.updates import CatalogChange
from shared.core.clock import Clock
from shared.core.identity import anonymous_profile_id, is_anonymous
from shared.core.queues import DeadLetters
from shared.events.contract import (
    LIVE_TRAFFIC,
    MAX_EVENT_BYTES,
    EventRejected,
    SegmentEvent,
    TimePolicy,
    as_received,
    parse_detail,
)
from shared.events.traits import TraitPolicy
from shared.ingest.conversions import Attributor
from shared.ingest.products import catalog_step, interest_events, visitor_interest
from shared.measurement.attribution import (
    Conversion,
)
from shared.privacy.erasure import Erasures
from shared.profiles.fold import fold_events
from shared.profiles.kept import KeptRecord
from shared.profiles.merge import logins, plan_links
from shared.profiles.ports import ProfileStore
from shared.profiles.products import note_indexed
from shared.profiles.profile import Profile
from shared.work.failures import without_personal_data

if TYPE_CHECKING:  # the import would load the journey engine with the module
    from shared.journeys.segments import SegmentEntries

MAX_WRITE_ATTEMPTS = 3
# What EventBridge adds around an entry when it hands it to SQS (id, account, time, region, version).
ENVELOPE_ALLOWANCE = 1024


@dataclass(frozen=True)
class QueueRecord:
    """An SQS record as ingest needs it: its id (for partial batch failures) and body."""

    record_id: str
    body: str
    receive_count: int = 1


@dataclass
class IngestOutcome:
    failed_record_ids: list[str] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    events_applied: int = 0
    duplicates: int = 0
    profiles_written: int = 0
    errors: list[str] = field(default_factory=list)
    conversions: list[Conversion] = field(default_factory=list)  # newly recorded ones
    failure_reasons: dict[str, str] = field(default_factory=dict)  # record id → why it failed
    gave_up: list[tuple[str, str]] = field(default_factory=list)  # parked on their last receive
    dropped_traits: list[tuple[str, str]] = field(default_factory=list)  # record id → a trait not kept
    erased: int = 0  # events of erased shoppers that predate the erasure: dropped, never stored
    timed_by: Counter[str] = field(default_factory=Counter)  # where events' times were read from
    merged: int = 0  # anonymous visitors' histories folded into the shopper who logged in
    followed: int = 0  # anonymous events that went to the shopper of their visitor's login
    catalog_changes: list[CatalogChange] = field(default_factory=list)  # products the batch changed
    journey_entries: Counter[str] = field(default_factory=Counter)  # segment entries, by transition

    def fail(self, records: Sequence[QueueRecord], reason: str) -> None:
        """Fail ``records`` with ``reason`` (a record that failed already keeps its first reason)."""
        records = [r for r in records if r.record_id not in self.failure_reasons]
        self.failed_record_ids.extend(r.record_id for r in records)
        self.failure_reasons.update((r.record_id, reason) for r in records)


def _entered(envelope: dict[str, object], event: SegmentEvent) -> datetime:
    """When an event entered Nudge: the bus's time for it, or the event's own if that is earlier (a
    copy from before an erasure is recognised by either)."""
    stamp = envelope.get("time")
    try:
        on_bus = datetime.fromisoformat(str(stamp).replace("Z", "+00:00")) if stamp else None
    except ValueError:
        on_bus = None
    if on_bus is None or on_bus.tzinfo is None:
        return event.timestamp
    return min(on_bus, event.timestamp)


def _event_of(
    record: QueueRecord, clock: Clock, policy: TimePolicy
) -> tuple[SegmentEvent, str | None, datetime]:
    """The record's event, the EventBridge ``source`` it was published with and when it entered Nudge."""
    try:
        envelope = json.loads(record.body)
    except json.JSONDecodeError as error:
        raise EventRejected(f"body: not JSON ({error.msg} at position {error.pos})") from None
    except RecursionError:
        raise EventRejected("body: JSON nested too deeply to read") from None
    except ValueError as error:  # e.g. an integer of more than 4,300 digits
        raise EventRejected(f"body: not readable JSON ({str(error).split(';')[0]})") from None
    if not isinstance(envelope, dict) or "detail" not in envelope:
        raise EventRejected("body: not an EventBridge event (no 'detail')")
    if len(record.body) > MAX_EVENT_BYTES + ENVELOPE_ALLOWANCE:
        _check_size(envelope["detail"])
    source = envelope.get("source")
    event = parse_detail(envelope["detail"], now=clock.now(), policy=policy, bus_time=envelope.get("time"))
    return event, source if isinstance(source, str) else None, _entered(envelope, event)


def _check_size(detail: object) -> None:
    """Refuse a detail larger than EventBridge carries (measured as compact UTF-8 JSON, as EventBridge
    does: the body may spell characters as \\u escapes, six bytes for one)."""
    try:
        size = len(
            json.dumps(detail, ensure_ascii=False, separators=(",", ":")).encode("utf-8", "surrogatepass")
        )
    except (RecursionError, ValueError):
        raise EventRejected("detail: nested too deeply to measure") from None
    if size > MAX_EVENT_BYTES:
        raise EventRejected(
            f"detail: {size} bytes, more than an EventBridge event can carry ({MAX_EVENT_BYTES})"
        )


def ingest_batch(
    records: Sequence[QueueRecord],
    profiles: ProfileStore,
    dead_letters: DeadLetters,
    clock: Clock,
    attributor: Attributor | None = None,
    max_receives: int | None = None,
    traits: TraitPolicy | None = None,
    erasures: Erasures | None = None,
    policy: TimePolicy = LIVE_TRAFFIC,
    products: ProductCatalog | None = None,
    segments: SegmentEntries | None = None,
) -> IngestOutcome:
    """Fold ``records`` into profiles, and their products into ``products`` (the catalog,
    shared/ingest/products.py). ``policy`` bounds the events' times: LIVE_TRAFFIC for the bus,
    BACKFILL for ``nudge import`` (shared/ingest/backfill.py). ``segments``: the segment journeys a
    shopper whose profile starts matching enters (shared/journeys/segments.py)."""
    outcome = _ingest(
        records,
        profiles,
        dead_letters,
        clock,
        attributor,
        traits or TraitPolicy(),
        erasures,
        policy,
        products,
        segments,
    )
    if max_receives is None or not outcome.failed_record_ids:
        return outcome
    failed = set(outcome.failed_record_ids)
    outcome.failed_record_ids = []
    for record in records:
        if record.record_id not in failed:
            continue
        if record.receive_count < max_receives:
            outcome.failed_record_ids.append(record.record_id)
            continue
        why = outcome.failure_reasons.get(record.record_id, "unknown error")
        reason = without_personal_data(f"gave up after {record.receive_count} attempts: {why}")
        try:
            dead_letters.park(record.body, reason, source="ingest")
        except Exception as error:
            outcome.errors.append(f"parking an event: {type(error).__name__}: {error}")
            outcome.failed_record_ids.append(record.record_id)
        else:
            outcome.gave_up.append((record.record_id, reason))
    return outcome


def _ingest(
    records: Sequence[QueueRecord],
    profiles: ProfileStore,
    dead_letters: DeadLetters,
    clock: Clock,
    attributor: Attributor | None,
    traits: TraitPolicy,
    erasures: Erasures | None,
    policy: TimePolicy,
    products: ProductCatalog | None = None,
    segments: SegmentEntries | None = None,
) -> IngestOutcome:
    outcome = IngestOutcome()
    by_user: dict[str, list[tuple[QueueRecord, SegmentEvent]]] = defaultdict(list)
    entered: dict[str, datetime] = {}
    received_at = clock.now()
    for record in records:
        try:
            event, source, entered[record.record_id] = _event_of(record, clock, policy)
        except EventRejected as rejected:
            try:
                dead_letters.park(record.body, rejected.reason, source="ingest")
            except Exception as error:
                outcome.errors.append(f"parking a rejected event: {type(error).__name__}: {error}")
                outcome.fail([record], f"{rejected.reason} (parking it failed: {type(error).__name__})")
            else:
                outcome.rejected.append((record.record_id, rejected.reason))
            continue
        outcome.timed_by[event.timestamp_source] += 1
        event, dropped = traits.screen(as_received(event, received_at), source)
        outcome.dropped_traits.extend((record.record_id, without_personal_data(r)) for r in dropped)
        by_user[event.profile_id].append((record, event))
    if not by_user:
        return outcome

    # The erasure markers, and the anonymous visitors the batch's logins link, are read with the
    # profiles in the same requests: none is added per event.
    linked = sorted({k for u, items in by_user.items() if not is_anonymous(u) for k in _linked_keys(items)})
    keys = {u: erasures.pseudonyms.user(u) for u in by_user} if erasures is not None else {}
    try:
        read = [*by_user, *(k for k in linked if k not in by_user)]
        current, kept = _read(profiles, read, keys, erasures)
        outcome.followed += _follow_logins(by_user, current)
        newly = [u for u in by_user if u not in read]
        if (
            newly
        ):  # an anonymous visitor's events follow their login: its shopper is read (linked events only)
            more = {u: erasures.pseudonyms.user(u) for u in newly} if erasures is not None else {}
            found, found_kept = _read(profiles, newly, more, erasures)
            current.update(found)
            kept.update(found_kept)
            keys.update(more)
    except Exception as error:
        outcome.errors.append(f"reading profiles: {type(error).__name__}: {error}")
        outcome.fail([r for items in by_user.values() for r, _ in items], outcome.errors[-1])
        return outcome
    indexed: dict[str, dict[str, int]] = {}  # the interest items written: the profiles' marks
    if products is not None:  # after the logins are followed and the erasure markers read: the interest
        shown = {u: [(r.record_id, e) for r, e in items] for u, items in by_user.items()}
        interested, moved = {}, []
        if products.keeps_interest:
            interested = interest_events(shown, current, kept, keys, entered)
            erased = {u: kept.get(keys.get(u, "")) is not None for u in by_user}
            moved = visitor_interest(
                {u: [e for _, e in pairs] for u, pairs in shown.items()}, current, erased
            )
        step = catalog_step(products, [p for pairs in shown.values() for p in pairs], interested, moved)
        outcome.catalog_changes, indexed = step.changes, step.indexed
        if step.error is not None:
            outcome.errors.append(step.error)
            outcome.fail(
                [r for items in by_user.values() for r, _ in items if r.record_id in step.carried], step.error
            )

    for user_id, items in by_user.items():
        items = _after_erasure(items, kept.get(keys.get(user_id, "")), entered, outcome)
        if not items:
            continue
        events = [e for _, e in items]
        try:
            # Conversions first: they are idempotent, so a profile write that fails after them is
            # simply retried, and a goal event is never folded without being attributed.
            if attributor is not None:
                outcome.conversions.extend(attributor.run(user_id, events))

            def marker(user_id: str) -> KeptRecord | None:
                return (
                    erasures.records.get(erasures.pseudonyms.user(user_id)) if erasures is not None else None
                )

            written = _fold_and_save(
                user_id,
                items,
                current,
                profiles,
                outcome,
                marker,
                entered,
                _segment_entry(segments, clock),
                indexed,
            )
            why = f"writing a profile: it kept changing over {MAX_WRITE_ATTEMPTS} attempts"
        except Exception as error:
            outcome.errors.append(f"writing a profile or its conversions: {type(error).__name__}: {error}")
            written, why = False, outcome.errors[-1]
        if not written:
            outcome.fail([r for r, _ in items], why)
    return outcome


@dataclass(frozen=True)
class _SegmentEntry:
    """The segment journeys of a fold: matched on the profile as read (before the in-place fold), entered
    with the profile about to be written, the newest folded event naming the instance."""

    segments: SegmentEntries
    now: datetime

    def before(self, profile: Profile | None) -> frozenset[str] | None:
        """None when the fold cannot make the shopper start matching: the journeys read only scores, which
        no fold or merge changes, and the shopper has a stored profile (a new one is evaluated)."""
        if profile is not None and self.segments.reads_only_scores:
            return None
        return self.segments.matching(profile, self.now)

    def enter(
        self,
        before: frozenset[str] | None,
        after: Profile,
        events: Sequence[SegmentEvent],
        outcome: IngestOutcome,
    ) -> None:
        if before is None:
            return
        change = max(events, key=lambda e: (e.timestamp, e.message_id)).message_id
        for entered in self.segments.enter_started(before, after, change, self.now):
            outcome.journey_entries[entered.transition] += 1


def _segment_entry(segments: SegmentEntries | None, clock: Clock) -> _SegmentEntry | None:
    return _SegmentEntry(segments, clock.now()) if segments is not None and segments.journeys else None


def _after_erasure(
    items: list[tuple[QueueRecord, SegmentEvent]],
    marker: KeptRecord | None,
    entered: dict[str, datetime],
    outcome: IngestOutcome,
) -> list[tuple[QueueRecord, SegmentEvent]]:
    """The events that do not predate the shopper's erasure (all of them, for a shopper never erased)."""
    if marker is None or not marker.erased_at:
        return items
    kept = [(r, e) for r, e in items if not marker.erased_since(entered[r.record_id])]
    outcome.erased += len(items) - len(kept)
    return kept


def _read(
    profiles: ProfileStore, ids: Sequence[str], keys: dict[str, str], erasures: Erasures | None
) -> tuple[dict[str, Profile], dict[str, KeptRecord]]:
    if erasures is not None:
        return profiles.get_many_with_kept(list(ids), list(keys.values()))
    return profiles.get_many(list(ids)), {}


def _linked_keys(items: Sequence[tuple[QueueRecord, SegmentEvent]]) -> list[str]:
    """The ``anon:`` profiles a known shopper's events link (identify, tracks after login, alias)."""
    return [anonymous_profile_id(a) for a in logins(e for _, e in items)]


def _follow_logins(
    by_user: dict[str, list[tuple[QueueRecord, SegmentEvent]]], current: dict[str, Profile]
) -> int:
    """Move an anonymous visitor's events to the shopper of their most recent login: one in this batch,
    or the link their ``anon:`` profile holds, whichever is later (shared/profiles/merge.py). Returns how
    many events moved."""
    batch_logins: dict[str, tuple[datetime, str]] = {}
    for user_id, items in by_user.items():
        if is_anonymous(user_id):
            continue
        for anonymous_id, at in logins(e for _, e in items).items():
            key = anonymous_profile_id(anonymous_id)
            if key not in batch_logins or at > batch_logins[key][0]:
                batch_logins[key] = (at, user_id)
    moved = 0
    for key in [u for u in by_user if is_anonymous(u)]:
        stored = current.get(key)
        follow = (stored.linked_at, stored.linked_to) if stored is not None and stored.linked_to else None
        login = batch_logins.get(key)
        if login is not None and (follow is None or follow[0] is None or login[0] > follow[0]):
            follow = login
        if follow is not None:
            moved += len(by_user[key])
            by_user.setdefault(str(follow[1]), []).extend(by_user.pop(key))
    return moved


def _fold_and_save(
    user_id: str,
    items: list[tuple[QueueRecord, SegmentEvent]],
    current: Mapping[str, Profile | None],
    profiles: ProfileStore,
    outcome: IngestOutcome,
    marker: Callable[[str], KeptRecord | None],
    entered: dict[str, datetime],
    segment_entry: _SegmentEntry | None = None,
    indexed: Mapping[str, Mapping[str, int]] | None = None,
) -> bool:
    """Fold ``items`` into ``user_id``'s profile (with the history of the anonymous visitors they link,
    moved exactly once) and write it; on a conflict, read again and fold onto what the other writer
    wrote — an anonymous visitor who logged in meanwhile has their events follow the login. ``indexed``:
    the interest items this batch wrote, marked on the profile written under their shopper's id (none if
    the shopper was erased meanwhile: the erasure may have deleted them)."""
    indexed = indexed or {}
    events = [e for _, e in items]
    for _ in range(MAX_WRITE_ATTEMPTS):
        profile = current.get(user_id)
        if profile is not None and profile.linked_to is not None:
            user_id = profile.linked_to  # the visitor logged in while this batch was being folded
            profile = profiles.get(user_id)
            current = {**current, user_id: profile}
        matched = segment_entry.before(profile) if segment_entry is not None else None
        plan = plan_links(user_id, profile, events, current)
        # Folded in place: the profile is this batch's own (read for it, or a merged copy), no other
        # shopper of the batch reads it, and a write that loses reads it again; copying it first was a
        # third of ingest's CPU (docs/performance.md).
        result = fold_events(plan.profile, events, in_place=True)
        if result.applied == 0 and not plan.links:
            outcome.duplicates += result.duplicates
            return True
        if user_id in indexed:  # after the items' write (a failed one left none): onto what is written
            note_indexed(result.profile.activity.indexed, indexed[user_id])
        if segment_entry is not None:  # before the write: a write that fails is retried with its entry
            segment_entry.enter(matched, result.profile, events, outcome)
        saved = (
            profiles.save_linked(result.profile, plan.links) if plan.links else profiles.save(result.profile)
        )
        if saved:
            outcome.events_applied += result.applied
            outcome.duplicates += result.duplicates
            outcome.profiles_written += 1
            outcome.merged += len(plan.absorbed)
            return True
        # another writer got there first: fold onto what it wrote
        if plan.links:
            current = {**current, **profiles.get_many([user_id, *(link.user_id for link in plan.links)])}
        else:
            current = {**current, user_id: profiles.get(user_id)}
        if current.get(user_id) is None:  # ... or the shopper was erased meanwhile: look at the marker again
            indexed = {}
            items = _after_erasure(items, marker(user_id), entered, outcome)
            events = [e for _, e in items]
            if not events:
                return True
    return False
