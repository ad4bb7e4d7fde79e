"""Profiles on DynamoDB: the item layout (behaviour compressed, kept records alongside) and the store."""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from shared.adapters.dynamo.codec import _json_default, batch_get, batch_get_tables, deserialize, serialize
from shared.deployment.topology import PRIVACY, PROFILES, TableSpec
from shared.profiles.kept import KeptRecord
from shared.profiles.profile import Profile

if TYPE_CHECKING:
    pass


# Behavioural aggregates are read and written whole on every batch, so they are stored as one
# zlib-compressed JSON attribute (day buckets compress several times over) and the duplicate
# fingerprints as raw bytes: DynamoDB bills writes per KB, and a typical profile stays under one.
# Traits, scores and headline figures stay plain attributes an operator can read in the console.
BEHAVIOUR_ATTRIBUTE = "behaviour"
BEHAVIOUR_FIELDS = (
    "counts",
    "category_views",
    "category_purchases",
    "cart",
    "engagement_hours",
    "category_affinity",
    "affinity_at",
)


def profile_to_item(profile: Profile) -> dict[str, Any]:
    # Without the activity windows: dumped with the profile, they would be compressed on their own too
    # (Profile._pack_activity), only to be dropped here.
    data = profile.model_dump(mode="python", exclude={"activity"})
    if not data["anonymous_ids"]:
        del data["anonymous_ids"]
    for link in ("linked_to", "linked_at"):  # only an anonymous visitor's link has them
        if data[link] is None:
            del data[link]
    behaviour = {k: data.pop(k) for k in BEHAVIOUR_FIELDS}
    # The activity windows compress far better beside the day buckets than in an attribute of their own.
    if not profile.activity.is_empty():
        behaviour["activity"] = profile.activity.model_dump(mode="json")
    packed = json.dumps(behaviour, default=_json_default, separators=(",", ":")).encode()
    data[BEHAVIOUR_ATTRIBUTE] = zlib.compress(packed, level=6)
    return serialize(data)


def _profile_from_item(item: Mapping[str, Any]) -> Profile:
    data = deserialize(item)
    packed = data.pop(BEHAVIOUR_ATTRIBUTE, None)
    if packed is not None:
        data.update(json.loads(zlib.decompress(bytes(packed))))
    if "revenue" in data:
        data["revenue"] = Decimal(str(data["revenue"]))
    return Profile.model_validate(data)


KEPT_SUPPRESSED_PREFIX = "suppressed_"


def kept_from_item(item: Mapping[str, Any]) -> KeptRecord:
    """An item of the privacy table: its hashed key, the erasure time and ``suppressed_<channel>``."""
    data = deserialize(item)
    suppressed = {
        k.removeprefix(KEPT_SUPPRESSED_PREFIX): str(v)
        for k, v in data.items()
        if k.startswith(KEPT_SUPPRESSED_PREFIX)
    }
    erased_at = data.get("erased_at")
    return KeptRecord(str(data[PRIVACY.partition_key]), str(erased_at) if erased_at else None, suppressed)


def _with_kept(
    client: Any,
    table: str,
    spec: TableSpec,
    user_ids: Sequence[str],
    kept_table: str | None,
    keys: Sequence[str],
) -> tuple[list[dict[str, Any]], dict[str, KeptRecord]]:
    """Items of ``table`` by user id and the kept records ``keys`` name, in the same requests."""
    wanted: dict[str, tuple[str, Sequence[str]]] = {table: (spec.partition_key, user_ids)}
    if keys:
        if kept_table is None:
            raise RuntimeError("this store was built without the privacy table")
        wanted[kept_table] = (PRIVACY.partition_key, keys)
    found = batch_get_tables(client, wanted)
    kept = (kept_from_item(i) for i in found.get(kept_table or "", []))
    return found[table], {k.key: k for k in kept}


class DynamoProfileStore:
    def __init__(self, client: Any, table_name: str, kept_table: str | None = None) -> None:
        self._client = client
        self._table = table_name
        self._kept_table = kept_table

    def get(self, user_id: str) -> Profile | None:
        response = self._client.get_item(
            TableName=self._table, Key={PROFILES.partition_key: {"S": user_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return _profile_from_item(item) if item else None

    def get_many(self, user_ids: Sequence[str]) -> dict[str, Profile]:
        profiles = (_profile_from_item(i) for i in batch_get(self._client, self._table, PROFILES, user_ids))
        return {p.user_id: p for p in profiles}

    def get_many_with_kept(
        self, user_ids: Sequence[str], kept_keys: Sequence[str]
    ) -> tuple[dict[str, Profile], dict[str, KeptRecord]]:
        items, kept = _with_kept(self._client, self._table, PROFILES, user_ids, self._kept_table, kept_keys)
        return {p.user_id: p for p in map(_profile_from_item, items)}, kept

    def save(self, profile: Profile) -> bool:
        try:
            self._client.put_item(**self._conditional_put(profile))
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def save_linked(self, profile: Profile, links: Sequence[Profile]) -> bool:
        """Write ``profile`` and the ``anon:`` links in one transaction, each conditioned on the version
        it was read at: all or none (a merge is folded exactly once). True if written."""
        items = [self._conditional_put(p) for p in (profile, *links)]
        try:
            self._client.transact_write_items(TransactItems=[{"Put": item} for item in items])
        except self._client.exceptions.TransactionCanceledException:
            return False
        return True

    def _conditional_put(self, profile: Profile) -> dict[str, Any]:
        expected = profile.version
        put: dict[str, Any] = {
            "TableName": self._table,
            "Item": profile_to_item(profile.model_copy(update={"version": expected + 1})),
        }
        if expected == 0:
            put["ConditionExpression"] = "attribute_not_exists(#pk)"
            put["ExpressionAttributeNames"] = {"#pk": PROFILES.partition_key}
        else:
            put["ConditionExpression"] = "#version = :expected"
            put["ExpressionAttributeNames"] = {"#version": "version"}
            put["ExpressionAttributeValues"] = {":expected": {"N": str(expected)}}
        return put

    def write_scores(self, user_id: str, scores: Mapping[str, Any], read_version: int) -> bool:
        try:
            self._client.update_item(
                TableName=self._table,
                Key={PROFILES.partition_key: {"S": user_id}},
                UpdateExpression="SET #scores = :scores, #version = :next",
                ConditionExpression="#version = :read",
                ExpressionAttributeNames={"#scores": "scores", "#version": "version"},
                ExpressionAttributeValues=serialize(
                    {":scores": dict(scores), ":next": read_version + 1, ":read": read_version}
                ),
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
