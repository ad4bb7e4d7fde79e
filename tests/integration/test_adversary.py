"""The adversarial runtime: every promise the soak checks holds for 20 seeds of hostile orderings, and
the hostility is real (it did what AWS may do), reproducible from its seed, and can be turned off."""

from __future__ import annotations

from collections import Counter
from functools import cache
from typing import Any

import pytest
from fakes import CAMPAIGNS

from nudge.local.soak import SoakOptions, SoakReport, run_soak
from shared.campaigns.loader import load_campaign_dir

SEEDS = range(20)


@cache
def soak(seed: int, gentle: bool = False) -> SoakReport:
    """A small soak (40 events, each delivered 1-3 times, 10% of the calls throttled), run once per seed."""
    options = SoakOptions(events=40, fault_rate=0.1, max_copies=3, seed=seed, days=1, gentle=gentle)
    return run_soak(load_campaign_dir(CAMPAIGNS), options)


@pytest.mark.parametrize("seed", SEEDS)
def test_nothing_is_doubled_or_lost_and_aggregates_are_exact_under_the_adversary(seed: int) -> None:
    report = soak(seed)
    f = report.figures

    assert report.problems == []  # includes: no job decided before ingest wrote its shopper's profile
    assert f["mode"] == f"adversarial (seed {seed})" and f["seed"] == seed
    assert f["jobs"] > 0 and sum(f["outcomes"].values()) == f["jobs"]
    assert f["send_keys_sent_twice"] == 0
    assert f["profiles_exact_after_redrive"] == f["profiles"] > 0


def test_the_adversary_does_what_aws_may_do() -> None:
    hostility: Counter[str] = Counter()
    for seed in SEEDS:
        hostility.update(soak(seed).figures["hostility"])
    assert set(hostility) == {
        "delivery_before_ingest",
        "targets_reordered",
        "later_batch_first",
        "redelivered_while_running",
        "concurrent_invocations",
        "concurrent_same_shopper",
    }
    assert min(hostility.values()) >= len(SEEDS)


def test_a_seed_replays_the_same_run_and_gentle_turns_the_adversary_off() -> None:
    def figures(report: SoakReport) -> dict[str, Any]:
        return {k: v for k, v in report.figures.items() if k != "wall_seconds"}

    replayed = run_soak(load_campaign_dir(CAMPAIGNS), SoakOptions(events=40, fault_rate=0.1, seed=4, days=1))
    assert figures(replayed) == figures(soak(4))
    gentle = soak(4, gentle=True)
    assert gentle.problems == []
    assert gentle.figures["mode"] == "gentle" and gentle.figures["hostility"] == {}
