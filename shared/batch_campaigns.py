"""Batch (L1-L3) campaigns: an occurrence is split into scan segments, each worked independently.

The planner only enqueues one small message per segment; audience workers scan their segment
page by page, evaluate the audience and enqueue delivery jobs. No invocation scans the whole
table, and a worker running out of time hands its position on in a continuation message.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from shared.campaigns import Catalog
from shared.clock import Clock
from shared.errors import PermanentDeliveryError
from shared.jobs import DeliveryJob
from shared.ports import ProfileStore, WorkQueue
from shared.profile import audience_view

SCAN_PAGE_SIZE = 500
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


@dataclass
class Planner:
    catalog: Catalog
    audience_queue: WorkQueue
    segments: int

    def plan(self, campaign_id: str, occurrence: str) -> int:
        campaign = self.catalog.get(campaign_id)
        if campaign is None or campaign.schedule is None:
            raise PermanentDeliveryError(f"unknown batch campaign {campaign_id!r}")
        if not campaign.is_active(_occurrence_time(occurrence)):
            return 0
        tasks = [
            SegmentTask(
                campaign_id=campaign_id, occurrence=occurrence, segment=i, total_segments=self.segments
            )
            for i in range(self.segments)
        ]
        self.audience_queue.send_many([t.model_dump_json() for t in tasks])
        return len(tasks)


@dataclass
class AudienceWorker:
    catalog: Catalog
    profiles: ProfileStore
    delivery_queue: WorkQueue
    audience_queue: WorkQueue
    clock: Clock

    def work(self, task: SegmentTask, remaining_ms: Callable[[], int]) -> SegmentResult:
        campaign = self.catalog.get(task.campaign_id)
        if campaign is None:
            raise PermanentDeliveryError(f"unknown batch campaign {task.campaign_id!r}")
        audience = campaign.parsed_audience
        now = self.clock.now()
        start_key: Mapping[str, Any] | None = task.start_key
        scanned = enqueued = 0
        while True:
            page, start_key = self.profiles.scan_segment(
                task.segment, task.total_segments, start_key, SCAN_PAGE_SIZE
            )
            scanned += len(page)
            jobs = [
                DeliveryJob.for_occurrence(campaign.id, task.occurrence, p.user_id).model_dump_json()
                for p in page
                if audience.includes(audience_view(p, now))
            ]
            self.delivery_queue.send_many(jobs)
            enqueued += len(jobs)
            if start_key is None:
                return SegmentResult(scanned, enqueued, continued=False)
            if remaining_ms() < MIN_REMAINING_MS:
                follow_up = task.model_copy(update={"start_key": dict(start_key)})
                self.audience_queue.send_many([follow_up.model_dump_json()])
                return SegmentResult(scanned, enqueued, continued=True)
