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
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from shared.errors import PermanentDeliveryError
from shared.ports import ModelRegistry, ProfileScores, ProfileStore, WorkQueue
from shared.predictions.model import IncompatibleModel, LoadedModel, ModelArtefact
from shared.predictions.scoring import Population, PopulationSketch, score_profile, scores_changed
from shared.profile import Profile

SCAN_PAGE_SIZE = 500
MIN_REMAINING_MS = 60_000
MAX_WRITE_ATTEMPTS = 3


class ScoreTask(BaseModel):
    run_id: str
    phase: Literal["census", "score"]
    segment: int = Field(ge=0)
    total_segments: int = Field(ge=1)
    model_version: str
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


class ModelCache:
    """Artefacts parsed once per container, by version."""

    def __init__(self, registry: ModelRegistry) -> None:
        self._registry = registry
        self._loaded: dict[str, LoadedModel] = {}

    def latest(self) -> LoadedModel | None:
        body = self._registry.latest()
        if body is None:
            return None
        artefact = ModelArtefact.model_validate_json(body)
        if artefact.version not in self._loaded:
            self._loaded[artefact.version] = artefact.loaded()
        return self._loaded[artefact.version]

    def version(self, version: str) -> LoadedModel:
        if version not in self._loaded:
            body = self._registry.get(version)
            if body is None:
                raise PermanentDeliveryError(f"model version {version!r} is not in the models table")
            try:
                self._loaded[version] = ModelArtefact.model_validate_json(body).loaded()
            except IncompatibleModel as error:
                raise PermanentDeliveryError(str(error)) from None
        return self._loaded[version]


@dataclass
class ScorePlanner:
    models: ModelCache
    score_queue: WorkQueue
    segments: int

    def plan(self, run_id: str) -> int:
        model = self.models.latest()
        if model is None:
            return 0  # nothing trained yet: `nudge train --publish` first
        self.score_queue.send_many(
            [
                ScoreTask(
                    run_id=run_id,
                    phase="census",
                    segment=i,
                    total_segments=self.segments,
                    model_version=model.artefact.version,
                ).model_dump_json()
                for i in range(self.segments)
            ]
        )
        return self.segments


@dataclass
class ScoreWorker:
    profiles: ProfileStore
    scores: ProfileScores
    registry: ModelRegistry
    models: ModelCache
    score_queue: WorkQueue

    def work(self, task: ScoreTask, remaining_ms: Callable[[], int]) -> ScoreResult:
        model = self.models.version(task.model_version)
        if task.phase == "census":
            return self._census(task, model, remaining_ms)
        return self._score(task, model, remaining_ms)

    def _census(self, task: ScoreTask, model: LoadedModel, remaining_ms: Callable[[], int]) -> ScoreResult:
        sketch = PopulationSketch.from_dict(task.sketch) if task.sketch else PopulationSketch()
        as_of, window = task.as_of, model.artefact.rfm_window_days
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
        population = Population.from_sketch(merged, model).to_dict()
        self.score_queue.send_many(
            [
                ScoreTask(
                    run_id=task.run_id,
                    phase="score",
                    segment=i,
                    total_segments=task.total_segments,
                    model_version=task.model_version,
                    population=population,
                ).model_dump_json()
                for i in range(task.total_segments)
            ]
        )
        return ScoreResult(scanned, 0, 0, continued=False, census_complete=True)

    def _score(self, task: ScoreTask, model: LoadedModel, remaining_ms: Callable[[], int]) -> ScoreResult:
        if task.population is None:
            raise PermanentDeliveryError("a scoring task needs the census's population statistics")
        population = Population.from_dict(task.population)
        as_of = task.as_of
        start_key: Mapping[str, Any] | None = task.start_key
        scanned = written = conflicts = unchanged = 0
        while True:
            page, start_key = self.profiles.scan_segment(
                task.segment, task.total_segments, start_key, SCAN_PAGE_SIZE
            )
            scanned += len(page)
            for profile in page:
                outcome = self._write(profile, model, population, as_of)
                written += outcome == "written"
                conflicts += outcome == "conflict"
                unchanged += outcome == "unchanged"
            if start_key is None:
                return ScoreResult(scanned, written, conflicts, continued=False, unchanged=unchanged)
            if remaining_ms() < MIN_REMAINING_MS:
                follow_up = task.model_copy(update={"start_key": dict(start_key)})
                self.score_queue.send_many([follow_up.model_dump_json()])
                return ScoreResult(scanned, written, conflicts, continued=True, unchanged=unchanged)

    def _write(self, profile: Profile, model: LoadedModel, population: Population, as_of: datetime) -> str:
        current: Profile | None = profile
        for _ in range(MAX_WRITE_ATTEMPTS):
            if current is None:
                return "gone"
            scores = score_profile(current, model, population, as_of)
            if not scores_changed(current.scores, scores, as_of):
                return "unchanged"
            if self.scores.write_scores(current.user_id, scores, current.version):
                return "written"
            current = self.profiles.get(profile.user_id)  # ingest wrote in between: score what it wrote
        return "conflict"
