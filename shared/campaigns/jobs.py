"""Delivery jobs: what the trigger and audience functions enqueue and the deliver function consumes.

Kept apart from delivery itself so that the functions that only enqueue jobs do not load the
renderer and the channels at cold start.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class TriggerContext(BaseModel):
    """The behavioural event that caused an L4 message; its properties feed the template."""

    event: str
    message_id: str
    timestamp: datetime
    properties: dict[str, Any] = Field(default_factory=dict)


class DeliveryJob(BaseModel):
    model_config = ConfigDict(frozen=True)

    send_key: str = Field(min_length=1, max_length=512)
    campaign_id: str
    user_id: str
    occurrence: str
    trigger: TriggerContext | None = None
    not_before: datetime | None = Field(
        default=None,
        description="Set when the job was deferred (quiet hours, trigger delay): when it is due.",
    )
    step: str | None = Field(
        default=None, description="A journey's send step (shared/journeys): its content and caps are used."
    )
    profile_wait_since: datetime | None = Field(
        default=None,
        description="Set while delivery waits for the shopper's profile: when it first found none.",
    )
    holdback: bool = Field(
        default=False,
        description="The rest of a batch send's audience, held back by the experiment's wait: it gets the "
        "winner (docs/experiments.md).",
    )
    variant: str | None = Field(
        default=None,
        description="Set when delivery deferred the job after drawing a variant with its own send time: the "
        "variant drawn (kept: the experiment's weights may move before it comes back).",
    )
    send_at: datetime | None = Field(
        default=None,
        description="With ``variant``: the variant's planned send time, decided once (docs/experiments.md).",
    )

    @property
    def origin(self) -> datetime | None:
        """When what caused the job happened: the triggering event, or the campaign's occurrence."""
        if self.trigger is not None:
            return self.trigger.timestamp
        try:
            moment = datetime.fromisoformat(self.occurrence.replace("Z", "+00:00"))
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    @classmethod
    def for_occurrence(cls, campaign_id: str, occurrence: str, user_id: str) -> DeliveryJob:
        return cls(
            send_key=f"{campaign_id}#{occurrence}#{user_id}",
            campaign_id=campaign_id,
            user_id=user_id,
            occurrence=occurrence,
        )

    @classmethod
    def for_trigger(
        cls, campaign_id: str, user_id: str, trigger: TriggerContext, *, once_per_user: bool = False
    ) -> DeliveryJob:
        """Keyed on the triggering event (the same event twice is one message), or on the shopper
        alone for a campaign sent once per shopper ever (a welcome)."""
        occurrence = "once" if once_per_user else trigger.message_id
        return cls(
            send_key=f"{campaign_id}#{occurrence}#{user_id}",
            campaign_id=campaign_id,
            user_id=user_id,
            occurrence=trigger.timestamp.isoformat(),
            trigger=trigger,
        )
