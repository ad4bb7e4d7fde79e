"""DynamoDB adapters: profiles, the send log, the contact ledger and the in-app inbox."""

from __future__ import annotations

import contextlib
import json
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import Binary, TypeDeserializer, TypeSerializer

from shared.adapters import chunks
from shared.core.vocabulary import Channel, DecisionStatus
from shared.delivery.ports import SendLogEntry
from shared.deployment.topology import (
    CONVERSIONS,
    INBOX,
    LABEL_FREE_MODEL_NAME,
    LABEL_FREE_VERSION_PREFIX,
    LEDGER,
    MESSAGES,
    MODELS,
    PRIVACY,
    PROFILES,
    TableSpec,
)
from shared.profiles.kept import KeptRecord
from shared.profiles.ledger import Ledger, SentRecord, Suppression
from shared.profiles.profile import Profile

if TYPE_CHECKING:
    from shared.measurement.attribution import Conversion

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


MAX_ITEM_BYTES = 400 * 1024


def item_size(item: Mapping[str, Any]) -> int:
    """The size DynamoDB counts against its 400 KB item limit, of a serialized item (attribute names
    and values; numbers at their 21-byte maximum, so it errs on the large side)."""

    def size(value: Mapping[str, Any]) -> int:
        (kind, data), *_ = value.items()
        if kind == "S":
            return len(str(data).encode("utf-8", "surrogatepass"))
        if kind == "B":
            return len(bytes(data))
        if kind == "N":
            return 21
        if kind in ("BOOL", "NULL"):
            return 1
        if kind == "L":
            return 3 + sum(1 + size(v) for v in data)
        if kind == "M":
            return 3 + sum(1 + len(k.encode()) + size(v) for k, v in data.items())
        return sum(size({kind[0]: v}) for v in data)  # SS, NS, BS

    return sum(len(name.encode()) + size(value) for name, value in item.items())


def serialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in to_dynamo(item).items()}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: from_dynamo(_deserializer.deserialize(v)) for k, v in item.items()}


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
    data = profile.model_dump(mode="python")
    if not data["anonymous_ids"]:
        del data["anonymous_ids"]
    behaviour = {k: data.pop(k) for k in BEHAVIOUR_FIELDS}
    # The activity windows compress far better beside the day buckets than in an attribute of their own.
    data.pop("activity", None)
    if not profile.activity.is_empty():
        behaviour["activity"] = profile.activity.model_dump(mode="json")
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


def scan_all(client: Any, table: str) -> list[dict[str, Any]]:
    """Every item of ``table`` as plain values, page by page (for reports and local inspection)."""
    items: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        response = client.scan(**kwargs)
        items.extend(deserialize(i) for i in response.get("Items", []))
        if "LastEvaluatedKey" not in response:
            return items
        kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def item_count(client: Any, table: str) -> int:
    """A table's approximate item count (DynamoDB refreshes it about every six hours)."""
    response = client.describe_table(TableName=table)
    return int(response["Table"].get("ItemCount", 0))


