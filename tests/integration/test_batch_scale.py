"""The batch fan-out at scale on moto: 20,000 profiles, a planner sized from the table, parallel workers.

Profiles are written with BatchWriteItem (the adapter's own item format) so the set-up stays cheap;
everything after that is the real planner and audience worker against moto's DynamoDB and SQS.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from moto import mock_aws

from nudge.local.runtime import LocalRuntime
from shared.adapters.dynamo.profiles import profile_to_item
from shared.adapters.sqs import SqsQueue
from shared.batch.batch_campaigns import AudienceWorker, Planner, SegmentSizing, SegmentTask
from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.loader import Catalog
from shared.campaigns.model import Campaign
from shared.core.clock import SimulatedClock
from shared.profiles.profile import Activity, Profile

PROFILES = 20_000
OCCURRENCE = "2026-11-18T18:00:00Z"
AT = datetime(2026, 11, 18, 18, tzinfo=UTC)
COUNTRIES = ("ID", "MY", "IN", "US", "SG", "DE")

CAMPAIGN = Campaign.model_validate(
    {
        "id": "scale-test",
        "name": "Scale test",
        "level": "L2",
        "schedule": {"expression": "cron(0 18 ? * WED *)"},
        "audience": [
            "country in [ID, MY, SG]",
            'count("Product Viewed", 7d) >= 2 or sum(revenue, 90d) > 100',
        ],
        "channels": {"in_app": {"title": "t", "body": "b"}},
    }
)


def profile(i: int) -> Profile:
    views = i % 4
    day = (AT - timedelta(days=i % 10)).date().isoformat()
    revenue = (i * 37) % 250
    return Profile(
        user_id=f"u-{i:06d}",
        traits={"country": COUNTRIES[i % len(COUNTRIES)], "age": 18 + i % 50, "first_name": "Sam"},
        counts={"Product Viewed": {day: views}} if views else {},
        activity=Activity(orders={day: (1, revenue)}) if i % 3 == 0 else Activity(),
        last_seen=AT - timedelta(days=i % 10),
    )


def expected_audience() -> set[str]:
    audience = CAMPAIGN.parsed_audience
    return {p.user_id for p in (profile(i) for i in range(PROFILES)) if audience.includes(p, AT)}


@dataclass
class Loaded:
    runtime: LocalRuntime
    catalog: Catalog
    expected: set[str]
    first_run: dict[int, set[str]] = field(default_factory=dict)  # segment -> send keys


class RecordingQueue:
    """The real SQS queue, remembering what was sent (so the test need not receive 7,000 messages)."""

    def __init__(self, queue: SqsQueue) -> None:
        self.queue = queue
        self.bodies: list[str] = []

    def send_many(self, bodies: Sequence[str]) -> None:
        self.queue.send_many(bodies)
        self.bodies.extend(bodies)

    def keys(self) -> list[str]:
        return [DeliveryJob.model_validate_json(b).send_key for b in self.bodies]


@pytest.fixture(scope="module")
def loaded() -> Iterator[Loaded]:
    """One moto account with 20,000 profiles written by BatchWriteItem, shared by this module's tests."""
    catalog = Catalog([CAMPAIGN])
    with mock_aws():
        runtime = LocalRuntime(catalog, SimulatedClock(AT), audience_segments=3, log_level="CRITICAL")
        client, table = runtime.client("dynamodb"), runtime.table_names["profiles"]
        for start in range(0, PROFILES, 25):
            requests = [
                {"PutRequest": {"Item": profile_to_item(profile(i))}} for i in range(start, start + 25)
            ]
            response = client.batch_write_item(RequestItems={table: requests})
            assert not response.get("UnprocessedItems")
        yield Loaded(runtime, catalog, expected_audience())


def queued(runtime: LocalRuntime, key: str) -> int:
    attributes = runtime.client("sqs").get_queue_attributes(
        QueueUrl=runtime.queue_urls[key], AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def take_tasks(runtime: LocalRuntime) -> list[SegmentTask]:
    sqs, url = runtime.client("sqs"), runtime.queue_urls["audience"]
    tasks = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            tasks.append(SegmentTask.model_validate_json(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return tasks


def test_twenty_thousand_profiles_fan_out_into_segments_that_each_scan_a_share(loaded: Loaded) -> None:
    runtime = loaded.runtime
    sqs = runtime.client("sqs")
    audience_queue = SqsQueue(sqs, runtime.queue_urls["audience"])
    delivery_queue = RecordingQueue(SqsQueue(sqs, runtime.queue_urls["delivery"]))

    def table_size() -> int:
        described = runtime.client("dynamodb").describe_table(TableName=runtime.table_names["profiles"])
        return int(described["Table"]["ItemCount"])

    planner = Planner(loaded.catalog, audience_queue, profile_count=table_size, sizing=SegmentSizing(2_500))
    assert planner.plan(CAMPAIGN.id, OCCURRENCE) == 8  # 20,000 profiles / 2,500 per segment

    worker = AudienceWorker(loaded.catalog, runtime.profiles, delivery_queue, audience_queue, runtime.clock)
    tasks = take_tasks(runtime)
    assert sorted(t.segment for t in tasks) == list(range(8))
    assert {t.total_segments for t in tasks} == {8} and {t.occurrence for t in tasks} == {OCCURRENCE}
    scanned = []
    for task in tasks:
        before = len(delivery_queue.bodies)
        result = worker.work(task, remaining_ms=lambda: 900_000)
        assert not result.continued and result.enqueued == len(delivery_queue.bodies) - before
        loaded.first_run[task.segment] = set(delivery_queue.keys()[before:])
        scanned.append(result.scanned)

    assert sum(scanned) == PROFILES
    assert max(scanned) < PROFILES / 4  # no invocation scans the whole table
    keys = delivery_queue.keys()
    assert len(keys) == len(set(keys)) == len(loaded.expected) == queued(runtime, "delivery")
    assert set(keys) == {f"scale-test#{OCCURRENCE}#{u}" for u in loaded.expected}


def test_a_redelivered_segment_and_its_continuations_produce_the_same_send_keys(loaded: Loaded) -> None:
    """SQS redelivers segment 3 (a worker crashed after enqueuing); this time the worker runs out of
    time after every page and hands over. The jobs carry exactly the keys of the first run, so
    delivery's claim on each key (tests/integration/test_campaign_runs.py) sends nobody twice."""
    assert loaded.first_run, "runs after the fan-out test"
    runtime = loaded.runtime
    sqs = runtime.client("sqs")
    audience_queue = SqsQueue(sqs, runtime.queue_urls["audience"])
    delivery_queue = RecordingQueue(SqsQueue(sqs, runtime.queue_urls["delivery"]))
    worker = AudienceWorker(
        loaded.catalog, runtime.profiles, delivery_queue, audience_queue, runtime.clock, page_size=400
    )
    task = SegmentTask(campaign_id=CAMPAIGN.id, occurrence=OCCURRENCE, segment=3, total_segments=8)
    results = [worker.work(task, remaining_ms=lambda: 1_000)]
    while continuation := take_tasks(runtime):
        (task,) = continuation
        assert task.start_key is not None and task.segment == 3
        results.append(worker.work(task, remaining_ms=lambda: 1_000))

    assert len(results) > 1 and all(r.continued for r in results[:-1]) and not results[-1].continued
    assert all(r.scanned <= 400 for r in results)
    assert set(delivery_queue.keys()) == loaded.first_run[3]
    assert len(delivery_queue.keys()) == len(loaded.first_run[3])
