"""The published scoring models and the scoring runs' census."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class ModelRegistry(Protocol):
    """Published model artefacts (JSON, newest version last), the label-free fits of scoring runs,
    and each scoring run's census."""

    def latest(self) -> str | None:
        """The newest trained artefact."""
        ...

    def get(self, version: str) -> str | None:
        """A trained artefact or a label-free fit, by version."""
        ...

    def publish_label_free(self, version: str, body: str) -> None: ...

    def put_census(self, run_id: str, segment: int, sketch: Mapping[str, Any]) -> None: ...

    def complete_census(self, run_id: str, segment: int, total_segments: int) -> bool:
        """Record that ``segment`` is done; True for exactly one caller: the one that completes the run."""
        ...

    def census(self, run_id: str) -> list[dict[str, Any]]: ...

    def put_recommendations(self, run_id: str, body: str) -> None:
        """The run's item model (:class:`shared.recommendations.cooccurrence.ItemModel` as JSON)."""
        ...

    def recommendations(self, run_id: str) -> str | None: ...