def batch_get(client: Any, table: str, spec: TableSpec, user_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Strongly consistent BatchGetItem by partition key, 100 keys a request, until nothing is left."""
    return batch_get_tables(client, {table: (spec.partition_key, user_ids)})[table]


def batch_get_tables(
    client: Any, wanted: Mapping[str, tuple[str, Sequence[str]]]
) -> dict[str, list[dict[str, Any]]]:
    """BatchGetItem over several tables at once (table → partition key name and values): one request
    per 100 keys in all, strongly consistent, until nothing is left. Items come back per table."""
    keys = [
        (table, name, value) for table, (name, values) in wanted.items() for value in dict.fromkeys(values)
    ]
    items: dict[str, list[dict[str, Any]]] = {table: [] for table in wanted}
    for batch in chunks(keys, BATCH_GET_LIMIT):
        request: dict[str, Any] = {}
        for table, name, value in batch:
            request.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(
                {name: {"S": value}}
            )
        # UnprocessedKeys is part of BatchGetItem's contract (partial results), not an error to retry.
        for _ in range(MAX_UNPROCESSED_ROUNDS):
            response = client.batch_get_item(RequestItems=request)
            for table, found in response.get("Responses", {}).items():
                items[table].extend(found)
            request = response.get("UnprocessedKeys") or {}
            if not request:
                break
        else:
            raise RuntimeError(f"BatchGetItem left keys unprocessed after {MAX_UNPROCESSED_ROUNDS} rounds")
    return items


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


class DynamoSendLog:
    """One item per (user, send key): the claim before the provider call is what makes sends exactly-once."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    @staticmethod
    def _item(entry: SendLogEntry) -> dict[str, Any]:
        return serialize({k: v for k, v in entry.__dict__.items() if v not in (None, "")})

    def claim(self, entry: SendLogEntry) -> SendLogEntry | None:
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._item(entry),
                ConditionExpression="attribute_not_exists(#sk) OR #status = :failed",
                ExpressionAttributeNames={"#sk": MESSAGES.sort_key, "#status": "status"},
                ExpressionAttributeValues={":failed": {"S": DecisionStatus.FAILED}},
                # The holder comes back with the refusal: no second request to see who has the key.
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._client.exceptions.ConditionalCheckFailedException as refused:
            held = deserialize(refused.response.get("Item") or {})
            fields = SendLogEntry.__dataclass_fields__
            if not held:  # a store that does not return the holder: treat the key as decided
                return replace(entry, status="held")
            return SendLogEntry(**{k: v for k, v in held.items() if k in fields})
        return None

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
        """Every decision logged for ``user_id``, in time order."""
        return self._query(user_id)

    def entries_since(self, user_id: str, since: datetime) -> list[dict[str, Any]]:
        """The decisions logged for ``user_id`` at or after ``since``, in time order."""
        return self._query(user_id, "#at >= :since", {":since": {"S": since.isoformat()}}, {"#at": "at"})

    def engagement(
        self,
        user_id: str,
        provider_message_id: str,
        event: str,
        at: datetime,
        send_key: str | None = None,
        dropped: tuple[str, str] | None = None,
    ) -> bool:
        """Fold a provider event (``delivered``, ``opened``, ``clicked``, ...) into the message's entry.

        The first time of each event is kept, so a repeated or redelivered event changes nothing.
        False when no sent message of the shopper has that provider id. With ``send_key`` this is one
        conditional write; without it (mail tagged before send keys were exact) a query of the
        shopper's entries first. ``dropped`` (status, reason) replaces the entry's ``sent``.
        """
        if send_key is None:
            found = self._query(
                user_id, "#pid = :pid", {":pid": {"S": provider_message_id}}, {"#pid": "provider_message_id"}
            )
            entries = [e for e in found if e.get("status") == DecisionStatus.SENT]
            if not entries:
                return False
            send_key = str(entries[0][str(MESSAGES.sort_key)])
        update = "SET #f = if_not_exists(#f, :at)"
        names = {"#f": f"{event}_at", "#pid": "provider_message_id", "#status": "status"}
        values: dict[str, Any] = {
            ":at": {"S": at.isoformat()},
            ":pid": {"S": provider_message_id},
            ":sent": {"S": DecisionStatus.SENT},
        }
        if dropped is not None:
            update += ", #status = :dropped, #reason = :reason"
            names["#reason"] = "reason"
            values.update({":dropped": {"S": dropped[0]}, ":reason": {"S": dropped[1]}})
        try:
            self._client.update_item(
                TableName=self._table,
                Key={
                    MESSAGES.partition_key: {"S": user_id},
                    str(MESSAGES.sort_key): {"S": send_key},
                },
                UpdateExpression=update,
                # The tagged entry must be the message SES reports on, still sent (never re-created).
                ConditionExpression="#pid = :pid AND #status = :sent",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def _query(
        self,
        user_id: str,
        filter_expression: str | None = None,
        values: Mapping[str, Any] | None = None,
        names: Mapping[str, str] | None = None,
    ) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :u",
            "ExpressionAttributeNames": {"#pk": MESSAGES.partition_key, **(names or {})},
            "ExpressionAttributeValues": {":u": {"S": user_id}, **(values or {})},
        }
        if filter_expression:
            kwargs["FilterExpression"] = filter_expression
        while True:
            response = self._client.query(**kwargs)
            entries.extend(deserialize(i) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return sorted(entries, key=lambda e: (str(e.get("at", "")), str(e.get("send_key", ""))))
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


class DynamoConversions:
    """Goal events counted for campaigns; each (goal event, campaign) is written once, ever."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def record(self, conversions: Sequence[Conversion]) -> list[Conversion]:
        """Write the conversions not yet recorded; the ones that were new (none for a redelivered event)."""
        new = []
        for conversion in conversions:
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item=serialize(conversion.to_item()),
                    ConditionExpression="attribute_not_exists(#sk)",
                    ExpressionAttributeNames={"#sk": str(CONVERSIONS.sort_key)},
                )
            except self._client.exceptions.ConditionalCheckFailedException:
                continue
            new.append(conversion)
        return new


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

    def unread(self, user_id: str, now: datetime, limit: int = 50) -> list[dict[str, Any]]:
        """The shopper's messages not yet read, dismissed or expired, newest first."""
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="#pk = :u",
            FilterExpression="#read = :false AND attribute_not_exists(dismissed_at) AND #exp > :now",
            ExpressionAttributeNames={
                "#pk": INBOX.partition_key,
                "#read": "read",
                "#exp": INBOX.ttl_attribute or "expires_at",
            },
            ExpressionAttributeValues={
                ":u": {"S": user_id},
                ":false": {"BOOL": False},
                ":now": {"N": str(int(now.timestamp()))},
            },
            ScanIndexForward=False,
        )
        return [deserialize(i) for i in response.get("Items", [])][:limit]

    def mark(self, user_id: str, message_key: str, state: str, at: datetime) -> bool:
        """Mark one of the shopper's messages ``read`` or ``dismissed``; False if there is no such message."""
        update = "SET #read = :true, read_at = if_not_exists(read_at, :at)"
        if state == "dismissed":
            update += ", dismissed_at = if_not_exists(dismissed_at, :at)"
        try:
            self._client.update_item(
                TableName=self._table,
                Key={INBOX.partition_key: {"S": user_id}, str(INBOX.sort_key): {"S": message_key}},
                UpdateExpression=update,
                ConditionExpression="attribute_exists(#pk)",
                ExpressionAttributeNames={"#pk": INBOX.partition_key, "#read": "read"},
                ExpressionAttributeValues={":true": {"BOOL": True}, ":at": {"S": at.isoformat()}},
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True


_SUPPRESSED: dict[str, str] = {channel: f"suppressed_{channel}" for channel in Channel}


def ledger_from_item(item: Mapping[str, Any]) -> Ledger:
    data = deserialize(item)
    sends = tuple(SentRecord.from_json(r) for r in json.loads(data.get("sends") or "[]"))
    suppressed = {
        channel: Suppression(**json.loads(data[attribute]))
        for channel, attribute in _SUPPRESSED.items()
        if data.get(attribute)
    }
    return Ledger(data[LEDGER.partition_key], sends, suppressed, int(data.get("version", 0)))


class DynamoLedgerStore:
    """The contact ledger. Sends are one compact JSON attribute, rewritten with a version condition;
    suppressions are attributes of their own, set by the feedback and unsubscribe functions with an
    update that bumps the version, so a delivery deciding on a stale ledger has to look again."""

    def __init__(self, client: Any, table_name: str, kept_table: str | None = None) -> None:
        self._client = client
        self._table = table_name
        self._kept_table = kept_table

    def get_many(self, user_ids: Sequence[str]) -> dict[str, Ledger]:
        ledgers = (ledger_from_item(i) for i in batch_get(self._client, self._table, LEDGER, user_ids))
        return {ledger.user_id: ledger for ledger in ledgers}

    def get_many_with_kept(
        self, user_ids: Sequence[str], kept_keys: Sequence[str]
    ) -> tuple[dict[str, Ledger], dict[str, KeptRecord]]:
        items, kept = _with_kept(self._client, self._table, LEDGER, user_ids, self._kept_table, kept_keys)
        return {ledger.user_id: ledger for ledger in map(ledger_from_item, items)}, kept

    def get(self, user_id: str) -> Ledger | None:
        response = self._client.get_item(
            TableName=self._table, Key={LEDGER.partition_key: {"S": user_id}}, ConsistentRead=True
        )
        item = response.get("Item")
        return ledger_from_item(item) if item else None

    def record_send(self, ledger: Ledger, record: SentRecord, keep: Sequence[SentRecord]) -> bool:
        sends = json.dumps([r.to_json() for r in [*keep, record]], separators=(",", ":"))
        condition = "attribute_not_exists(#version)" if ledger.version == 0 else "#version = :expected"
        values: dict[str, Any] = {":sends": {"S": sends}, ":next": {"N": str(ledger.version + 1)}}
        if ledger.version:
            values[":expected"] = {"N": str(ledger.version)}
        try:
            self._client.update_item(
                TableName=self._table,
                Key={LEDGER.partition_key: {"S": ledger.user_id}},
                UpdateExpression="SET sends = :sends, #version = :next",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#version": "version"},
                ExpressionAttributeValues=values,
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True

    def release(self, user_id: str, send_key: str) -> None:
        for _ in range(MAX_UNPROCESSED_ROUNDS):
            ledger = self.get(user_id)
            if ledger is None or not ledger.has_send(send_key):
                return
            kept = [r for r in ledger.sends if r.send_key != send_key]
            sends = json.dumps([r.to_json() for r in kept], separators=(",", ":"))
            try:
                self._client.update_item(
                    TableName=self._table,
                    Key={LEDGER.partition_key: {"S": user_id}},
                    UpdateExpression="SET sends = :sends, #version = :next",
                    ConditionExpression="#version = :expected",
                    ExpressionAttributeNames={"#version": "version"},
                    ExpressionAttributeValues={
                        ":sends": {"S": sends},
                        ":next": {"N": str(ledger.version + 1)},
                        ":expected": {"N": str(ledger.version)},
                    },
                )
                return
            except self._client.exceptions.ConditionalCheckFailedException:
                continue

    def suppress(
        self, user_id: str, channel: str, suppression: Suppression, *, existing_only: bool = False
    ) -> bool:
        """Set the suppression (``existing_only``: only on a ledger that exists); True if written."""
        names = {"#attr": _SUPPRESSED[channel], "#version": "version"}
        condition: dict[str, Any] = {}
        if existing_only:
            condition = {"ConditionExpression": "attribute_exists(#pk)"}
            names["#pk"] = LEDGER.partition_key
        try:
            self._client.update_item(
                TableName=self._table,
                Key={LEDGER.partition_key: {"S": user_id}},
                UpdateExpression="SET #attr = :s, #version = if_not_exists(#version, :zero) + :one",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={
                    ":s": {"S": json.dumps(suppression.__dict__, separators=(",", ":"))},
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                },
                **condition,
            )
        except self._client.exceptions.ConditionalCheckFailedException:
            return False
        return True


class DynamoModelRegistry:
    """The models table: trained artefacts under one name, sorted by version (which starts with the
    training time); label-free fits under another, expiring after 30 days (scores name the fit that
    wrote them, and are rewritten at least weekly); each scoring run's census items, expiring after
    a week."""

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
