"""Integration fixtures: the local runtime (real handlers, real boto3 calls) on moto."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from fakes import START, catalog_without
from moto import mock_aws

from nudge.local.runtime import LocalRuntime
from shared.campaigns.loader import Catalog
from shared.core.clock import SimulatedClock


@pytest.fixture
def catalog() -> Catalog:
    """The shipped campaigns, with the one-message abandoned-cart the trigger tests are about in place
    of the cart-recovery journey (tests/integration/test_journeys.py runs that)."""
    return catalog_without()


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def runtime(
    catalog: Catalog, clock: SimulatedClock, request: pytest.FixtureRequest
) -> Iterator[LocalRuntime]:
    """The local runtime, adversarial (seed 0) unless the test is marked ``gentle`` with its reason."""
    gentle = request.node.get_closest_marker("gentle") is not None
    with mock_aws():
        yield LocalRuntime(catalog, clock, audience_segments=3, log_level="CRITICAL", gentle=gentle)


class AwsCalls:
    """Counts the AWS requests boto3 makes (every client, every retry)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, model: Any, **_: Any) -> None:
        self.counts[f"{model.service_model.service_name}.{model.name}"] += 1

    def total(self, prefix: str = "") -> int:
        return sum(n for name, n in self.counts.items() if name.startswith(prefix))


@pytest.fixture
def aws_calls(runtime: LocalRuntime) -> AwsCalls:
    calls = AwsCalls()
    for service in ("dynamodb", "sqs", "sesv2", "sns", "events"):
        runtime.client(service).meta.events.register("before-call", calls)
    return calls


@pytest.fixture
def stack(runtime: LocalRuntime) -> Iterator[str]:
    """The CLI's ``--stack Nudge``: the default boto3 session, whose CloudFormation answers with the local
    runtime's tables and queues (a module may define its own, e.g. with a region)."""
    boto3.setup_default_session()
    assert boto3.DEFAULT_SESSION is not None
    runtime.answer_describe_stacks(boto3.DEFAULT_SESSION, "Nudge")
    yield "Nudge"
    boto3.DEFAULT_SESSION = None
