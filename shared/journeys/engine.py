"""The journey engine: enter a shopper, wake them after a wait, end them on the goal or an exit event, and
walk the steps in between (send, branch, split) up to the next wait or the end.

Every input makes at most one transition, written with one conditional put on the step sequence number
(:mod:`shared.journeys.instance`); then its effects run: delivery jobs on the delivery queue (delivery
decides them with every guard and logs each decision) and the next wait's one-time schedule. Both are
idempotent, keyed on the instance, the step and the sequence number, so a retry or a duplicate repeats
nothing. Budget per transition: the instance read, one profile read when a branch, a local-time wait or
the goal check needs it, the write, one enqueue of the step's jobs and one schedule (docs/journeys.md).
A send key is ``journey#instance#step#seq#user``."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from shared.campaigns.jobs import DeliveryJob, TriggerContext
from shared.campaigns.journey import BranchStep, ExitStep, Reentry, SendStep, SplitStep, WaitStep
from shared.campaigns.loader import Catalog
from shared.campaigns.model import Campaign
from shared.core.clock import Clock
from shared.core.durations import parse_duration
from shared.core.queues import WorkQueue
from shared.delivery.guards import in_holdout, shopper_zone
from shared.delivery.ports import Deferrals
from shared.journeys.instance import (
    Effects,
    InstanceStatus,
    JourneyInstance,
    PathEntry,
    PathKind,
    WakeUp,
)
from shared.journeys.ports import JourneyStore
from shared.journeys.transitions import WAKE_FIELD, Transition
from shared.profiles.ports import ProfileStore
from shared.profiles.profile import Profile

VERSION_CHANGED = "version_changed"


@dataclass(frozen=True)
class JourneyOutcome:
    transition: Transition
    instance: JourneyInstance | None = None


def _minute(moment: datetime) -> int:
    return int(moment.timestamp() // 60)


def send_key(journey_id: str, instance: str, step_id: str, seq: int, user_id: str) -> str:
    """A send step's send key: one message per instance, step and transition (a loop through a wait sends
    the step again; a retried or duplicated transition does not)."""
    return f"{journey_id}#{instance}#{step_id}#{seq}#{user_id}"


def send_step_of(key: str) -> str | None:
    """The send step a journey message's :func:`send_key` names (None: not such a key)."""
    parts = key.split("#")
    return parts[2] if len(parts) >= 5 else None


@dataclass
class _Draft:
    """The transition being built: the next state and its effects."""

    instance: JourneyInstance
    seq: int
    now: datetime
    profile_of: Callable[[], Profile | None]
    jobs: list[str] = field(default_factory=list)
    wake: WakeUp | None = None
    wake_at: datetime | None = None
    path: list[PathEntry] = field(default_factory=list)

    def note(self, kind: PathKind, step: str | None = None, detail: str = "") -> None:
        self.path.append(PathEntry(seq=self.seq, at=self.now, kind=kind, step=step, detail=detail))


