"""Whether a delayed real-time message must not go out any more: ``cancel_if`` events, a ``repeat``
threshold no longer met, or a shopper who left the audience (or, for a catalog trigger's job, who is
not in it: the fan-out reads no profile). Delivery and the simulator both ask."""

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
    if job.step is not None:
        return _journey_ended(campaign, profile, job)
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
        (trigger.delay is not None or trigger.catalog is not None)  # a catalog job's audience: checked here
        and campaign.parsed_audience.rules
        and not campaign.parsed_audience.includes(profile, now)
    ):
        return "left_audience"
    return None


def _journey_ended(campaign: Campaign, profile: Profile, job: DeliveryJob) -> str | None:
    """A journey's send after its goal or an exit_if event (since the entry): the event wins, even when
    the step's job was made before the event's own routed copy ended the instance."""
    entered = job.origin
    if entered is None:
        return None
    for event in campaign.ending_events():
        if campaign.goal is not None and event == campaign.goal.event and campaign.goal.where:
            continue  # its conditions are on the event, not the profile: the routed event decides
        last = profile.last_at(event)
        if last is not None and _minute(last) >= _minute(entered):
            return f"journey ended: {event} at {last.isoformat()}"
    return None
