"""Waiting for a shopper's profile: an L4 job can reach delivery before ingest has folded the event.

EventBridge hands an event to every matching rule in parallel, so a brand-new shopper's first
``identify`` (the welcome) or a first-time buyer's ``Order Completed`` (the thank-you) reaches the
trigger, and through it the delivery queue, while the same event still waits in the ingest queue.
Delivery then looks for the profile again, at growing intervals, for :data:`PROFILE_WAIT`, through a
one-time schedule (no flexible window), and decides as soon as the profile is there.

The bound: an event is on the ingest queue as soon as it is on the bus; ingest receives it within its
batching window, and each receive ends (handled, failed or timed out) within the queue's visibility
timeout; after ``max_receive_count`` receives the event has been folded or parked in ingest's
dead-letter queue. Past that, waiting longer cannot help: the job is parked in the delivery
dead-letter queue with the reason (``unknown_user: ...``), to be redriven after ingest's.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from shared.campaigns.jobs import DeliveryJob
from shared.core.errors import PermanentDeliveryError
from shared.core.vocabulary import DecisionStatus
from shared.delivery.ports import Deferrals
from shared.deployment.topology import INGEST_QUEUE

PROFILE_WAIT = timedelta(
    seconds=INGEST_QUEUE.max_batching_window_s
    + INGEST_QUEUE.visibility_timeout_s * INGEST_QUEUE.max_receive_count
)
FIRST_LOOK = timedelta(seconds=30)  # then 60, 120, 240, 480 s after the first attempt, then the bound
WAITING_FOR_PROFILE = DecisionStatus.WAITING_FOR_PROFILE  # not a decision: the job is looked at again


class ProfileNeverArrived(PermanentDeliveryError):
    """No profile for the shopper when the wait was over: parked with the reason, never dropped."""


def next_look(since: datetime, now: datetime) -> datetime | None:
    """When to look for the profile again (the wait began at ``since``); None once the wait is over.

    The times depend on ``since`` only, so two copies of one job wait on one schedule."""
    if now - since >= PROFILE_WAIT:
        return None
    step = FIRST_LOOK
    while since + step <= now and step < PROFILE_WAIT:
        step *= 2
    return since + min(step, PROFILE_WAIT)


def never_arrived(since: datetime, now: datetime) -> ProfileNeverArrived:
    return ProfileNeverArrived(
        f"unknown_user: no profile {int(PROFILE_WAIT.total_seconds())} s after the first attempt "
        f"({since.isoformat()}, now {now.isoformat()}): by then ingest has folded the shopper's event or "
        "parked it; redrive the ingest dead-letter queue, then this job"
    )


def look_again(deferrals: Deferrals, job: DeliveryJob, now: datetime) -> datetime:
    """Put ``job`` back for the next look (one schedule per look for every copy of the job) and say
    when; raise :class:`ProfileNeverArrived` once the wait is over."""
    since = job.profile_wait_since or now
    at = next_look(since, now)
    if at is None:
        raise never_arrived(since, now)
    body = job.model_copy(update={"profile_wait_since": since}).model_dump_json()
    deferrals.defer(job.user_id, f"{job.send_key}#profile@{at.isoformat()}", body, at, flexible=False)
    return at