@dataclass
class JourneyEngine:
    catalog: Catalog
    store: JourneyStore
    profiles: ProfileStore
    delivery_queue: WorkQueue
    clock: Clock
    deferrals: Deferrals | None = None

    # -- inputs ------------------------------------------------------------------------------------------
    def enter(
        self,
        campaign: Campaign,
        user_id: str,
        instance_id: str,
        *,
        entry: TriggerContext | None = None,
        occurrence: str = "",
        profile: Profile | None = None,
    ) -> JourneyOutcome:
        """Enter ``user_id`` (at most one active instance; the re-entry rule; the holdout at entry).
        ``profile``: the one the walk reads (a segment entry's, about to be written), else the stored one."""
        now = self.clock.now()
        current = self.store.get(user_id, campaign.id)
        transition = f"entry#{instance_id}"
        if current is not None:
            if current.instance == instance_id:
                return (
                    self._replay(current)
                    if current.transition == transition
                    else JourneyOutcome(Transition.STALE, current)
                )
            refused = self._refused_reentry(campaign, current, now)
            if refused is not None:
                return JourneyOutcome(refused, current)
        instance = JourneyInstance(
            user_id=user_id,
            journey_id=campaign.id,
            instance=instance_id,
            version=campaign.version,
            seq=current.seq + 1 if current else 1,
            entered_at=now,
            entry=entry,
            occurrence=occurrence or (entry.timestamp.isoformat() if entry else now.isoformat()),
            transition=transition,
        )
        read = (lambda: profile) if profile is not None else (lambda: self._profile(user_id))
        draft = _Draft(instance, instance.seq, now, read)
        draft.note(PathKind.ENTERED, detail=f"version {campaign.version}")
        if in_holdout(campaign.id, user_id, campaign.holdout_percent):
            # The whole journey is withheld; delivery logs the decision as for any campaign's holdout.
            draft.note(PathKind.WITHHELD, detail=f"holdout {campaign.holdout_percent:g}%")
            first_send = next((s for s in campaign.flow.steps if isinstance(s, SendStep)), None)
            if first_send is not None:
                draft.jobs.append(self._job(instance, first_send.id, draft.seq))
            state = self._end(draft, InstanceStatus.WITHHELD, None, "holdout")
            return self._commit(
                state, draft, expected=current.seq if current else None, kind=Transition.WITHHELD
            )
        state = self._walk(campaign, draft, campaign.flow.first)
        return self._commit(state, draft, expected=current.seq if current else None, kind=Transition.ENTERED)

    def wake(self, wake: WakeUp) -> JourneyOutcome:
        """A wait is over: move on from its step (its timeout branch for a ``wait until``)."""
        current = self.store.get(wake.user_id, wake.journey_id)
        if current is None or current.instance != wake.instance:
            return JourneyOutcome(Transition.NO_INSTANCE if current is None else Transition.STALE, current)
        if current.transition == wake.key:
            return self._replay(current)
        if not current.active or current.seq != wake.seq or current.step != wake.step:
            return JourneyOutcome(Transition.STALE, current)
        campaign = self.catalog.get(wake.journey_id)
        now = self.clock.now()
        draft = _Draft(current, current.seq + 1, now, lambda: self._profile(wake.user_id))
        draft.note(PathKind.WOKE, wake.step)
        if campaign is None or not campaign.is_active(now):
            state = self._end(draft, InstanceStatus.EXITED, wake.step, "journey_inactive")
            return self._commit(
                state, draft, expected=current.seq, kind=Transition.ENDED, transition=wake.key
            )
        moved = self._on_version(campaign, draft, wake.step)
        if moved is not None:
            return self._commit(
                moved, draft, expected=current.seq, kind=Transition.ENDED, transition=wake.key
            )
        reached = self._ending_seen(campaign, current, draft)
        if reached is not None:
            return self._commit(
                reached, draft, expected=current.seq, kind=Transition.ENDED, transition=wake.key
            )
        step = campaign.flow.step(wake.step)
        after = (
            step.on_timeout or campaign.flow.next_of(step.id)
            if isinstance(step, WaitStep) and step.until is not None
            else campaign.flow.next_of(step.id)
        )
        state = self._walk(campaign, draft, after)
        return self._commit(state, draft, expected=current.seq, kind=Transition.MOVED, transition=wake.key)

    def on_event(
        self, campaign: Campaign, user_id: str, event: str, message_id: str, at: datetime
    ) -> JourneyOutcome:
        """An event the journey's rule routed here: the goal or an exit_if event ends the instance; the
        event a ``wait until`` waits for moves it on (``on_event``). Events before the entry are ignored."""
        current = self.store.get(user_id, campaign.id)
        transition = f"event#{message_id}"
        if current is None:
            return JourneyOutcome(Transition.NO_INSTANCE)
        if current.transition == transition:
            return self._replay(current)
        if not current.active or _minute(at) < _minute(current.entered_at):
            return JourneyOutcome(Transition.STALE, current)
        now = self.clock.now()
        draft = _Draft(current, current.seq + 1, now, lambda: self._profile(user_id))
        if event in campaign.ending_events():
            draft.note(PathKind.EVENT, current.step, event)
            status = (
                InstanceStatus.CONVERTED
                if campaign.goal is not None and event == campaign.goal.event
                else InstanceStatus.EXITED
            )
            state = self._end(draft, status, current.step, f"{event} at {at.isoformat()}")
            return self._commit(
                state, draft, expected=current.seq, kind=Transition.ENDED, transition=transition
            )
        step = campaign.flow.by_id.get(current.step or "")
        if current.awaiting != event or not isinstance(step, WaitStep) or current.version != campaign.version:
            return JourneyOutcome(Transition.STALE, current)
        draft.note(PathKind.EVENT, step.id, event)
        state = self._walk(campaign, draft, step.on_event or campaign.flow.next_of(step.id))
        return self._commit(state, draft, expected=current.seq, kind=Transition.MOVED, transition=transition)

    # -- the walk ----------------------------------------------------------------------------------------
    def _walk(self, campaign: Campaign, draft: _Draft, start: str | None) -> JourneyInstance:
        """From ``start``: send, branch and split until a wait (the instance waits there) or the end."""
        flow, instance, step_id = campaign.flow, draft.instance, start
        while step_id is not None:
            step = flow.step(step_id)
            if isinstance(step, SendStep):
                draft.jobs.append(self._job(instance, step.id, draft.seq))
                draft.note(PathKind.SENT, step.id, ", ".join(step.channel_preference))
            elif isinstance(step, BranchStep):
                profile = draft.profile_of()
                failing = step.audience.failing_rule(profile, draft.now) if profile else None
                matched = profile is not None and failing is None
                why = (
                    "all rules hold"
                    if matched
                    else f"{failing.source!r} does not hold"
                    if failing
                    else "no profile"
                )
                target = (step.then if matched else step.else_) or flow.next_of(step.id)
                draft.note(PathKind.BRANCH, step.id, f"{'then' if matched else 'else'} -> {target}: {why}")
                step_id = target
                continue
            elif isinstance(step, SplitStep):
                path = step.path_for(campaign.id, instance.user_id)
                draft.note(PathKind.SPLIT, step.id, f"{path.percent:g}% -> {path.next}")
                step_id = path.next
                continue
            elif isinstance(step, ExitStep):
                return self._end(draft, InstanceStatus.COMPLETED, step.id, "exit")
            elif isinstance(step, WaitStep):
                return self._wait(campaign, draft, step)
            step_id = flow.next_of(step.id)
        return self._end(draft, InstanceStatus.COMPLETED, None, "end_of_steps")

    def _wait(self, campaign: Campaign, draft: _Draft, step: WaitStep) -> JourneyInstance:
        now = draft.now
        if step.duration is not None:
            due = now + parse_duration(step.duration)
        elif step.until_local_time is not None:
            profile = draft.profile_of()
            zone = shopper_zone(profile.traits if profile else {}, self.catalog.policy)
            hour, minute = (int(part) for part in step.until_local_time.split(":"))
            local = now.astimezone(zone)
            due = datetime.combine(local.date(), time(hour, minute), zone)
            if due <= local:
                due = datetime.combine(local.date() + timedelta(days=1), time(hour, minute), zone)
        else:
            assert step.timeout is not None and step.until is not None
            due = now + step.timeout
        detail = f"until {due.isoformat()}" + (f" or {step.until.event}" if step.until else "")
        draft.note(PathKind.WAITING, step.id, detail)
        draft.wake = WakeUp(
            user_id=draft.instance.user_id,
            journey_id=campaign.id,
            instance=draft.instance.instance,
            step=step.id,
            seq=draft.seq,
        )
        draft.wake_at = due
        return draft.instance.model_copy(
            update={
                "status": InstanceStatus.ACTIVE,
                "step": step.id,
                "awaiting": step.until.event if step.until else None,
            }
        )

    def _end(self, draft: _Draft, status: InstanceStatus, step: str | None, reason: str) -> JourneyInstance:
        draft.note(PathKind.ENDED, step, f"{status}: {reason}")
        return draft.instance.model_copy(
            update={"status": status, "step": step, "awaiting": None, "reason": reason}
        )

    def _on_version(self, campaign: Campaign, draft: _Draft, step_id: str) -> JourneyInstance | None:
        """The versioning rule: an instance moves to the deployed version by step id; if its step is gone,
        it exits with ``version_changed``. None: it runs on (noted when the version moved)."""
        if draft.instance.version == campaign.version:
            return None
        if step_id not in campaign.flow.by_id or not isinstance(campaign.flow.step(step_id), WaitStep):
            return self._end(draft, InstanceStatus.EXITED, step_id, VERSION_CHANGED)
        draft.note(PathKind.VERSION, step_id, f"{draft.instance.version} -> {campaign.version}")
        draft.instance = draft.instance.model_copy(update={"version": campaign.version})
        return None

    def _ending_seen(
        self, campaign: Campaign, current: JourneyInstance, draft: _Draft
    ) -> JourneyInstance | None:
        """The goal (or an exit_if event) already on the profile since the entry: it wins over the wake-up
        even if its own routed copy has not arrived yet. Only events without ``where`` conditions."""
        events = [e for e in campaign.exit_if]
        if campaign.goal is not None and not campaign.goal.where:
            events.insert(0, campaign.goal.event)
        if not events:
            return None
        profile = draft.profile_of()
        for event in events:
            last = profile.last_at(event) if profile else None
            if last is not None and _minute(last) >= _minute(current.entered_at):
                goal = campaign.goal is not None and event == campaign.goal.event
                draft.note(PathKind.EVENT, current.step, event)
                status = InstanceStatus.CONVERTED if goal else InstanceStatus.EXITED
                return self._end(draft, status, current.step, f"{event} at {last.isoformat()}")
        return None

    # -- writing and doing -------------------------------------------------------------------------------
    def _commit(
        self,
        state: JourneyInstance,
        draft: _Draft,
        *,
        expected: int | None,
        kind: Transition,
        transition: str | None = None,
    ) -> JourneyOutcome:
        written = state.model_copy(
            update={
                "seq": draft.seq,
                "transition": transition or state.transition,
                "effects": Effects(jobs=draft.jobs, wake=draft.wake, wake_at=draft.wake_at),
                "path": [*state.path, *draft.path],
            }
        )
        if not self.store.put(written, expected):
            return JourneyOutcome(Transition.LOST_RACE, None)
        self._do(written)
        return JourneyOutcome(kind, written)

    def _replay(self, current: JourneyInstance) -> JourneyOutcome:
        self._do(current)
        return JourneyOutcome(Transition.REPLAYED, current)

    def _do(self, instance: JourneyInstance) -> None:
        effects = instance.effects
        if effects.jobs:
            self.delivery_queue.send_many(effects.jobs)
        if effects.wake is not None and effects.wake_at is not None:
            if self.deferrals is None:
                raise RuntimeError("a journey's wait needs the deferrals port")
            body = {WAKE_FIELD: effects.wake.model_dump(mode="json")}
            self.deferrals.defer(instance.user_id, effects.wake.key, json.dumps(body), effects.wake_at)

    def _job(self, instance: JourneyInstance, step_id: str, seq: int) -> str:
        return DeliveryJob(
            send_key=send_key(instance.journey_id, instance.instance, step_id, seq, instance.user_id),
            campaign_id=instance.journey_id,
            user_id=instance.user_id,
            occurrence=instance.occurrence,
            trigger=instance.entry,
            step=step_id,
        ).model_dump_json()

    def _profile(self, user_id: str) -> Profile | None:
        profile = self.profiles.get(user_id)
        if profile is not None and profile.linked_to is not None:
            return self.profiles.get(profile.linked_to)
        return profile

    @staticmethod
    def _refused_reentry(campaign: Campaign, current: JourneyInstance, now: datetime) -> Transition | None:
        if current.active:
            return Transition.ALREADY_ACTIVE
        rule, window = campaign.reentry_rule
        if rule == Reentry.NEVER:
            return Transition.NO_REENTRY
        if rule == Reentry.AFTER and window is not None and now < current.entered_at + window:
            return Transition.REENTRY_WINDOW
        return None
