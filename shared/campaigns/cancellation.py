"""Whether a delayed real-time message must not go out any more: ``cancel_if`` events, a ``repeat``
threshold no longer met, or a shopper who left the audience. Delivery and the simulator both ask."""

from __future__ import annotations

from datetime import datetime

from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.model import Campaign
from shared.core.durations import parse_duration
from shared.profiles.profile import Profile, product_of


def _minute(moment: datetime) -> int:
    return int(moment.timestamp() // 60)


def cancel_reason(campaign: Campaign, profile: Profile, job: DeliveryJob, now: datetime) -> str | None:
    """Why a delayed trigger's message must not go out any more, judged on the current profile."""
    trigger, context = campaign.trigger, job.trigger
    if trigger is None or context is None:
        return None
    for event in trigger.cancel_if:
        last = profile.last_at(event)
        # Activity times are kept to the minute: an event in the trigger's own minute counts as after.
        if last is not None and _minute(last) >= _minute(context.timestamp):
            return f"cancel_if: {event} at {last.isoformat()}"
    if trigger.repeat is not None:
        product_id = product_of(context.properties)
        within = parse_duration(trigger.repeat.within)
        views = (
            profile.activity.views_of(str(product_id), context.timestamp - within, context.timestamp)
            if product_id is not None
            else 0
        )
        if views < trigger.repeat.count:
            return (
                f"repeat: {views} of {trigger.repeat.count} views of the product in {trigger.repeat.within}"
            )
    if (
        trigger.delay is not None
        and campaign.parsed_audience.rules
        and not campaign.parsed_audience.includes(profile, now)
    ):
        return "left_audience"
    return None
