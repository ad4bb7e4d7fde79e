"""Physical names derive from the stack name (shared/deployment/naming.py), and functions learn them from
env."""

from __future__ import annotations

import json

import pytest

from shared.deployment.naming import OWN_BUS, ResourceNames
from shared.platform.metrics import EVENTS_INGESTED, NAMESPACE_ENV, FunctionMetrics


def test_every_name_of_a_stack_starts_with_its_name() -> None:
    names = ResourceNames("Staging")
    assert (names.bus, names.deferral_group, names.signing_secret, names.configuration_set) == (
        "Staging-bus",
        "Staging-deferred",
        "Staging-signing-key",
        "Staging-email",
    )
    assert (names.dashboard, names.alarm("ingest-errors"), names.metric_namespace) == (
        "Staging-operations",
        "Staging-ingest-errors",
        "Staging",
    )
    assert names.event_bus(OWN_BUS) == "Staging-bus" and names.event_bus("default") == "default"


def test_the_longest_stack_name_keeps_the_schedule_group_within_64_characters() -> None:
    assert len(ResourceNames("N" * 48).deferral_group) <= 64


def test_metrics_go_to_the_namespace_the_stack_passes(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handlers' FunctionMetrics exist from import time; the namespace is read when publishing."""
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")
    metrics = FunctionMetrics("ingest")
    monkeypatch.setenv(NAMESPACE_ENV, "Staging")
    metrics.add(EVENTS_INGESTED)
    metrics.publish()
    [document] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Staging"
