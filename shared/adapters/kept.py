"""DynamoDB adapter of what erasure keeps: hashed markers and suppressions (``shared.erasure``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.adapters.dynamo import KEPT_SUPPRESSED_PREFIX, batch_get_tables, kept_from_item
from shared.erasure import KeptRecord
from shared.topology import PRIVACY


class DynamoKeptRecords:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

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
