"""Batch (L1-L3) campaigns: an occurrence is split into scan segments, each worked independently.

The planner only enqueues one small message per segment; audience workers scan their segment
page by page, evaluate the audience and enqueue delivery jobs. No invocation scans the whole
table, and a worker running out of time hands its position on in a continuation message.

Every job of an occurrence carries the send key ``campaign#occurrence#user``: a schedule that
fires twice, a planner retried by Lambda, or a segment redelivered by SQS produce the same keys,
and delivery claims each key once. Rules are evaluated as of the occurrence time, so a segment
worked late (a retry, a continuation) selects the shopper by the same windows.

Sizing (docs/batch-scale.md): the planner reads the table's approximate item count (DescribeTable)
and makes one segment per ``profiles_per_segment`` profiles — 200 segments for 10M profiles.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.loader import Catalog
from shared.campaigns.model import Campaign
from shared.core.clock import Clock
from shared.core.errors import PermanentDeliveryError
from shared.core.queues import WorkQueue
from shared.delivery.ports import Deferrals
from shared.experiments.holdback import held_back, release_time, sample_percent
from shared.journeys.engine import JourneyEngine
from shared.journeys.transitions import Transition
from shared.profiles.ports import ProfileStore
from shared.profiles.profile import Profile

# DynamoDB ends a Scan page at 1 MB whatever the limit: ~1,000 profiles of the typical size.
SCAN_PAGE_SIZE = 1000
# DynamoDB parallel scans allow up to 1,000,000 segments; past a few thousand the SQS messages and
# Lambda invocations cost more than they save.
MAX_SEGMENTS = 4_000
PROFILES_PER_SEGMENT = 50_000
# Leave this much of the invocation for the last page and the hand-off.
MIN_REMAINING_MS = 60_000


class SegmentTask(BaseModel):
    campaign_id: str
    occurrence: str
    segment: int = Field(ge=0)
    total_segments: int = Field(ge=1)
    start_key: dict[str, Any] | None = None


@dataclass(frozen=True)
class SegmentResult:
    scanned: int
    enqueued: int
    continued: bool


def _occurrence_time(occurrence: str) -> datetime:
    return datetime.fromisoformat(occurrence.replace("Z", "+00:00"))


@dataclass(frozen=True)
class SegmentSizing:
    """How many scan segments an occurrence gets for a table of a given size."""

    profiles_per_segment: int = PROFILES_PER_SEGMENT
    max_segments: int = MAX_SEGMENTS

    def segments_for(self, profiles: int) -> int:
        return max(1, min(self.max_segments, math.ceil(max(profiles, 0) / self.profiles_per_segment)))


@dataclass
class Planner:
    """Turns one occurrence into one audience task per scan segment (a fixed count, or sized from
    ``profile_count``, the table's approximate item count)."""

    catalog: Catalog
    audience_queue: WorkQueue
    segments: int | None = None
    profile_count: Callable[[], int] | None = None
    sizing: SegmentSizing = field(default_factory=SegmentSizing)

    def segment_count(self) -> int:
        if self.segments:
            return self.segments
        return self.sizing.segments_for(self.profile_count()) if self.profile_count else 1

    def plan(self, campaign_id: str, occurrence: str) -> int:
        campaign = self.catalog.get(campaign_id)
        if campaign is None or campaign.schedule is None:
            raise PermanentDeliveryError(f"unknown batch campaign {campaign_id!r}")
        if not campaign.is_active(_occurrence_time(occurrence)):
            return 0
        total = self.segment_count()
        tasks = [
            SegmentTask(campaign_id=campaign_id, occurrence=occurrence, segment=i, total_segments=total)
            for i in range(total)
        ]
        self.audience_queue.send_many([t.model_dump_json() for t in tasks])
        return len(tasks)


@dataclass
class AudienceWorker:
    """Works one segment: scan a page, evaluate, enqueue the page's jobs (in ``enqueue_threads``
    parallel SendMessageBatch streams: at ~20 ms a call, one stream caps a worker at ~500 jobs/s)."""

    catalog: Catalog
    profiles: ProfileStore
    delivery_queue: WorkQueue
    audience_queue: WorkQueue
    clock: Clock
    enqueue_threads: int = 1
    page_size: int = SCAN_PAGE_SIZE
    journeys: JourneyEngine | None = None
    deferrals: Deferrals | None = None  # a batch send's held-back shoppers (shared/experiments/holdback.py)

    def work(self, task: SegmentTask, remaining_ms: Callable[[], int]) -> SegmentResult:
        campaign = self.catalog.get(task.campaign_id)
        if campaign is None:
            raise PermanentDeliveryError(f"unknown batch campaign {task.campaign_id!r}")
        audience = campaign.parsed_audience
        now = _occurrence_time(task.occurrence)
        start_key: Mapping[str, Any] | None = task.start_key
        scanned = enqueued = 0
        while True:
            page, start_key = self.profiles.scan_segment(
                task.segment, task.total_segments, start_key, self.page_size
            )
            scanned += len(page)
            chosen = [p for p in page if p.linked_to is None and audience.includes(p, now)]
            if campaign.is_journey:
                enqueued += self._enter(campaign, chosen, task.occurrence)
            else:
                jobs = [
                    DeliveryJob.for_occurrence(campaign.id, task.occurrence, p.user_id)
                    for p in chosen  # a visitor's link holds no history: never chosen
                ]
                jobs = self._hold_back(campaign, jobs, now)
                self._enqueue([job.model_dump_json() for job in jobs])
                enqueued += len(jobs)
            if start_key is None:
                return SegmentResult(scanned, enqueued, continued=False)
            if remaining_ms() < MIN_REMAINING_MS:
                follow_up = task.model_copy(update={"start_key": dict(start_key)})
                self.audience_queue.send_many([follow_up.model_dump_json()])
                return SegmentResult(scanned, enqueued, continued=True)

    def _enter(self, campaign: Campaign, chosen: Sequence[Profile], occurrence: str) -> int:
        """A batch journey: each chosen shopper enters it, the occurrence being the instance (so a
        redelivered segment enters nobody twice); returns how many entered."""
        if self.journeys is None:
            raise RuntimeError("a batch journey needs the journey engine")
        entered = 0
        for profile in chosen:
            outcome = self.journeys.enter(campaign, profile.user_id, occurrence, occurrence=occurrence)
            entered += outcome.transition in (Transition.ENTERED, Transition.WITHHELD)
        return entered

    def _hold_back(self, campaign: Campaign, jobs: list[DeliveryJob], now: datetime) -> list[DeliveryJob]:
        """Defer the jobs of the shoppers outside a batch send's tested sample until its wait ends, once
        per send key; the jobs to send now."""
        if sample_percent(campaign) is None:
            return jobs
        if self.deferrals is None:
            raise RuntimeError("a batch send's holdback needs the deferrals")
        at = release_time(campaign, now)
        for job in (j for j in jobs if held_back(campaign, j.user_id)):
            body = job.model_copy(update={"not_before": at, "holdback": True}).model_dump_json()
            self.deferrals.defer(job.user_id, f"{job.send_key}#holdback", body, at, flexible=False)
        return [j for j in jobs if not held_back(campaign, j.user_id)]

    def _enqueue(self, jobs: Sequence[str]) -> None:
        if self.enqueue_threads <= 1 or len(jobs) <= 10:
            self.delivery_queue.send_many(jobs)
            return
        share = math.ceil(len(jobs) / 10 / self.enqueue_threads) * 10
        slices = [jobs[i : i + share] for i in range(0, len(jobs), share)]
        with ThreadPoolExecutor(max_workers=len(slices)) as pool:
            for done in [pool.submit(self.delivery_queue.send_many, s) for s in slices]:
                done.result()  # re-raises a failed send: SQS redelivers the segment, keys dedupe
