"""DynamoDB adapters: profiles, the send log and the in-app inbox."""

from __future__ import annotations

import contextlib
import json
import zlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer

from shared.adapters import chunks
from shared.ports import SendLogEntry
from shared.profile import Profile
from shared.topology import INBOX, MESSAGES, PROFILES

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()
BATCH_GET_LIMIT = 100
BATCH_WRITE_LIMIT = 25
MAX_UNPROCESSED_ROUNDS = 8


def to_dynamo(value: Any) -> Any:
    """Plain Python → what TypeSerializer accepts (floats as Decimal, datetimes as ISO strings)."""
    if isinstance(value, bool) or value is None or isinstance(value, str | int | Decimal | bytes):
        return value
    if isinstance(value, float):
        return Decimal(str(value)) if value == value and value not in (float("inf"), float("-inf")) else None
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): to_dynamo(v) for k, v in value.items() if v is not None}
    if isinstance(value, list | tuple):
        return [to_dynamo(v) for v in value]
    return str(value)


def from_dynamo(value: Any) -> Any:
    if isinstance(value, Binary):
        return bytes(value)
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: from_dynamo(v) for k, v in value.items()}
    if isinstance(value, list | set):
        return [from_dynamo(v) for v in value]
    return value


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in to_dynamo(item).items()}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: from_dynamo(_deserializer.deserialize(v)) for k, v in item.items()}


# Behavioural aggregates are read and written whole on every batch, so they are stored as one
# zlib-compressed JSON attribute (day buckets compress several times over) and the duplicate
# fingerprints as raw bytes: DynamoDB bills writes per KB, and a typical profile stays under one.
# Traits, scores and headline figures stay plain attributes an operator can read in the console.
BEHAVIOUR_ATTRIBUTE = "behaviour"
BEHAVIOUR_FIELDS = ("counts", "category_views", "category_purchases", "cart")


def profile_to_item(profile: Profile) -> dict[str, Any]:
    data = profile.model_dump(mode="python")
    behaviour = {k: data.pop(k) for k in BEHAVIOUR_FIELDS}
    packed = json.dumps(behaviour, default=_json_default, separators=(",", ":")).encode()
    data[BEHAVIOUR_ATTRIBUTE] = zlib.compress(packed, level=6)
    return serialize(data)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a profile")


def _profile_from_item(item: Mapping[str, Any]) -> Profile:
    data = deserialize(item)
    packed = data.pop(BEHAVIOUR_ATTRIBUTE, None)
    if packed is not None:
        data.update(json.loads(zlib.decompress(bytes(packed))))
    if "revenue" in data:
        data["revenue"] = Decimal(str(data["revenue"]))
    return Profile.model_validate(data)


class DynamoProfileStore:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, user_id: str) -> Profile | None:
        response = self._client.get_item(
            TableName=self._table, Key={PROFILES.partition_key: {"S": user_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return _profile_from_item(item) if item else None

    def get_many(self, user_ids: Sequence[str]) -> dict[str, Profile]:
        found: dict[str, Profile] = {}
        for batch in chunks(list(dict.fromkeys(user_ids)), BATCH_GET_LIMIT):
            request: dict[str, Any] = {
                self._table: {
                    "Keys": [{PROFILES.partition_key: {"S": u}} for u in batch],
                    "ConsistentRead": True,
                }
            }
            # UnprocessedKeys is part of BatchGetItem's contract (partial results), not an error to retry.
            for _ in range(MAX_UNPROCESSED_ROUNDS):
                response = self._client.batch_get_item(RequestItems=request)
                for item in response.get("Responses", {}).get(self._table, []):
                    profile = _profile_from_item(item)
                    found[profile.user_id] = profile
                request = response.get("UnprocessedKeys") or {}
                if not request:
                    break
            else:
                raise RuntimeError(
                    f"BatchGetItem left keys unprocessed after {MAX_UNPROCESSED_ROUNDS} rounds"
                )
        return found

    def save(self, profile: Profile) -> bool:
        expected = profile.version
        item = profile_to_item(profile.model_copy(update={"version": expected + 1}))
        condition = "attribute_not_exists(#pk)" if expected == 0 else "#version = :expected"
        names = {"#pk": PROFILES.partition_key} if expected == 0 else {"#version": "version"}
        values = {} if expected == 0 else {":expected": {"N": str(expected)}}
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                **({"ExpressionAttributeValues": values} if values else {}),
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def scan_segment(
        self, segment: int, total_segments: int, start_key: Mapping[str, Any] | None, limit: int
    ) -> tuple[list[Profile], Mapping[str, Any] | None]:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "Segment": segment,
            "TotalSegments": total_segments,
            "Limit": limit,
        }
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        response = self._client.scan(**kwargs)
        profiles = [_profile_from_item(item) for item in response.get("Items", [])]
        return profiles, response.get("LastEvaluatedKey")


class DynamoSendLog:
    """One item per (user, send key): the claim before the provider call is what makes sends exactly-once."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    @staticmethod
    def _item(entry: SendLogEntry) -> dict[str, Any]:
        return serialize({k: v for k, v in entry.__dict__.items() if v not in (None, "")})

    def claim(self, entry: SendLogEntry, lease_expired_before: str) -> bool:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._item(entry),
                ConditionExpression=(
                    "attribute_not_exists(#sk) OR #status = :failed OR (#status = :claimed AND #at < :lease)"
                ),
                ExpressionAttributeNames={"#sk": MESSAGES.sort_key, "#status": "status", "#at": "at"},
                ExpressionAttributeValues={
                    ":failed": {"S": "failed"},
                    ":claimed": {"S": "claimed"},
                    ":lease": {"S": lease_expired_before},
                },
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def complete(self, entry: SendLogEntry) -> None:
        self._client.put_item(TableName=self._table, Item=self._item(entry))

    def complete_many(self, entries: Sequence[SendLogEntry]) -> None:
        for batch in chunks(entries, BATCH_WRITE_LIMIT):
            request: dict[str, Any] = {self._table: [{"PutRequest": {"Item": self._item(e)}} for e in batch]}
            # UnprocessedItems is BatchWriteItem's partial result, resent until empty.
            for _ in range(MAX_UNPROCESSED_ROUNDS):
                request = self._client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                if not request:
                    break
            else:
                for entry in batch:
                    self.complete(entry)

    def record(self, entry: SendLogEntry) -> None:
        # A decision already logged for this send key stays: a redelivered job changes nothing.
        with contextlib.suppress(self._client.exceptions.ConditionalCheckFailedException):
            self._client.put_item(
                TableName=self._table,
                Item=self._item(entry),
                ConditionExpression="attribute_not_exists(#sk)",
                ExpressionAttributeNames={"#sk": MESSAGES.sort_key},
            )

    def entries_for(self, user_id: str) -> list[dict[str, Any]]:
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="#pk = :u",
            ExpressionAttributeNames={"#pk": MESSAGES.partition_key},
            ExpressionAttributeValues={":u": {"S": user_id}},
        )
        return [deserialize(i) for i in response.get("Items", [])]


class DynamoInbox:
    """In-app messages: written by delivery, read by the app through the inbox API."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def put(self, user_id: str, message_key: str, message: Mapping[str, Any], expires_at: int) -> None:
        item: dict[str, Any] = {
            INBOX.partition_key: user_id,
            str(INBOX.sort_key): message_key,
            **message,
            INBOX.ttl_attribute or "expires_at": expires_at,
            "read": False,
        }
        self._client.put_item(TableName=self._table, Item=serialize(item))
