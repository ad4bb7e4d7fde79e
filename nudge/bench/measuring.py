"""What every measurement shares: the fixed start, moto's credentials, the request meter, item sizes."""

from __future__ import annotations

import gc
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
START = datetime(2026, 11, 2, 8, tzinfo=UTC)


@dataclass
class RequestMeter:
    """AWS requests by ``service.Operation``, the CPU seconds spent inside botocore, and those of the
    garbage collector's full collections that started outside it."""

    counts: Counter[str] = field(default_factory=Counter)
    botocore_cpu_s: float = 0.0
    # A full (generation 2) collection scans the whole process, moto's tables and botocore's models
    # included, and starts wherever allocations happen to cross its threshold: in a botocore call (then
    # counted there) or in the code measured, which a change anywhere decides (docs/performance.md).
    full_gc_cpu_s: float = 0.0
    in_botocore: int = 0

    def __call__(self, model: Any, **_: Any) -> None:
        self.counts[f"{model.service_model.service_name}.{model.name}"] += 1

    def total(self, service: str = "") -> int:
        return sum(n for name, n in self.counts.items() if name.startswith(service))

    def reset(self) -> None:
        self.counts.clear()
        self.botocore_cpu_s = 0.0
        self.full_gc_cpu_s = 0.0


@contextmanager
def metered(runtime: Any) -> Iterator[RequestMeter]:
    import botocore.client

    meter = RequestMeter()
    for service in ("dynamodb", "sqs", "sesv2", "sns", "events", "scheduler"):
        runtime.client(service).meta.events.register("before-call", meter)
    original = botocore.client.BaseClient._make_api_call

    def timed(client: Any, operation: str, params: Any) -> Any:
        started = time.process_time()
        meter.in_botocore += 1
        try:
            return original(client, operation, params)
        finally:
            meter.in_botocore -= 1
            meter.botocore_cpu_s += time.process_time() - started

    collecting: list[float] = []

    def full_collection(phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2 or meter.in_botocore:
            return
        if phase == "start":
            collecting.append(time.process_time())
        elif collecting:
            meter.full_gc_cpu_s += time.process_time() - collecting.pop()

    botocore.client.BaseClient._make_api_call = timed
    gc.callbacks.append(full_collection)
    try:
        yield meter
    finally:
        gc.callbacks.remove(full_collection)
        botocore.client.BaseClient._make_api_call = original
        for service in ("dynamodb", "sqs", "sesv2", "sns", "events", "scheduler"):
            runtime.client(service).meta.events.unregister("before-call", meter)


def dynamodb_item_bytes(item: dict[str, Any]) -> int:
    """DynamoDB's item size: attribute names plus values (numbers ~ digits/2 + 1), as billed."""

    def size(value: dict[str, Any]) -> int:
        ((kind, inner),) = value.items()
        if kind == "S":
            return len(inner.encode())
        if kind == "N":
            return len(inner.strip("-").replace(".", "")) // 2 + 1
        if kind == "B":
            return len(inner)
        if kind in {"BOOL", "NULL"}:
            return 1
        if kind == "M":
            return 3 + sum(len(k.encode()) + size(v) + 1 for k, v in inner.items())
        if kind == "L":
            return 3 + sum(size(v) + 1 for v in inner)
        return sum(len(str(v)) for v in inner)

    return sum(len(name.encode()) + size(value) for name, value in item.items())
