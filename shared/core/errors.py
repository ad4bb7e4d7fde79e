"""Failures that retrying cannot fix: the message is parked with the reason instead."""

from __future__ import annotations


class EventRejected(ValueError):
    """A payload Nudge cannot store (``shared.events.contract`` reads events); ``reason`` names the field
    and what was wrong with it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PermanentDeliveryError(ValueError):
    """A job that can never succeed (unknown campaign, invalid job): park it, don't retry it."""


class TemplateProblem(ValueError):
    """A template that cannot be compiled or rendered; names the campaign, channel and field."""


class OutcomeUnknown(PermanentDeliveryError):
    """A send was claimed and its outcome never recorded (the attempt crashed or timed out, possibly
    after the provider accepted the message). Nudge sends at most once: park it, never send it again."""


class SendInFlight(RuntimeError):
    """Another attempt claimed this send within its lease and has not recorded an outcome yet: retry
    later, when it has (a duplicate) or its lease has run out (outcome unknown)."""
