"""Experiments' state and counts on DynamoDB: one item per experiment in the models table.

Key: name ``experiment#<campaign:step>``, version ``state``. Attributes: ``state`` (the JSON of
:class:`shared.experiments.review.ExperimentState`: weights, winner, decision history), ``run`` (the
review run that wrote it), one number per variant and counter, ``sent:<variant>`` and
``converted:<variant>``, each added to with ``ADD`` (top-level, so the first count creates it), and
``first_sent``, set by the first count of sends and never moved (the experiment's clock)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.adapters.dynamo.codec import batch_get_keys, deserialize
from shared.deployment.topology import MODELS
from shared.experiments.store import CONVERTED, SENT, StoredExperiment

if TYPE_CHECKING:  # the review's modules (the sequential test, the bandit) load with the first reviewed state
    from shared.experiments.review import ExperimentState

PREFIX = "experiment#"
VERSION = "state"


def stored_from_item(item: Mapping[str, Any]) -> StoredExperiment:
    return stored_from_plain(deserialize(item))


def experiments_in(items: Iterable[Mapping[str, Any]]) -> list[StoredExperiment]:
    """The experiments among the models table's items, as plain values (a scan, a local dump)."""
    return [
        stored_from_plain(item)
        for item in items
        if str(item.get(MODELS.partition_key, "")).startswith(PREFIX)
        and item.get(str(MODELS.sort_key)) == VERSION
    ]


def stored_from_plain(data: Mapping[str, Any]) -> StoredExperiment:
    counts: dict[str, dict[str, int]] = {SENT: {}, CONVERTED: {}}
    for name, value in data.items():
        counter, _, variant = str(name).partition(":")
        if variant and counter in counts:
            counts[counter][variant] = int(value)
    state = _state(str(data["state"])) if data.get("state") else None
    run = str(data["run"]) if data.get("run") else None
    first = datetime.fromisoformat(str(data["first_sent"])) if data.get("first_sent") else None
    experiment_id = str(data[MODELS.partition_key])[len(PREFIX) :]
    return StoredExperiment(experiment_id, state, counts[SENT], counts[CONVERTED], run, first)


def _state(text: str) -> ExperimentState:
    from shared.experiments.review import ExperimentState

    return ExperimentState.from_dict(json.loads(text))


class DynamoExperimentStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    @staticmethod
    def _key(experiment_id: str) -> dict[str, str]:
        return {MODELS.partition_key: PREFIX + experiment_id, str(MODELS.sort_key): VERSION}

    def _typed_key(self, experiment_id: str) -> dict[str, Any]:
        return {k: {"S": v} for k, v in self._key(experiment_id).items()}

    def read(self, experiment_ids: Sequence[str]) -> dict[str, StoredExperiment]:
        if not experiment_ids:
            return {}
        found = batch_get_keys(self._client, {self._table: [self._key(e) for e in experiment_ids]})
        return {s.experiment_id: s for s in map(stored_from_item, found[self._table])}

    def add(
        self, experiment_id: str, counter: str, counts: Mapping[str, int], at: datetime | None = None
    ) -> None:
        if counter not in (SENT, CONVERTED):
            raise ValueError(f"no counter {counter!r}")
        names = {f"#c{i}": f"{counter}:{variant}" for i, variant in enumerate(counts)}
        values: dict[str, Any] = {f":n{i}": {"N": str(n)} for i, n in enumerate(counts.values())}
        update = "ADD " + ", ".join(f"#c{i} :n{i}" for i in range(len(counts)))
        if at is not None and counter == SENT:
            # the same request: the first count of sends starts the experiment's clock, later ones keep it
            update += " SET #first = if_not_exists(#first, :first)"
            names["#first"] = "first_sent"
            values[":first"] = {"S": at.isoformat()}
        self._client.update_item(
            TableName=self._table,
            Key=self._typed_key(experiment_id),
            UpdateExpression=update,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def save(self, state: ExperimentState, run: str) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key=self._typed_key(state.experiment_id),
                UpdateExpression="SET #state = :state, #run = :run",
                ConditionExpression="attribute_not_exists(#run) OR #run < :run",
                ExpressionAttributeNames={"#state": "state", "#run": "run"},
                ExpressionAttributeValues={
                    ":state": {"S": json.dumps(state.to_dict(), sort_keys=True)},
                    ":run": {"S": run},
                },
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True
