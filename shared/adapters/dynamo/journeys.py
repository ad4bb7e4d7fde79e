"""Journey instances on DynamoDB: one item per (shopper, journey), moved by conditional puts."""

from __future__ import annotations

from typing import Any

from shared.deployment.topology import JOURNEYS
from shared.journeys.instance import JourneyInstance


class DynamoJourneyStore:
    """The item holds the step sequence number as a number (the write's condition) and the instance as
    JSON (its path and pending effects included); one strongly consistent read, one conditional put."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def _key(self, user_id: str, journey_id: str) -> dict[str, Any]:
        return {JOURNEYS.partition_key: {"S": user_id}, str(JOURNEYS.sort_key): {"S": journey_id}}

    def get(self, user_id: str, journey_id: str) -> JourneyInstance | None:
        response = self._client.get_item(
            TableName=self._table, Key=self._key(user_id, journey_id), ConsistentRead=True
        )
        item = response.get("Item")
        return JourneyInstance.model_validate_json(item["state"]["S"]) if item else None

    def put(self, instance: JourneyInstance, expected_seq: int | None) -> bool:
        condition: dict[str, Any] = (
            {"ConditionExpression": "attribute_not_exists(#seq)", "ExpressionAttributeNames": {"#seq": "seq"}}
            if expected_seq is None
            else {
                "ConditionExpression": "#seq = :expected",
                "ExpressionAttributeNames": {"#seq": "seq"},
                "ExpressionAttributeValues": {":expected": {"N": str(expected_seq)}},
            }
        )
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    **self._key(instance.user_id, instance.journey_id),
                    "seq": {"N": str(instance.seq)},
                    "status": {"S": instance.status.value},
                    "state": {"S": instance.model_dump_json()},
                },
                **condition,
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True
