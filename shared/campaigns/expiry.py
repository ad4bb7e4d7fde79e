"""Whether a campaign can still be deployed at a given moment: one decision for ``nudge validate``,
the CDK synth and the local runtime.

EventBridge Scheduler takes a one-time ``at()`` schedule in the past badly: the stack's create fails
(and rolls back) or the schedule is accepted and never runs. So a campaign whose schedule never fires
again, or whose ``end`` has passed, is left out of what is deployed — its schedule or its trigger
rule — and each caller says so. ``now`` is always passed in (the deploy time, the simulated clock, a
test's fixed clock): nothing here reads the system clock. Standard library only (bundled into Lambdas).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from shared.campaigns.schedules import ScheduleExpression

if TYPE_CHECKING:
    from shared.campaigns.loader import Catalog
    from shared.campaigns.model import Campaign

EXPIRED = "expired, not deployed"


@dataclass(frozen=True)
class Expired:
    """A campaign that is not deployed, the field of its file that made it so, and why."""

    campaign_id: str
    field: tuple[str, ...]
    reason: str

    @property
    def where(self) -> str:
        return ".".join(self.field)


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def expiry(campaign: Campaign, now: datetime) -> Expired | None:
    """Why ``campaign`` must not be deployed at ``now``, or None if it may be."""
    if now.utcoffset() is None:
        raise ValueError(f"now must be a timezone-aware datetime, got {now!r}")
    if campaign.end is not None and campaign.end <= now:
        return Expired(campaign.id, ("end",), f"its end, {_utc(campaign.end)}, has passed")
    schedule = campaign.schedule
    if schedule is None:
        return None
    upcoming = ScheduleExpression.parse(schedule.expression, schedule.timezone).next_after(now)
    written = f"{schedule.expression} {schedule.timezone}"
    if upcoming is None:
        return Expired(campaign.id, ("schedule", "expression"), f"{written} fires no more after {_utc(now)}")
    if campaign.end is not None and upcoming >= campaign.end:
        return Expired(
            campaign.id,
            ("schedule", "expression"),
            f"{written} next fires at {_utc(upcoming)}, not before its end, {_utc(campaign.end)}",
        )
    return None


def expired_campaigns(campaigns: Iterable[Campaign], now: datetime) -> list[Expired]:
    """Every campaign not deployed at ``now``, in catalog order."""
    return [found for c in campaigns if (found := expiry(c, now)) is not None]


def is_deployed(campaign: Campaign, now: datetime) -> bool:
    return expiry(campaign, now) is None


def expiry_warnings(catalog: Catalog, now: datetime) -> list[str]:
    """``file:line: field: expired, not deployed (why)`` for each expired campaign of ``catalog``
    (the campaign id stands in for the file when the catalog was not read from files)."""
    from shared.campaigns.yaml_lines import field_line

    warnings = []
    for found in expired_campaigns(catalog, now):
        path = catalog.origins.get(found.campaign_id)
        where = f"{path}:{field_line(path, found.field)}" if path else found.campaign_id
        warnings.append(f"{where}: {found.where}: {EXPIRED} ({found.reason})")
    return warnings
