"""The batch fan-out's domain: segment sizing, the occurrence as the evaluation time, parallel enqueues."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import fakes
import pytest

from shared.batch.batch_campaigns import AudienceWorker, Planner, SegmentSizing, SegmentTask
from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.loader import Catalog
from shared.campaigns.model import Campaign
from shared.core.clock import SimulatedClock
from shared.profiles.profile import Profile

OCCURRENCE = "2026-11-18T18:00:00Z"
AT = datetime(2026, 11, 18, 18, tzinfo=UTC)


def campaign(**changes: Any) -> Campaign:
    """An L2 in-app message every Wednesday 18:00 UTC to who viewed a product in the last two days."""
    weekly = {
        "name": "Weekly",
        "level": "L2",
        "schedule": {"expression": "cron(0 18 ? * WED *)"},
        "audience": ['last("Product Viewed") within 2d'],
    }
    return fakes.campaign("weekly", {"in_app": {"title": "t", "body": "b"}}, **(weekly | changes))


class ListQueue:
    def __init__(self) -> None:
        self.bodies: list[str] = []
        self.calls = 0
        self.threads: set[int] = set()
        self._lock = threading.Lock()

    def send_many(self, bodies: Sequence[str]) -> None:
        with self._lock:
            self.bodies.extend(bodies)
            self.calls += 1
            self.threads.add(threading.get_ident())


class Store:
    def __init__(self, profiles: list[Profile]) -> None:
        self.profiles = profiles

    def scan_segment(
        self, segment: int, total: int, start_key: Mapping[str, Any] | None, limit: int
    ) -> tuple[list[Profile], Mapping[str, Any] | None]:
        mine = [p for i, p in enumerate(self.profiles) if i % total == segment]
        offset = int(start_key["offset"]) if start_key else 0
        page = mine[offset : offset + limit]
        return page, ({"offset": offset + limit} if offset + limit < len(mine) else None)


@pytest.mark.parametrize(
    ("profiles", "segments"),
    [(0, 1), (1, 1), (50_000, 1), (50_001, 2), (10_000_000, 200), (10**9, 4_000)],
)
def test_segments_are_sized_from_the_table(profiles: int, segments: int) -> None:
    assert SegmentSizing().segments_for(profiles) == segments


def test_the_planner_sizes_from_the_table_unless_a_count_is_fixed() -> None:
    catalog = Catalog([campaign()])
    queue = ListQueue()
    assert Planner(catalog, queue, profile_count=lambda: 120_000).plan("weekly", OCCURRENCE) == 3
    assert Planner(catalog, queue, segments=5, profile_count=lambda: 120_000).plan("weekly", OCCURRENCE) == 5
    tasks = [SegmentTask.model_validate_json(b) for b in queue.bodies]
    assert [(t.segment, t.total_segments) for t in tasks[:3]] == [(0, 3), (1, 3), (2, 3)]
    assert {t.occurrence for t in tasks} == {OCCURRENCE}


def test_an_occurrence_outside_the_campaigns_dates_plans_nothing() -> None:
    ended = campaign(end="2026-11-01T00:00:00Z")
    queue = ListQueue()
    assert Planner(Catalog([ended]), queue, segments=4).plan("weekly", OCCURRENCE) == 0
    assert queue.bodies == []


def test_rules_are_evaluated_as_of_the_occurrence_not_when_the_worker_runs() -> None:
    viewed = Profile(
        user_id="u-1", activity={"last": {"Product Viewed": int((AT - timedelta(days=1)).timestamp() // 60)}}
    )
    late_clock = SimulatedClock(AT + timedelta(days=5))  # an SQS retry days later
    delivery = ListQueue()
    worker = AudienceWorker(Catalog([campaign()]), Store([viewed]), delivery, ListQueue(), late_clock)
    task = SegmentTask(campaign_id="weekly", occurrence=OCCURRENCE, segment=0, total_segments=1)
    assert worker.work(task, lambda: 900_000).enqueued == 1
    assert DeliveryJob.model_validate_json(delivery.bodies[0]).send_key == f"weekly#{OCCURRENCE}#u-1"


class MeetingQueue(ListQueue):
    """Each send waits until four are in flight at once: passes only if the sends run in parallel."""

    def __init__(self) -> None:
        super().__init__()
        self.barrier = threading.Barrier(4, timeout=10)

    def send_many(self, bodies: Sequence[str]) -> None:
        self.barrier.wait()
        super().send_many(bodies)


def test_a_page_of_jobs_is_enqueued_in_parallel_streams_of_whole_batches() -> None:
    profiles = [Profile(user_id=f"u-{i:04d}") for i in range(995)]
    delivery = MeetingQueue()
    everyone = campaign(audience=[])
    worker = AudienceWorker(
        Catalog([everyone]), Store(profiles), delivery, ListQueue(), SimulatedClock(AT), enqueue_threads=4
    )
    task = SegmentTask(campaign_id="weekly", occurrence=OCCURRENCE, segment=0, total_segments=1)
    result = worker.work(task, lambda: 900_000)
    assert result.enqueued == 995 and sorted(delivery.bodies) == sorted(set(delivery.bodies))
    assert delivery.calls == 4  # 250 + 250 + 250 + 245 jobs: every slice but the last is whole tens
