"""Delivery: the one place that decides whether a message goes out, renders it and sends it.

A job carries a deterministic send key (campaign + occurrence or triggering event + user). The key
is claimed in the send log with a conditional write before the provider is called, so a job that
SQS delivers twice sends once. Later guards (frequency caps, quiet hours, suppression, holdout)
plug in at :func:`decide` and explain themselves with a reason code.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from shared.campaigns import Campaign, Catalog, ChannelName
from shared.clock import Clock
from shared.errors import PermanentDeliveryError
from shared.jobs import DeliveryJob
from shared.ports import MessageChannel, ProfileStore, SendLog, SendLogEntry
from shared.profile import Profile, audience_view, consent_of
from shared.render import render_message

# Longer than the deliver function's timeout: a claim older than this belongs to a crashed attempt.
CLAIM_LEASE = timedelta(minutes=5)


@dataclass(frozen=True)
class SendDecision:
    status: str  # "sent" | "skipped" | "duplicate"
    reason: str | None = None
    channel: ChannelName | None = None
    provider_message_id: str | None = None


def reachable(channel: ChannelName, profile: Profile) -> bool:
    """Whether the shopper can receive ``channel`` at all: an address and consent for it."""
    traits = profile.traits
    consent = consent_of(traits)
    if channel == "email":
        return bool(traits.get("email")) and consent.get("email") is True
    if channel == "push":
        return bool(traits.get("push_endpoint")) and consent.get("push") is True
    return consent.get("in_app", True) is not False


def choose_channel(campaign: Campaign, profile: Profile) -> ChannelName | None:
    return next((c for c in campaign.channel_order() if reachable(c, profile)), None)


def template_context(campaign: Campaign, profile: Profile, job: DeliveryJob, now: datetime) -> dict[str, Any]:
    view = audience_view(profile, now)
    user = {**{k.replace(".", "_"): v for k, v in view.items()}, "user_id": profile.user_id}
    cart = profile.cart.model_dump(mode="json") if profile.cart else None
    return {
        "user": user,
        "cart": cart,
        "event": job.trigger.properties if job.trigger else {},
        "campaign": {"id": campaign.id, "name": campaign.name},
    }


@dataclass
class Deliverer:
    """Delivers jobs one by one; inside :meth:`batch`, with one profile read and one log write per batch."""

    catalog: Catalog
    profiles: ProfileStore
    send_log: SendLog
    channels: Mapping[str, MessageChannel]
    clock: Clock
    _prefetched: dict[str, Profile] | None = field(default=None, init=False, repr=False)
    _completed: list[SendLogEntry] | None = field(default=None, init=False, repr=False)
    _prefetched_ids: set[str] = field(default_factory=set, init=False, repr=False)

    @contextmanager
    def batch(self, user_ids: Sequence[str]) -> Iterator[None]:
        """Read the batch's profiles in one request; record its sends in one request at the end.

        Each send is still claimed with its own conditional write before the provider is called, so
        if recording the outcomes fails, the error makes SQS redeliver the batch and the claims stop
        a second send within their lease.
        """
        self._prefetched = self.profiles.get_many(list(dict.fromkeys(user_ids))) if user_ids else {}
        self._prefetched_ids = set(user_ids)
        self._completed = []
        try:
            yield
        finally:
            completed, self._completed, self._prefetched = self._completed, None, None
            if completed:
                self.send_log.complete_many(completed)

    def _profile(self, user_id: str) -> Profile | None:
        if self._prefetched is not None and user_id in self._prefetched_ids:
            return self._prefetched.get(user_id)
        return self.profiles.get(user_id)

    def _complete(self, entry: SendLogEntry) -> None:
        if self._completed is not None:
            self._completed.append(entry)
        else:
            self.send_log.complete(entry)

    def deliver(self, job: DeliveryJob) -> SendDecision:
        campaign = self.catalog.get(job.campaign_id)
        if campaign is None:
            raise PermanentDeliveryError(f"unknown campaign {job.campaign_id!r}")
        now = self.clock.now()
        entry = SendLogEntry(
            user_id=job.user_id,
            send_key=job.send_key,
            campaign_id=campaign.id,
            level=campaign.level,
            channel=None,
            status="skipped",
            at=now.isoformat(),
            occurrence=job.occurrence,
        )
        profile = self._profile(job.user_id)
        if profile is None:
            return self._skip(entry, "unknown_user")
        if not campaign.is_active(now):
            return self._skip(entry, "campaign_inactive")
        channel = choose_channel(campaign, profile)
        if channel is None:
            return self._skip(entry, "no_reachable_channel")
        message = render_message(
            campaign, channel, job.send_key, template_context(campaign, profile, job, now)
        )
        claimed = replace(entry, channel=channel, status="claimed")
        if not self.send_log.claim(claimed, lease_expired_before=(now - CLAIM_LEASE).isoformat()):
            return SendDecision("duplicate", "already_sent_or_in_flight", channel)
        recipient = {**profile.traits, "user_id": profile.user_id, "now": now}
        try:
            provider_id = self.channels[channel].send(message, recipient)
        except Exception as error:
            self.send_log.complete(replace(claimed, status="failed", reason=type(error).__name__))
            raise
        self._complete(replace(claimed, status="sent", provider_message_id=provider_id))
        return SendDecision("sent", None, channel, provider_id)

    def _skip(self, entry: SendLogEntry, reason: str) -> SendDecision:
        self.send_log.record(replace(entry, reason=reason))
        return SendDecision("skipped", reason)
