"""DynamoDB adapters of the right to erasure: every table holding a shopper's data, and what erasure
keeps (hashed markers and suppressions, ``shared.privacy.erasure``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from shared.adapters import chunks
from shared.adapters.dynamo.codec import (
    BATCH_WRITE_LIMIT,
    MAX_UNPROCESSED_ROUNDS,
    batch_get_tables,
    deserialize,
)
from shared.adapters.dynamo.ledger import ledger_from_item
from shared.adapters.dynamo.profiles import KEPT_SUPPRESSED_PREFIX, kept_from_item
from shared.deployment.topology import LEDGER, PRIVACY, PROFILES, SHOPPER_TABLES, TableSpec
from shared.privacy.ports import ShopperFootprint
from shared.profiles.kept import KeptRecord


class DynamoKeptRecords:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get(self, key: str) -> KeptRecord | None:
        item = self._client.get_item(
            TableName=self._table, Key={PRIVACY.partition_key: {"S": key}}, ConsistentRead=True
        ).get("Item")
        return kept_from_item(item) if item else None

    def get_many(self, keys: Sequence[str]) -> dict[str, KeptRecord]:
        found = batch_get_tables(self._client, {self._table: (PRIVACY.partition_key, keys)})[self._table]
        return {r.key: r for r in map(kept_from_item, found)}

    def keep(self, records: Sequence[KeptRecord]) -> None:
        """One update per record: attributes are merged, never replaced (a suppression stays)."""
        for record in records:
            updates, names, values = [], {}, {}
            if record.erased_at:
                updates.append("#erased = :erased")
                names["#erased"], values[":erased"] = "erased_at", {"S": record.erased_at}
            for n, (channel, reason) in enumerate(sorted(record.suppressed.items())):
                updates.append(f"#s{n} = :s{n}")
                names[f"#s{n}"], values[f":s{n}"] = f"{KEPT_SUPPRESSED_PREFIX}{channel}", {"S": reason}
            if not updates:
                continue
            self._client.update_item(
                TableName=self._table,
                Key={PRIVACY.partition_key: {"S": record.key}},
                UpdateExpression="SET " + ", ".join(updates),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )


class DynamoUserData:
    """Every table holding a shopper's data, keyed by ``user_id`` (the right to erasure)."""

    def __init__(self, client: Any, table_names: Mapping[str, str]) -> None:
        self._client = client
        self._tables = table_names

    def footprint(self, user_id: str) -> ShopperFootprint:
        """What erasure must find before it deletes: the anonymous ids seen with the shopper, their
        addresses (to purge dead letters and keep suppressions) and their suppressed channels."""
        profile = self._client.get_item(
            TableName=self._tables[PROFILES.key],
            Key={PROFILES.partition_key: {"S": user_id}},
            ProjectionExpression="anonymous_ids, traits",
            ConsistentRead=True,
        ).get("Item")
        ledger = self._client.get_item(
            TableName=self._tables[LEDGER.key],
            Key={LEDGER.partition_key: {"S": user_id}},
            ConsistentRead=True,
        ).get("Item")
        data = deserialize(profile or {})
        traits = data.get("traits") if isinstance(data.get("traits"), dict) else {}
        suppressed = (
            {c: s.reason for c, s in (ledger_from_item(ledger).suppressed or {}).items()} if ledger else {}
        )
        anonymous = [str(a) for a in data.get("anonymous_ids") or []]
        return ShopperFootprint(user_id, anonymous, traits or {}, suppressed)

    def erase(self, user_id: str) -> dict[str, int]:
        deleted: dict[str, int] = {}
        for spec in SHOPPER_TABLES:
            table = self._tables[spec.key]
            keys = self._keys(table, spec, user_id)
            for batch in chunks(keys, BATCH_WRITE_LIMIT):
                request: dict[str, Any] = {table: [{"DeleteRequest": {"Key": k}} for k in batch]}
                for _ in range(MAX_UNPROCESSED_ROUNDS):
                    request = (
                        self._client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                    )
                    if not request:
                        break
                else:
                    raise RuntimeError(f"erasing {spec.key}: items left unprocessed")
            deleted[spec.key] = len(keys)
        return deleted

    def _keys(self, table: str, spec: TableSpec, user_id: str) -> list[dict[str, Any]]:
        if spec.sort_key is None:
            response = self._client.get_item(
                TableName=table,
                Key={spec.partition_key: {"S": user_id}},
                ProjectionExpression="#pk",
                ExpressionAttributeNames={"#pk": spec.partition_key},
            )
            return [{spec.partition_key: {"S": user_id}}] if "Item" in response else []
        keys: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": table,
            "KeyConditionExpression": "#pk = :u",
            "ProjectionExpression": "#pk, #sk",
            "ExpressionAttributeNames": {"#pk": spec.partition_key, "#sk": spec.sort_key},
            "ExpressionAttributeValues": {":u": {"S": user_id}},
            "ConsistentRead": True,
        }
        while True:
            response = self._client.query(**kwargs)
            keys.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return keys
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
