"""The daily scoring run, fanned out like a batch campaign, in two phases.

1. **Census.** The planner enqueues one task per parallel-scan segment. Each worker scans its
   segment and stores a small sketch of it (the buyers' R/F/M histograms, the local-hour
   engagement profile). Quintiles must be computed over the whole base, so the worker that
   completes the census — an idempotent set-add decides which one, exactly once — merges the
   sketches and enqueues the scoring tasks, with the base's statistics inside them.
2. **Scoring.** Each worker scans its segment again and writes every profile's ``scores`` with an
   UpdateItem that bumps ``version`` and is conditioned on the version it read — when they moved
   materially (see :func:`scores_changed`); scores that barely drifted cost no write. Ingest writes
   whole items conditioned on ``version`` too, so whichever writer comes second re-reads: neither
   overwrites the other. A profile that keeps changing under the scorer keeps yesterday's scores.

No invocation scans the whole table; a worker short of time hands on its position (and, in the
census, its partial sketch) in a continuation task.

The run needs no trained model. The census tells how long the shop's history is, and when no trained
model is published or the history is shorter than the published one needs (:func:`choose_model`),
the worker that completes the census fits the label-free models on the census's bounded buyer
sample, publishes the fit to the models table as a versioned artefact, and the scoring tasks pin it
(:mod:`shared.predictions.label_free`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from shared.core.errors import PermanentDeliveryError
from shared.core.queues import WorkQueue
from shared.deployment.topology import LABEL_FREE_VERSION_PREFIX
from shared.predictions.label_free import LabelFreeArtefact, LabelFreeModel, fit_label_free
from shared.predictions.model import IncompatibleModel, LoadedModel, ModelArtefact
from shared.predictions.ports import ModelRegistry
from shared.predictions.scoring import (
    DEFAULT_RFM_WINDOW_DAYS,
    Population,
    PopulationSketch,
    ScoringModel,
    score_profile,
    scores_changed,
)
from shared.profiles.ports import ProfileScores, ProfileStore
from shared.profiles.profile import Profile
from shared.recommendations.cooccurrence import ItemModel
from shared.recommendations.ranking import shows_bought

if TYPE_CHECKING:  # the import would load the journey engine with the module
    from shared.journeys.segments import SegmentEntries

SCAN_PAGE_SIZE = 500
MIN_REMAINING_MS = 60_000
MAX_WRITE_ATTEMPTS = 3
NO_TRAINED_MODEL = (
    "no trained model published: this run scores with label-free models (BG/NBD, RFM quintiles) "
    "fitted on the shop's own events; to score with a trained model, run `nudge train --events "
    "<your event export> --publish-table <the stack's TableModels output>`"
)


class ScoreTask(BaseModel):
    run_id: str
    phase: Literal["census", "score"]
    segment: int = Field(ge=0)
    total_segments: int = Field(ge=1)
    model_version: str = Field(
        description="The trained model to census for ('' for none); then the one to score with."
    )
    start_key: dict[str, Any] | None = None
    sketch: dict[str, Any] | None = None
    population: dict[str, Any] | None = None

    @property
    def as_of(self) -> datetime:
        return datetime.fromisoformat(self.run_id.replace("Z", "+00:00"))


@dataclass(frozen=True)
class ScoreResult:
    scanned: int
    written: int
    conflicts: int
    continued: bool
    census_complete: bool = False
    unchanged: int = 0
    model_kind: str = ""
    model_version: str = ""
    label_free_reason: str | None = None


def choose_model(trained: LoadedModel | None, history_days: int | None) -> str | None:
    """Why the label-free models must score this run, or None when the trained model fits the shop."""
    if trained is None:
        return "no trained model published"
    needed = trained.artefact.history_days_needed
    if history_days is not None and history_days < needed:
        return (
            f"the shop's history ({history_days} days) is shorter than the {needed} days "
            f"trained model {trained.version} needs"
        )
    return None


@dataclass(frozen=True)
class ScorePlan:
    segments: int
    trained_version: str | None


class ModelCache:
    """Artefacts parsed once per container, by version: trained ones and label-free fits."""

    def __init__(self, registry: ModelRegistry) -> None:
        self._registry = registry
        self._loaded: dict[str, LoadedModel] = {}
        self._label_free: dict[str, LabelFreeModel] = {}

    def latest(self) -> LoadedModel | None:
        """The newest trained model (label-free fits are never "latest": each run makes its own)."""
        body = self._registry.latest()
        if body is None:
            return None
        artefact = ModelArtefact.model_validate_json(body)
        if artefact.version not in self._loaded:
            self._loaded[artefact.version] = artefact.loaded()
        return self._loaded[artefact.version]

    def version(self, version: str) -> ScoringModel:
        if version.startswith(LABEL_FREE_VERSION_PREFIX):
            if version not in self._label_free:
                self._label_free[version] = LabelFreeArtefact.model_validate_json(
                    self._body(version)
                ).loaded()
            return self._label_free[version]
        return self._trained(version)

    def trained(self, version: str) -> LoadedModel | None:
        """The trained model a census task names ('' for none)."""
        if not version:
            return None
        if version.startswith(LABEL_FREE_VERSION_PREFIX):
            raise PermanentDeliveryError(f"a census task names {version!r}, which is not a trained model")
        return self._trained(version)

    def _trained(self, version: str) -> LoadedModel:
        if version not in self._loaded:
            try:
                self._loaded[version] = ModelArtefact.model_validate_json(self._body(version)).loaded()
            except IncompatibleModel as error:
                raise PermanentDeliveryError(str(error)) from None
        return self._loaded[version]

    def _body(self, version: str) -> str:
        body = self._registry.get(version)
        if body is None:
            raise PermanentDeliveryError(f"model version {version!r} is not in the models table")
        return body


@dataclass
class ScorePlanner:
    models: ModelCache
    score_queue: WorkQueue
    segments: int

    def plan(self, run_id: str) -> ScorePlan:
        """One census task per segment, naming the newest trained model if there is one (the census
        decides whether it fits the shop; without one, the run scores with the label-free models)."""
        model = self.models.latest()
        version = model.version if model is not None else None
        self.score_queue.send_many(
            [
                ScoreTask(
                    run_id=run_id,
                    phase="census",
                    segment=i,
                    total_segments=self.segments,
                    model_version=version or "",
                ).model_dump_json()
                for i in range(self.segments)
            ]
        )
        return ScorePlan(self.segments, version)


@dataclass
class ScoreWorker:
    profiles: ProfileStore
    scores: ProfileScores
    registry: ModelRegistry
    models: ModelCache
    score_queue: WorkQueue
    _item_models: dict[str, ItemModel] = field(default_factory=dict, init=False, repr=False)
    segments: SegmentEntries | None = None  # the segment journeys new scores make a shopper enter

    def work(self, task: ScoreTask, remaining_ms: Callable[[], int]) -> ScoreResult:
        if task.phase == "census":
            return self._census(task, self.models.trained(task.model_version), remaining_ms)
        return self._score(task, self.models.version(task.model_version), remaining_ms)

    def _census(
        self, task: ScoreTask, trained: LoadedModel | None, remaining_ms: Callable[[], int]
    ) -> ScoreResult:
        sketch = PopulationSketch.from_dict(task.sketch) if task.sketch else PopulationSketch()
        as_of = task.as_of
        window = trained.rfm_window_days if trained is not None else DEFAULT_RFM_WINDOW_DAYS
        start_key: Mapping[str, Any] | None = task.start_key
        scanned = 0
        while True:
            page, start_key = self.profiles.scan_segment(
                task.segment, task.total_segments, start_key, SCAN_PAGE_SIZE
            )
            scanned += len(page)
            for profile in page:
                sketch.add(profile, as_of, window)
            if start_key is None:
                break
            if remaining_ms() < MIN_REMAINING_MS:
                follow_up = task.model_copy(update={"start_key": dict(start_key), "sketch": sketch.to_dict()})
                self.score_queue.send_many([follow_up.model_dump_json()])
                return ScoreResult(scanned, 0, 0, continued=True)
        self.registry.put_census(task.run_id, task.segment, sketch.to_dict())
        if not self.registry.complete_census(task.run_id, task.segment, task.total_segments):
            return ScoreResult(scanned, 0, 0, continued=False)
        merged = PopulationSketch()
        for part in self.registry.census(task.run_id):
            merged.merge(PopulationSketch.from_dict(part))
        reason = choose_model(trained, merged.history_days(as_of))
        if reason is None and trained is not None:
            version, kind = trained.version, "trained"
            population = Population.from_sketch(merged, trained)
        else:
            population = Population.from_sketch(merged, None)
            fitted = fit_label_free(
                merged.buyers,
                population.rfm_edges,
                population.local_hours,
                as_of,
                reason or "",
                profiles=merged.profiles,
                history_days=merged.history_days(as_of),
                horizons=(trained.propensity_horizon_days, trained.horizon_days) if trained else (30, 90),
                rfm_window_days=window,
            )
            self.registry.publish_label_free(fitted.version, fitted.to_json())
            version, kind = fitted.version, "label-free"
        items = ItemModel.from_sketch(merged.items)
        self.registry.put_recommendations(task.run_id, json.dumps(items.to_dict(), separators=(",", ":")))
        self.score_queue.send_many(
            [
                ScoreTask(
                    run_id=task.run_id,
                    phase="score",
                    segment=i,
                    total_segments=task.total_segments,
                    model_version=version,
                    population=population.to_dict(),
                ).model_dump_json()
                for i in range(task.total_segments)
            ]
        )
        return ScoreResult(
            scanned,
            0,
            0,
            continued=False,
            census_complete=True,
            model_kind=kind,
            model_version=version,
            label_free_reason=reason,
        )

    def _score(self, task: ScoreTask, model: ScoringModel, remaining_ms: Callable[[], int]) -> ScoreResult:
        if task.population is None:
            raise PermanentDeliveryError("a scoring task needs the census's population statistics")
        population = Population.from_dict(task.population)
        items = self._item_model(task.run_id)
        as_of = task.as_of
        start_key: Mapping[str, Any] | None = task.start_key
        scanned = written = conflicts = unchanged = 0
        while True:
            page, start_key = self.profiles.scan_segment(
                task.segment, task.total_segments, start_key, SCAN_PAGE_SIZE
            )
            scanned += len(page)
            for profile in page:
                outcome = self._write(profile, model, population, as_of, items, run_id=task.run_id)
                written += outcome == "written"
                conflicts += outcome == "conflict"
                unchanged += outcome == "unchanged"
            continued = start_key is not None and remaining_ms() < MIN_REMAINING_MS
            if continued:
                follow_up = task.model_copy(update={"start_key": dict(start_key or {})})
                self.score_queue.send_many([follow_up.model_dump_json()])
            if start_key is None or continued:
                return ScoreResult(
                    scanned,
                    written,
                    conflicts,
                    continued=continued,
                    unchanged=unchanged,
                    model_kind=model.kind,
                    model_version=model.version,
                )

    def _item_model(self, run_id: str) -> ItemModel | None:
        """The run's item model, read once per container (None from a census that stored none)."""
        if run_id not in self._item_models:
            body = self.registry.recommendations(run_id)
            if body is None:
                return None
            self._item_models.clear()  # one run at a time: yesterday's model is not kept
            self._item_models[run_id] = ItemModel.from_dict(json.loads(body))
        return self._item_models[run_id]

    def _write(
        self,
        profile: Profile,
        model: ScoringModel,
        population: Population,
        as_of: datetime,
        items: ItemModel | None = None,
        run_id: str = "",
    ) -> str:
        current: Profile | None = profile
        for _ in range(MAX_WRITE_ATTEMPTS):
            if current is None:
                return "gone"
            scores = score_profile(current, model, population, as_of, items)
            stale = shows_bought(current.scores.get("recommendations"), current.activity.products)
            if not stale and not scores_changed(current.scores, scores, as_of):
                return "unchanged"
            if self.segments is not None and self.segments.journeys:
                # before the write (a retried task enters once: the run names the instance)
                before = self.segments.matching(current, as_of)
                scored = current.model_copy(update={"scores": scores})
                self.segments.enter_started(before, scored, f"scores-{run_id}", as_of)
            if self.scores.write_scores(current.user_id, scores, current.version):
                return "written"
            current = self.profiles.get(profile.user_id)  # ingest wrote in between: score what it wrote
        return "conflict"
