"""What one input (an entry, a wake-up, a routed event) did to a shopper's journey instance: the trigger
function's and the deliver function's metric values, kept apart from the engine so metrics load lean;
and the field that marks a delivery-queue body as a wake-up, which deliver reads on every body."""

from __future__ import annotations

from enum import StrEnum

WAKE_FIELD = "journey_wake"  # a delivery-queue body ``{"journey_wake": {...}}`` is a wake-up, not a job


class Transition(StrEnum):
    """What one input did to a shopper's instance."""

    ENTERED = "entered"
    WITHHELD = "withheld"
    MOVED = "moved"  # a wake-up or an awaited event moved it on
    ENDED = "ended"  # the goal or an exit_if event ended it
    REPLAYED = "replayed"  # a retry of the transition that was written: its effects again, idempotently
    ALREADY_ACTIVE = "already_active"
    NO_REENTRY = "no_reentry"
    REENTRY_WINDOW = "reentry_window"
    STALE = "stale"  # a wake-up or event for a step or instance that is no longer current
    NO_INSTANCE = "no_instance"
    LOST_RACE = "lost_race"  # another transition was written first: this one is a no-op
