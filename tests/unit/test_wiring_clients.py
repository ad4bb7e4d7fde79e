"""The wiring creates a service's client on its first use, once, whichever thread asks first."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from shared.core.clock import SimulatedClock
from shared.platform.config import Settings
from shared.platform.wiring import Wiring

START = datetime(2026, 11, 2, 8, tzinfo=UTC)


class FakeClient:
    def __init__(self, service: str) -> None:
        self.service = service
        self.sent: list[dict[str, Any]] = []

    def send_message(self, **request: Any) -> dict[str, Any]:
        self.sent.append(request)
        return {"MessageId": f"m-{len(self.sent)}"}

    def send_message_batch(self, **request: Any) -> dict[str, Any]:
        self.sent.append(request)
        return {"Successful": [{"Id": e["Id"]} for e in request["Entries"]], "Failed": []}


def wiring(created: Counter[str], delay_s: float = 0.0) -> Wiring:
    def make(service: str) -> FakeClient:
        time.sleep(delay_s)
        created[service] += 1
        return FakeClient(service)

    settings = Settings(
        dead_letter_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/dlq",
        delivery_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/delivery",
        profiles_table="profiles",
    )
    return Wiring(settings, make, SimulatedClock(START))


def test_building_ports_creates_no_client() -> None:
    created: Counter[str] = Counter()
    w = wiring(created)
    w.dead_letters(), w.queue("delivery_queue_url"), w.profile_store()
    assert created == Counter()


def test_a_client_is_created_on_its_first_use_and_shared_by_the_ports_of_its_service() -> None:
    created: Counter[str] = Counter()
    w = wiring(created)
    dead_letters, delivery = w.dead_letters(), w.queue("delivery_queue_url")
    dead_letters.park('{"job": 1}', "gave up", "deliver")
    delivery.send_many(['{"job": 2}'])
    assert created == Counter({"sqs": 1})
    client = w.client("sqs").created()
    assert [r["QueueUrl"].rsplit("/", 1)[1] for r in client.sent] == ["dlq", "delivery"]


def test_threads_asking_at_once_get_one_client() -> None:
    created: Counter[str] = Counter()
    proxy = wiring(created, delay_s=0.01).client("sqs")
    seen: list[Any] = []
    threads = [threading.Thread(target=lambda: seen.append(proxy.created())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert created == Counter({"sqs": 1})
    assert len({id(client) for client in seen}) == 1


def test_create_clients_creates_those_the_ports_hold() -> None:
    created: Counter[str] = Counter()
    w = wiring(created)
    w.dead_letters(), w.profile_store()
    w.create_clients()
    assert created == Counter({"sqs": 1, "dynamodb": 1})
