"""The contact ledger on DynamoDB: sends and suppressions in one item per shopper, written with a
version condition so caps are atomic."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from shared.adapters.dynamo.codec import MAX_UNPROCESSED_ROUNDS, batch_get, deserialize
from shared.adapters.dynamo.profiles import _with_kept
from shared.core.vocabulary import Channel
from shared.deployment.topology import LEDGER
from shared.profiles.kept import KeptRecord
from shared.profiles.ledger import Ledger, SentRecord, Suppression

if TYPE_CHECKING:
    pass


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
