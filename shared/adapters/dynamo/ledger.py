"""The contact ledger on DynamoDB: sends (each one the claim of its send key) and suppressions in one
item per shopper, written with a version condition so caps and claims are atomic."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from shared.adapters.dynamo.codec import MAX_UNPROCESSED_ROUNDS, batch_get, batch_get_keys, deserialize
from shared.adapters.dynamo.messages import entry_from_item
from shared.adapters.dynamo.profiles import kept_from_item
from shared.core.vocabulary import Channel
from shared.delivery.ports import SendLogEntry
from shared.deployment.topology import LEDGER, MESSAGES, PRIVACY
from shared.profiles.kept import KeptRecord
from shared.profiles.ledger import Ledger, SentRecord, Suppression

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

    def __init__(
        self,
        client: Any,
        table_name: str,
        kept_table: str | None = None,
        messages_table: str | None = None,
    ) -> None:
        self._client = client
        self._table = table_name
        self._kept_table = kept_table
        self._messages_table = messages_table

    def get_many(self, user_ids: Sequence[str]) -> dict[str, Ledger]:
        ledgers = (ledger_from_item(i) for i in batch_get(self._client, self._table, LEDGER, user_ids))
        return {ledger.user_id: ledger for ledger in ledgers}

    def read_for_delivery(
        self, user_ids: Sequence[str], kept_keys: Sequence[str], send_keys: Sequence[tuple[str, str]]
    ) -> tuple[dict[str, Ledger], dict[str, KeptRecord], dict[tuple[str, str], SendLogEntry]]:
        """Ledgers, the kept records ``kept_keys`` name and the send log's entries for ``send_keys``
        ((user, send key) pairs), by pair: one BatchGetItem per 100 keys in all."""
        wanted: dict[str, list[dict[str, str]]] = {self._table: [{LEDGER.partition_key: u} for u in user_ids]}
        if kept_keys:
            if self._kept_table is None:
                raise RuntimeError("this store was built without the privacy table")
            wanted[self._kept_table] = [{PRIVACY.partition_key: k} for k in kept_keys]
        if send_keys:
            if self._messages_table is None:
                raise RuntimeError("this store was built without the send log's table")
            wanted[self._messages_table] = [
                {MESSAGES.partition_key: u, str(MESSAGES.sort_key): k} for u, k in send_keys
            ]
        found = batch_get_keys(self._client, wanted)
        ledgers = {ledger.user_id: ledger for ledger in map(ledger_from_item, found[self._table])}
        kept = {k.key: k for k in map(kept_from_item, found.get(self._kept_table or "", []))}
        logged = map(entry_from_item, found.get(self._messages_table or "", []))
        entries = {(e.user_id, e.send_key): e for e in logged}
        return ledgers, kept, entries

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
