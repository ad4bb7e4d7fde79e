"""DynamoDB item encoding (plain values both ways, item sizes) and the paged reads and batched
writes every table adapter uses: BatchGetItem 100 keys a request, unprocessed keys retried."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import DYNAMODB_CONTEXT, Binary, TypeDeserializer, TypeSerializer

from shared.adapters import chunks
from shared.deployment.topology import TableSpec

if TYPE_CHECKING:
    pass


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
    """``item`` as DynamoDB attributes: what boto3's TypeSerializer makes of ``to_dynamo(item)``, in one
    pass (tests/unit/test_dynamo_codec.py holds the two equal)."""
    return {str(k): _attribute(v) for k, v in item.items() if v is not None}


def deserialize(item: Mapping[str, Any]) -> dict[str, Any]:
    """Plain values of DynamoDB attributes: ``from_dynamo`` of what boto3's TypeDeserializer reads, in one
    pass (tests/unit/test_dynamo_codec.py holds the two equal)."""
    return {k: _plain(v) for k, v in item.items()}


def _attribute(value: Any) -> dict[str, Any]:
    """One value as an attribute. The types a profile or a campaign's items are made of are written here;
    any other goes through ``to_dynamo`` and TypeSerializer, as every value did (a quarter of ingest's
    profile write, docs/performance.md)."""
    kind = type(value)
    if kind is str:
        return {"S": value}
    if kind is dict:
        return {"M": {str(k): _attribute(v) for k, v in value.items() if v is not None}}
    if kind is int or kind is Decimal:
        return {"N": _number(value)}
    if kind is list or kind is tuple:
        return {"L": [_attribute(v) for v in value]}
    if kind is bool:
        return {"BOOL": value}
    if value is None:
        return {"NULL": True}
    if kind is bytes:
        return {"B": value}
    return _serializer.serialize(to_dynamo(value))


def _number(value: int | Decimal) -> str:
    """A number as TypeSerializer writes it: within DynamoDB's 38 digits, or an error (never NaN)."""
    number = str(DYNAMODB_CONTEXT.create_decimal(value))
    if number in ("Infinity", "NaN"):
        raise TypeError("Infinity and NaN not supported")
    return number


def _plain(value: Any) -> Any:
    """One attribute as a plain value: sets, and anything unexpected, go through TypeDeserializer."""
    if type(value) is dict and value:
        kind, inner = next(iter(value.items()))
        if kind == "S":
            return inner
        if kind == "N":
            number = DYNAMODB_CONTEXT.create_decimal(inner)
            return int(number) if number == number.to_integral_value() else float(number)
        if kind == "M":
            return {k: _plain(v) for k, v in inner.items()}
        if kind == "L":
            return [_plain(v) for v in inner]
        if kind == "BOOL":
            return inner
        if kind == "NULL":
            return None
        if kind == "B":
            return bytes(Binary(inner))
    return from_dynamo(_deserializer.deserialize(value))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(f"cannot store {type(value).__name__} in a profile")


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
    return batch_get_keys(
        client,
        {table: [{name: value} for value in values] for table, (name, values) in wanted.items()},
    )


def batch_get_keys(
    client: Any, wanted: Mapping[str, Sequence[Mapping[str, str]]]
) -> dict[str, list[dict[str, Any]]]:
    """BatchGetItem over several tables at once (table → full keys, string attributes): one request per
    100 keys in all, strongly consistent, until nothing is left. Items come back per table."""
    unique = {(table, tuple(sorted(key.items()))): None for table, keys in wanted.items() for key in keys}
    keys = [(table, dict(key)) for table, key in unique]  # BatchGetItem refuses a key asked twice
    items: dict[str, list[dict[str, Any]]] = {table: [] for table in wanted}
    for batch in chunks(keys, BATCH_GET_LIMIT):
        request: dict[str, Any] = {}
        for table, key in batch:
            request.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(
                {name: {"S": value} for name, value in key.items()}
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
