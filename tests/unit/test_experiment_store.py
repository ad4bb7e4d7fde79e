"""An experiment as stored: the counts the review reads, the counting of a batch's pairs, and delivery's
cached read of the live weights (on an in-memory store)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.campaigns.variants import Experiment, ExperimentMode, Variant
from shared.experiments.review import ExperimentState, review
from shared.experiments.sequential import Arm
from shared.experiments.store import LiveWeights, StoredExperiment, count, rest_weights

AT = datetime(2026, 11, 8, 2, tzinfo=UTC)


class InMemoryExperiments:
    def __init__(self) -> None:
        self.items: dict[str, StoredExperiment] = {}
        self.reads = 0

    def read(self, experiment_ids: Sequence[str]) -> dict[str, StoredExperiment]:
        self.reads += 1
        return {e: self.items[e] for e in experiment_ids if e in self.items}

    def add(self, experiment_id: str, counter: str, counts: Mapping[str, int]) -> None:
        raise AssertionError("not used here")

    def save(self, state: ExperimentState, run: str) -> bool:
        self.items[state.experiment_id] = StoredExperiment(state.experiment_id, state, run=run)
        return True


def test_arms_count_no_more_conversions_than_sends_and_every_variant_seen() -> None:
    stored = StoredExperiment("sale:send", sent={"a": 3, "b": 10}, converted={"a": 5, "c": 1})

    assert stored.arms() == {"a": Arm(3, 3), "b": Arm(10, 0), "c": Arm(0, 0)}


def test_count_groups_pairs_per_experiment_and_leaves_out_pairs_without_a_variant() -> None:
    pairs: list[Any] = [("x:send", "a"), ("x:send", "b"), ("x:send", "a"), ("y:send", "a")]
    pairs += [(None, None), ("x:send", None)]

    assert count(pairs) == {"x:send": {"a": 2, "b": 1}, "y:send": {"a": 1}}


def test_live_weights_are_read_once_per_keep_and_follow_a_review_after_it() -> None:
    store = InMemoryExperiments()
    live = LiveWeights(store, keep=timedelta(minutes=5))
    assert live.weights("x:send", AT) is None  # no review yet: the file's weights
    store.save(ExperimentState("x:send", AT, {"a": 0.0, "b": 1.0}, winner="b"), "run-1")

    cached = live.weights("x:send", AT + timedelta(minutes=4))
    refreshed = live.weights("x:send", AT + timedelta(minutes=5))

    assert (cached, refreshed, store.reads) == (None, {"a": 0.0, "b": 1.0}, 2)


VARIANTS = [Variant(id="a"), Variant(id="b"), Variant(id="c")]


def test_the_held_back_rest_gets_the_winner_whatever_the_counts() -> None:
    won = ExperimentState("x:send", AT, {"a": 0.0, "b": 1.0, "c": 0.0}, winner="b")
    stored = StoredExperiment("x:send", won, sent={"a": 10, "b": 10, "c": 10}, converted={"a": 9})

    assert rest_weights(stored, VARIANTS) == {"a": 0.0, "b": 1.0, "c": 0.0}


def test_without_a_winner_the_rest_get_the_leading_rate_ties_to_the_earlier_variant() -> None:
    leading_c = StoredExperiment("x:send", sent={"a": 10, "b": 10, "c": 10}, converted={"b": 2, "c": 3})
    tied = StoredExperiment("x:send", sent={"a": 10, "b": 10, "c": 10}, converted={"b": 2, "c": 2})

    assert rest_weights(leading_c, VARIANTS) == {"a": 0.0, "b": 0.0, "c": 1.0}
    assert rest_weights(tied, VARIANTS) == {"a": 0.0, "b": 1.0, "c": 0.0}
    assert rest_weights(None, VARIANTS) == {"a": 1.0, "b": 0.0, "c": 0.0}  # nothing counted: the first


def test_the_bandit_moves_the_weights_only_when_the_counts_moved() -> None:
    bandit = Experiment(mode=ExperimentMode.BANDIT, floor_percent=10, reweight_every="1d")
    state = ExperimentState.start("x:send", VARIANTS[:2], AT)
    empty = {"a": Arm(0, 0), "b": Arm(0, 0)}
    counted = {"a": Arm(50, 2), "b": Arm(50, 9)}

    nothing_yet = review(state, bandit, empty, AT + timedelta(days=1))
    moved = review(nothing_yet, bandit, counted, AT + timedelta(days=2))
    same_counts = review(moved, bandit, counted, AT + timedelta(days=3))

    assert [d.action for d in same_counts.history] == ["looked", "reweighted", "looked"]
    assert same_counts.weights == moved.weights and moved.weights["b"] > 0.8
