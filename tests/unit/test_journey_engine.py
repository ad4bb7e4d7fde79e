"""The journey engine on in-memory ports (no AWS): the walk's decisions where the profile is missing,
and a sequence number that carries over a re-entry."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from nudge.simulated_journeys import _Instances
from shared.campaigns.jobs import TriggerContext
from shared.campaigns.loader import Catalog
from shared.campaigns.model import Campaign
from shared.core.clock import SimulatedClock
from shared.journeys.engine import JourneyEngine
from shared.journeys.instance import WAKE_FIELD, WakeUp
from shared.journeys.transitions import Transition
from shared.profiles.ports import ProfileStore

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
