"""An experiment's decisions: each look at the variants' counts moves its state (weights, winner) and is
logged with its evidence (counts, rates with intervals, probability of being best, p-values).

Pure: the state is read and written by the caller (one item per experiment: ``to_dict``; where it is
to be stored and who reviews it: docs/experiments.md, "Not yet"); the counts come from the send log and
the conversions. ``fixed`` only looks; ``winner`` runs the sequential test at every look and gives the
winner all the traffic (or, after ``max_duration`` / a batch's ``wait``, closes with no winner and keeps
the weights); ``bandit`` re-weights by Thompson sampling every ``reweight_every``."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from shared.campaigns.variants import Experiment, ExperimentMode, Variant
from shared.experiments.bandit import probability_best, thompson_weights
from shared.experiments.intervals import wilson
from shared.experiments.sequential import Arm, SequentialTest


class Action(StrEnum):
    LOOKED = "looked"  # evidence recorded, nothing changed
    REWEIGHTED = "reweighted"  # the bandit moved the weights
    WINNER = "winner"  # a variant was significantly best: it gets all the traffic
    NO_WINNER = "no_winner"  # the maximum duration (or a batch's wait) passed without one


@dataclass(frozen=True)
class ExperimentDecision:
    """One look, as logged: what was done, the weights after it, and the evidence it was done on."""

    at: datetime
    action: Action
    weights: dict[str, float]
    winner: str | None
    evidence: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "at": self.at.isoformat(),
            "action": str(self.action),
            "weights": {k: round(v, 6) for k, v in self.weights.items()},
            "winner": self.winner,
            "evidence": self.evidence,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExperimentDecision:
        return cls(
            datetime.fromisoformat(str(data["at"])),
            Action(str(data["action"])),
            {str(k): float(v) for k, v in dict(data["weights"]).items()},
            None if data.get("winner") is None else str(data["winner"]),
            dict(data["evidence"]),
        )


@dataclass(frozen=True)
class ExperimentState:
    """Where an experiment stands: the traffic shares delivery draws with, and how it got there."""

    experiment_id: str
    started: datetime  # the experiment's first send (before any: its first review)
    weights: dict[str, float]
    winner: str | None = None
    closed: bool = False
    p_values: dict[str, float] = field(default_factory=dict)  # "a|b" -> always-valid p, carried over
    history: tuple[ExperimentDecision, ...] = ()

    @classmethod
    def start(cls, experiment_id: str, variants: Sequence[Variant], now: datetime) -> ExperimentState:
        return cls(experiment_id, now, {v.id: v.weight for v in variants})

    @property
    def last_reweighted(self) -> datetime:
        moves = [d.at for d in self.history if d.action == Action.REWEIGHTED]
        return moves[-1] if moves else self.started

    def to_dict(self) -> dict[str, Any]:
        return {
            "experiment_id": self.experiment_id,
            "started": self.started.isoformat(),
            "weights": {k: round(v, 6) for k, v in self.weights.items()},
            "winner": self.winner,
            "closed": self.closed,
            "p_values": self.p_values,
            "history": [d.to_dict() for d in self.history],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ExperimentState:
        return cls(
            str(data["experiment_id"]),
            datetime.fromisoformat(str(data["started"])),
            {str(k): float(v) for k, v in dict(data["weights"]).items()},
            None if data.get("winner") is None else str(data["winner"]),
            bool(data.get("closed")),
            {str(k): float(v) for k, v in dict(data.get("p_values") or {}).items()},
            tuple(ExperimentDecision.from_dict(d) for d in data.get("history") or ()),
        )


def seed_of(experiment_id: str, look: int) -> int:
    """The Monte Carlo seed of a look: the same counts at the same look give the same figures."""
    return int.from_bytes(hashlib.sha256(f"{experiment_id}#{look}".encode()).digest()[:8], "big")


def evidence_of(arms: Mapping[str, Arm], p_best: Mapping[str, float]) -> dict[str, Any]:
    """Per variant: shoppers (sent it), converted, rate and its 95% interval, probability of being best."""
    found: dict[str, Any] = {}
    for name, arm in arms.items():
        low, high = wilson(arm.converted, arm.sent)
        found[name] = {
            "shoppers": arm.sent,
            "converted": arm.converted,
            "rate": round(arm.rate, 6),
            "ci95": [round(low, 6), round(high, 6)],
            "p_best": round(p_best.get(name, 0.0), 4),
        }
    return found


def counted_since_reweighted(state: ExperimentState, arms: Mapping[str, Arm]) -> bool:
    """Whether the counts moved since the bandit's last re-weighting (before the first: any shopper at
    all): with nothing new the weights would only move by Monte Carlo noise, and the history grow."""
    last = next((d for d in reversed(state.history) if d.action == Action.REWEIGHTED), None)
    if last is None:
        return any(arm.sent for arm in arms.values())
    seen = {v: (e["shoppers"], e["converted"]) for v, e in dict(last.evidence["variants"]).items()}
    return {v: (a.sent, a.converted) for v, a in arms.items()} != seen


def _pair_key(pair: tuple[str, str]) -> str:
    return f"{pair[0]}|{pair[1]}"


def review(
    state: ExperimentState, experiment: Experiment, arms: Mapping[str, Arm], now: datetime, draws: int = 4000
) -> ExperimentState:
    """The state after looking at ``arms`` at ``now`` (a closed or won experiment does not change)."""
    if state.winner is not None or state.closed:
        return state
    arms = {name: arms.get(name, Arm(0, 0)) for name in state.weights}
    seed = seed_of(state.experiment_id, len(state.history) + int(now.timestamp()))
    p_best = probability_best(arms, draws, seed)
    evidence: dict[str, Any] = {"variants": evidence_of(arms, p_best)}
    action, weights, winner, closed = Action.LOOKED, state.weights, None, False
    p_values = state.p_values
    if experiment.mode == ExperimentMode.WINNER:
        test = SequentialTest(experiment.alpha, experiment.effect, experiment.min_sample)
        previous = {tuple(k.split("|", 1)): v for k, v in state.p_values.items()}
        pairs = test.p_values(arms, previous)  # type: ignore[arg-type]
        p_values = {_pair_key(pair): value for pair, value in pairs.items()}
        evidence["p_values"] = {k: round(v, 6) for k, v in p_values.items()}
        evidence["alpha"] = experiment.alpha
        winner = test.winner(arms, pairs)
        batch = experiment.sample_percent is not None
        limit = experiment.wait_time if batch else experiment.max_duration_time
        if winner is not None:
            action, weights = Action.WINNER, {name: float(name == winner) for name in arms}
        elif now - state.started >= limit:
            action, closed = Action.NO_WINNER, True
    elif (
        experiment.mode == ExperimentMode.BANDIT
        and now - state.last_reweighted >= experiment.reweight_time
        and counted_since_reweighted(state, arms)
    ):
        action = Action.REWEIGHTED
        weights = thompson_weights(arms, experiment.floor_percent / 100, draws, seed)
    decision = ExperimentDecision(now, action, dict(weights), winner, evidence)
    history = state.history
    if action == Action.LOOKED and history and history[-1].action == Action.LOOKED:
        history = history[:-1]  # only the latest look that changed nothing is kept (the item stays small)
    return replace(
        state,
        weights=dict(weights),
        winner=winner,
        closed=closed,
        p_values=p_values,
        history=(*history, decision),
    )
