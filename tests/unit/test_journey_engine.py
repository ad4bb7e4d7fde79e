"""The journey engine on in-memory ports (no AWS): the walk's decisions where the profile is missing,
and a sequence number that carries over a re-entry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from payloads import track

from nudge.simulated_journeys import _Instances
from shared.campaigns.jobs import TriggerContext
from shared.campaigns.loader import Catalog
from shared.campaigns.model import Campaign
from shared.core.clock import SimulatedClock
from shared.events.contract import parse_detail
from shared.journeys.engine import JourneyEngine
from shared.journeys.instance import JourneyInstance, WakeUp
from shared.journeys.transitions import WAKE_FIELD, Transition
from shared.profiles.fold import fold_events
from shared.profiles.ports import ProfileStore
from shared.profiles.profile import Profile

T0 = datetime(2026, 11, 2, 8, tzinfo=UTC)
PUSH = {"push": {"title": "Hi", "body": "There"}}


class _NoProfiles:
    def get(self, user_id: str) -> None:
        return None


class _Queue:
    def __init__(self) -> None:
        self.bodies: list[str] = []

    def send_many(self, bodies: Any) -> None:
        self.bodies.extend(bodies)


class _Deferrals:
    def __init__(self) -> None:
        self.made: list[tuple[str, datetime, str]] = []

    def defer(self, user_id: str, job_key: str, body: str, at: datetime, *, flexible: bool = True) -> bool:
        self.made.append((job_key, at, body))
        return True


def engine(campaign: Campaign) -> tuple[JourneyEngine, _Queue, _Deferrals, SimulatedClock]:
    clock, queue, deferrals = SimulatedClock(T0), _Queue(), _Deferrals()
    made = JourneyEngine(
        Catalog([campaign]), _Instances(), cast(ProfileStore, _NoProfiles()), queue, clock, deferrals
    )
    return made, queue, deferrals, clock


BRANCHING = Campaign.model_validate(
    {
        "id": "big-only",
        "name": "B",
        "level": "L4",
        "trigger": {"event": "Product Added"},
        "reentry": "always",
        "steps": [
            {"id": "big", "type": "branch", "if": ["cart_value > 100"], "then": "offer", "else": "done"},
            {"id": "offer", "type": "send", "channels": PUSH},
            {"id": "wait", "type": "wait", "duration": "1h"},
            {"id": "done", "type": "exit"},
        ],
    }
)


def entry(message_id: str, at: datetime = T0) -> TriggerContext:
    return TriggerContext(event="Product Added", message_id=message_id, timestamp=at)


def test_a_branch_without_a_profile_takes_else_and_says_why() -> None:
    journeys, queue, deferrals, _ = engine(BRANCHING)
    outcome = journeys.enter(BRANCHING, "u1", "e-1", entry=entry("e-1"))
    assert outcome.transition == Transition.ENTERED
    assert outcome.instance is not None
    [branch] = [p for p in outcome.instance.path if p.kind == "branch"]
    assert branch.detail == "else -> done: no profile"
    assert (outcome.instance.status, outcome.instance.step) == ("completed", "done")
    assert queue.bodies == [] and deferrals.made == []


def test_a_reentry_carries_the_sequence_number_on() -> None:
    journeys, _, _, clock = engine(BRANCHING)
    first = journeys.enter(BRANCHING, "u1", "e-1", entry=entry("e-1"))
    clock.advance(timedelta(minutes=5))
    second = journeys.enter(BRANCHING, "u1", "e-2", entry=entry("e-2", T0 + timedelta(minutes=5)))
    assert first.instance is not None and second.instance is not None
    assert (first.instance.seq, second.transition, second.instance.seq) == (1, Transition.ENTERED, 2)


def test_a_wake_up_body_names_the_step_and_sequence_number_it_moves() -> None:
    journey = Campaign.model_validate(
        {
            **BRANCHING.model_dump(mode="json", by_alias=True, exclude={"steps"}),
            "steps": [
                {"id": "wait", "type": "wait", "duration": "1h"},
                {"id": "offer", "type": "send", "channels": PUSH},
            ],
            "channels": PUSH,
        }
    )
    journeys, _, deferrals, _ = engine(journey)
    journeys.enter(journey, "u1", "e-1", entry=entry("e-1"))
    [(key, at, body)] = deferrals.made
    assert (key, at) == ("big-only#e-1#wait#1", T0 + timedelta(hours=1))
    assert WakeUp.model_validate(json.loads(body)[WAKE_FIELD]).seq == 1


class _Profiles:
    def __init__(self, profile: Profile) -> None:
        self.profile = profile

    def get(self, user_id: str) -> Profile | None:
        return self.profile if user_id == self.profile.user_id else None


CASCADE = Campaign.model_validate(
    {
        "id": "two-touch",
        "name": "T",
        "level": "L4",
        "trigger": {"event": "Product Added"},
        "goal": {"event": "Order Completed"},
        "steps": [
            {"id": "wait", "type": "wait", "duration": "1h"},
            {"id": "push", "type": "send", "channels": PUSH},
        ],
    }
)


def ordered_at(moment: datetime) -> Profile:
    event = parse_detail(track("u1", "Order Completed", f"o-{moment:%H%M}", moment, revenue=10))
    return fold_events(Profile(user_id="u1"), [event]).profile


def woken(profile: Profile) -> tuple[JourneyInstance, list[str]]:
    clock, queue, deferrals = SimulatedClock(T0), _Queue(), _Deferrals()
    journeys = JourneyEngine(
        Catalog([CASCADE]), _Instances(), cast(ProfileStore, _Profiles(profile)), queue, clock, deferrals
    )
    journeys.enter(CASCADE, "u1", "e-1", entry=entry("e-1"))
    [(_, at, body)] = deferrals.made
    clock.advance_to(at)
    outcome = journeys.wake(WakeUp.model_validate(json.loads(body)[WAKE_FIELD]))
    assert outcome.instance is not None
    return outcome.instance, queue.bodies


def test_a_goal_already_on_the_profile_ends_the_instance_at_the_wake_up() -> None:
    """Ingest folded the order before the wake-up, and its routed copy has not arrived: the goal wins."""
    state, jobs = woken(ordered_at(T0 + timedelta(minutes=30)))
    assert (state.status, state.reason) == ("converted", "Order Completed at 2026-11-02T08:30:00+00:00")
    assert jobs == []


def test_an_order_before_the_entry_is_no_goal_of_this_instance() -> None:
    state, jobs = woken(ordered_at(T0 - timedelta(days=2)))
    assert (state.status, state.step) == ("completed", None)
    assert [json.loads(j)["step"] for j in jobs] == ["push"]
