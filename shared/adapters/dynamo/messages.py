"""The send log (decisions, outcomes, engagement), conversions and the in-app inbox on DynamoDB."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from shared.adapters import chunks
from shared.adapters.dynamo.codec import BATCH_WRITE_LIMIT, MAX_UNPROCESSED_ROUNDS, deserialize, serialize
from shared.core.vocabulary import DecisionStatus
from shared.delivery.ports import SendLogEntry
from shared.deployment.topology import CONVERSIONS, INBOX, MESSAGES

if TYPE_CHECKING:
    from shared.measurement.attribution import Conversion, OrderRefund

MAX_REFUND_ATTEMPTS = 3


def entry_from_item(item: Mapping[str, Any]) -> SendLogEntry:
    """A send-log item as an entry (attributes that are not entry fields, e.g. ``delivered_at``, left
    out; fields not stored, e.g. the channel of a decision no channel reached, read as empty)."""
    data = deserialize(item)
    fields = SendLogEntry.__dataclass_fields__
    stored = {k: v for k, v in data.items() if k in fields}
    if isinstance(stored.get("products"), list):
        stored["products"] = tuple(str(p) for p in stored["products"])
    return SendLogEntry(**{"campaign_id": "", "level": "", "channel": None, "status": "", **stored})


# The statuses that are no outcome of the send key: a failed attempt (the key may be claimed again)
# and a claim logged in the send log before claims moved to the ledger.
_NO_OUTCOME = (DecisionStatus.FAILED, DecisionStatus.CLAIMED)


class DynamoSendLog:
    """One item per (user, send key): each job's decision and each send's outcome, with engagement.

    The claim that makes sends exactly-once is the shopper's ledger record (shared/delivery/claims.py);
    the log records outcomes, and decisions only where the key has no outcome yet."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    @staticmethod
    def _item(entry: SendLogEntry) -> dict[str, Any]:
        return serialize({k: v for k, v in entry.__dict__.items() if v not in (None, "")})

    def get(self, user_id: str, send_key: str) -> SendLogEntry | None:
        response = self._client.get_item(
            TableName=self._table,
            Key={MESSAGES.partition_key: {"S": user_id}, str(MESSAGES.sort_key): {"S": send_key}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return entry_from_item(item) if item else None

    def record(self, entry: SendLogEntry) -> SendLogEntry | None:
        """Log ``entry`` unless its send key has an outcome already (anything but a failed attempt or a
        legacy claim); None if written, else the entry that holds the key (a redelivered job changes
        nothing)."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=self._item(entry),
                ConditionExpression="attribute_not_exists(#sk) OR #status IN (:failed, :claimed)",
                ExpressionAttributeNames={"#sk": MESSAGES.sort_key, "#status": "status"},
                ExpressionAttributeValues={
                    ":failed": {"S": _NO_OUTCOME[0]},
                    ":claimed": {"S": _NO_OUTCOME[1]},
                },
                # The holder comes back with the refusal: no second request to see who has the key.
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except self._client.exceptions.ConditionalCheckFailedException as refused:
            held = refused.response.get("Item")
            return entry_from_item(held) if held else replace(entry, status="held")
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

    def reconcile(
        self,
        user_id: str,
        send_key: str,
        provider_message_id: str,
        event: str,
        at: datetime,
        source: str,
        claim: Mapping[str, str] | None = None,
        dropped: tuple[str, str] | None = None,
    ) -> bool:
        """Record what the provider's event proves: the claimed send went out (``sent``, or ``dropped``'s
        status), with its provider id and ``event``'s time, where the log has no outcome for it — no
        entry (with ``claim``: the claim's fields, from the ledger), ``outcome_unknown``, a ``failed``
        attempt or a legacy claim. Outcomes already logged are left alone; True if written."""
        status, reason = dropped or (DecisionStatus.SENT, f"reconciled from the {source} event")
        assignments = {
            "#status": (":status", status),
            "#reason": (":reason", reason),
            "#pid": (":pid", provider_message_id),
            "#reconciled": (":source", source),
        }
        names = {"#status": "status", "#reason": "reason", "#pid": "provider_message_id"}
        names |= {"#reconciled": "reconciled_from", "#f": f"{event}_at"}
        values: dict[str, Any] = {v: {"S": text} for v, text in assignments.values()}
        values |= {":at": {"S": at.isoformat()}, ":unknown": {"S": DecisionStatus.OUTCOME_UNKNOWN}}
        values |= {":failed": {"S": DecisionStatus.FAILED}, ":claimed": {"S": DecisionStatus.CLAIMED}}
        update = [f"{name} = {value}" for name, (value, _) in assignments.items()]
        update.append("#f = if_not_exists(#f, :at)")
        condition = "#status IN (:unknown, :failed, :claimed)"
        if claim is not None:  # the ledger's claim: the entry may not exist yet (the attempt crashed)
            for n, (field, value) in enumerate(sorted(claim.items())):
                names[f"#c{n}"], values[f":c{n}"] = field, {"S": value}
                update.append(f"#c{n} = :c{n}")
            names["#sk"] = str(MESSAGES.sort_key)
            condition = f"attribute_not_exists(#sk) OR {condition}"
        try:
            self._client.update_item(
                TableName=self._table,
                Key={MESSAGES.partition_key: {"S": user_id}, str(MESSAGES.sort_key): {"S": send_key}},
                UpdateExpression="SET " + ", ".join(update),
                ConditionExpression=condition,
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

    def refund(self, user_id: str, refund: OrderRefund) -> int:
        """Take ``refund`` back from each of the shopper's conversions of its order (one query, then one
        conditional update per conversion changed; a concurrent change is read again and retried)."""
        changed = 0
        for _ in range(MAX_REFUND_ATTEMPTS):
            pending = [item for item in self._of_order(user_id, refund.order_id) if refund.applied_to(item)]
            if not pending:
                return changed
            for item in pending:
                update = refund.applied_to(item) or {}
                names = {f"#f{i}": name for i, name in enumerate(update)}
                values = {f":v{i}": value for i, value in enumerate(update.values())}
                try:
                    self._client.update_item(
                        TableName=self._table,
                        Key=serialize(
                            {
                                CONVERSIONS.partition_key: user_id,
                                str(CONVERSIONS.sort_key): item["conversion_key"],
                            }
                        ),
                        UpdateExpression="SET " + ", ".join(f"{n} = :v{i}" for i, n in enumerate(names)),
                        ConditionExpression="#rev = :left",
                        ExpressionAttributeNames={**names, "#rev": "revenue"},
                        ExpressionAttributeValues=serialize({**values, ":left": item["revenue"]}),
                    )
                except self._client.exceptions.ConditionalCheckFailedException:
                    continue  # changed meanwhile: read again
                changed += 1
        return changed

    def _of_order(self, user_id: str, order_id: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :u",
            "FilterExpression": "order_id = :o",
            "ExpressionAttributeNames": {"#pk": CONVERSIONS.partition_key},
            "ExpressionAttributeValues": {":u": {"S": user_id}, ":o": {"S": order_id}},
        }
        while True:
            response = self._client.query(**kwargs)
            items.extend(deserialize(i) for i in response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]


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
