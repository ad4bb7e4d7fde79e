"""The bench's meter: AWS time is counted apart from the code measured, and so is a full garbage collection
that starts in the code measured (it scans the whole process, moto's tables included); one that starts in
a botocore call is in that call's time already."""

from __future__ import annotations

import gc
from typing import Any

import boto3
from moto import mock_aws

from nudge.bench.measuring import metered


class Runtime:
    """What ``metered`` reads of a runtime: its clients."""

    def __init__(self) -> None:
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = boto3.client(service, region_name="us-east-1")
        return self._clients[service]


def test_a_full_collection_in_the_code_measured_is_counted_apart() -> None:
    with mock_aws(), metered(Runtime()) as meter:
        gc.collect(1)  # a young collection: the code's own
        assert meter.full_gc_cpu_s == 0.0
        gc.collect()
    assert meter.full_gc_cpu_s > 0.0
    assert meter.botocore_cpu_s == 0.0


def test_a_full_collection_in_a_botocore_call_is_left_in_that_calls_time() -> None:
    def collect(**_: Any) -> None:  # returns nothing: a value would be taken for the call's response
        gc.collect()

    runtime = Runtime()
    with mock_aws(), metered(runtime) as meter:
        sqs = runtime.client("sqs")
        sqs.meta.events.register("before-call", collect)
        sqs.list_queues()
    assert meter.counts == {"sqs.ListQueues": 1}
    assert meter.botocore_cpu_s > 0.0
    assert meter.full_gc_cpu_s == 0.0
