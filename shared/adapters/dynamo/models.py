"""Published scoring models and the scoring runs' census on DynamoDB."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from shared.adapters.dynamo.codec import deserialize, serialize
from shared.deployment.topology import LABEL_FREE_MODEL_NAME, LABEL_FREE_VERSION_PREFIX, MODELS

if TYPE_CHECKING:
    pass


class DynamoModelRegistry:
    """The models table: trained artefacts under one name, sorted by version (which starts with the
    training time); label-free fits under another, expiring after 30 days (scores name the fit that
    wrote them, and are rewritten at least weekly); each scoring run's census items and item model
    (the products' co-occurrence the run recommends with), expiring after a week."""

    ARTEFACT = "scoring-model"
    CENSUS_TTL_S = 7 * 24 * 3600
    LABEL_FREE_TTL_S = 30 * 24 * 3600

    def __init__(self, client: Any, table_name: str, now: Any = None) -> None:
        import time

        self._client = client
        self._table = table_name
        self._now = now or time.time

    def _key(self, name: str, version: str) -> dict[str, Any]:
        return {MODELS.partition_key: {"S": name}, str(MODELS.sort_key): {"S": version}}

    def publish(self, version: str, body: str) -> None:
        item = {MODELS.partition_key: self.ARTEFACT, str(MODELS.sort_key): version, "body": body}
        self._client.put_item(TableName=self._table, Item=serialize(item))

    def latest(self) -> str | None:
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="#name = :name",
            ExpressionAttributeNames={"#name": MODELS.partition_key},
            ExpressionAttributeValues={":name": {"S": self.ARTEFACT}},
            ScanIndexForward=False,
            Limit=1,
        )
        items = response.get("Items", [])
        return str(deserialize(items[0])["body"]) if items else None

    def get(self, version: str) -> str | None:
        name = LABEL_FREE_MODEL_NAME if version.startswith(LABEL_FREE_VERSION_PREFIX) else self.ARTEFACT
        item = self._client.get_item(
            TableName=self._table, Key=self._key(name, version), ConsistentRead=True
        ).get("Item")
        return str(deserialize(item)["body"]) if item else None

    def publish_label_free(self, version: str, body: str) -> None:
        if not version.startswith(LABEL_FREE_VERSION_PREFIX):
            raise ValueError(
                f"a label-free fit's version starts with {LABEL_FREE_VERSION_PREFIX!r}: {version!r}"
            )
        item = {
            MODELS.partition_key: LABEL_FREE_MODEL_NAME,
            str(MODELS.sort_key): version,
            "body": body,
            MODELS.ttl_attribute or "expires_at": int(self._now()) + self.LABEL_FREE_TTL_S,
        }
        self._client.put_item(TableName=self._table, Item=serialize(item))

    def _expires_at(self) -> int:
        return int(self._now()) + self.CENSUS_TTL_S

    def put_census(self, run_id: str, segment: int, sketch: Mapping[str, Any]) -> None:
        item = {
            MODELS.partition_key: f"census#{run_id}",
            str(MODELS.sort_key): f"{segment:06d}",
            "body": json.dumps(sketch, separators=(",", ":")),
            MODELS.ttl_attribute or "expires_at": self._expires_at(),
        }
        self._client.put_item(TableName=self._table, Item=serialize(item))

    def put_recommendations(self, run_id: str, body: str) -> None:
        item = {
            MODELS.partition_key: f"items#{run_id}",
            str(MODELS.sort_key): "model",
            "body": body,
            MODELS.ttl_attribute or "expires_at": self._expires_at(),
        }
        self._client.put_item(TableName=self._table, Item=serialize(item))

    def recommendations(self, run_id: str) -> str | None:
        item = self._client.get_item(
            TableName=self._table, Key=self._key(f"items#{run_id}", "model"), ConsistentRead=True
        ).get("Item")
        return str(deserialize(item)["body"]) if item else None

    def complete_census(self, run_id: str, segment: int, total_segments: int) -> bool:
        key = self._key(f"run#{run_id}", "run")
        # Adding to a set is idempotent: a redelivered task cannot count its segment twice.
        done = self._client.update_item(
            TableName=self._table,
            Key=key,
            UpdateExpression="ADD #done :segment SET #total = :total, #expires = :expires",
            ExpressionAttributeNames={"#done": "done", "#total": "total", "#expires": "expires_at"},
            ExpressionAttributeValues={
                ":segment": {"SS": [str(segment)]},
                ":total": {"N": str(total_segments)},
                ":expires": {"N": str(self._expires_at())},
            },
            ReturnValues="ALL_NEW",
        )["Attributes"]
        if len(done["done"]["SS"]) < total_segments:
            return False
        try:  # the fan-out to scoring happens once, whoever completes the set first (or is redelivered)
            self._client.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="SET #scoring = :yes",
                ConditionExpression="attribute_not_exists(#scoring)",
                ExpressionAttributeNames={"#scoring": "scoring_started"},
                ExpressionAttributeValues={":yes": {"BOOL": True}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def census(self, run_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#name = :name",
            "ExpressionAttributeNames": {"#name": MODELS.partition_key},
            "ExpressionAttributeValues": {":name": {"S": f"census#{run_id}"}},
            "ConsistentRead": True,
        }
        while True:
            response = self._client.query(**kwargs)
            found.extend(json.loads(deserialize(i)["body"]) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return found
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
