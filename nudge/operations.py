"""What the operations commands read (``why``, ``report``, ``dlq list``), from one interface.

Two implementations: :class:`DeployedStack` reads a stack's tables and queues (AWS credentials),
:class:`LocalDump` reads what a local run left on disk. The commands never know which.

The local dump's format (written by :meth:`LocalDump.write`, from ``nudge demo`` and the soak):

- ``<table>.jsonl`` for each table of ``shared/deployment/topology.py`` (``messages``, ``conversions``,
  ``profiles``, …): one item per line, exactly the DynamoDB item with its attribute values made
  plain (numbers as JSON numbers, sets as sorted lists, binary as base64) — the same keys the
  deployed tables hold, so a reader of one reads the other.
- ``dead-letters.jsonl``: one parked message per line, ``{queue, reason, source, body, first_seen}``
  (``first_seen`` ISO-8601 UTC, or empty when unknown).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from shared.core.vocabulary import DecisionStatus
from shared.deployment import topology
from shared.profiles.ledger import SentRecord

if TYPE_CHECKING:
    from shared.experiments.store import StoredExperiment
    from shared.journeys.instance import JourneyInstance

DEAD_LETTERS_FILE = "dead-letters.jsonl"


class SourceMissing(LookupError):
    """The place to read from is not there (no local run yet, or a stack without that output)."""


@dataclass(frozen=True)
class ParkedMessage:
    queue: str
    reason: str
    source: str
    body: str
    first_seen: str = ""  # when it was first sent, to its work queue or parked (UTC, ISO-8601)

    @classmethod
    def of(cls, queue: str, letter: Any) -> ParkedMessage:
        """A dead letter as peeked from its queue (``shared.adapters.sqs.DeadLetter``)."""
        seen = letter.first_seen.isoformat() if letter.first_seen else ""
        return cls(queue, letter.reason, letter.source, letter.body, seen)


@dataclass
class DeadLetterQueueView:
    """One dead-letter queue: how many messages it holds and the first ``limit`` of them."""

    count: int = 0
    messages: list[ParkedMessage] = field(default_factory=list)


class OperationsSource(Protocol):
    description: str

    def decisions(self, user_id: str) -> list[dict[str, Any]]:
        """Every send-log entry of one shopper and of the anonymous visitors linked to them (their
        ``anon:`` ids before they logged in), in time order."""
        ...

    def claims(self, user_id: str) -> list[SentRecord]:
        """The claims (sends recorded before the provider call) in the shopper's contact ledger."""
        ...

    def send_log(self) -> list[dict[str, Any]]: ...

    def conversions(self) -> list[dict[str, Any]]: ...

    def experiments(self) -> list[StoredExperiment]:
        """Every experiment's stored state and counts (the models table's ``experiment#`` items)."""
        ...

    def dead_letters(self, limit: int) -> dict[str, DeadLetterQueueView]:
        """Each dead-letter queue of the topology, counted, with its first ``limit`` messages."""
        ...

    def journey(self, user_id: str, journey_id: str) -> JourneyInstance | None:
        """The shopper's last instance of a journey (its path), or None."""
        ...

    def journey_instances(self) -> list[dict[str, Any]]:
        """Every item of the journeys table (the report's funnels)."""
        ...


@dataclass(frozen=True)
class PathRow:
    """One line of a shopper's path through a journey, for ``nudge why --campaign``."""

    at: str
    step: str
    what: str
    detail: str


def journey_path(instance: JourneyInstance, entries: Iterable[Mapping[str, Any]]) -> list[PathRow]:
    """The instance's path, each send step with delivery's decision for it (sent, capped, deferred,
    withheld... from the send log, keyed as the engine keys it), or ``queued`` while undecided."""
    from shared.journeys.engine import send_key

    logged = {str(e["send_key"]): e for e in entries}
    rows = []
    for entry in instance.path:
        detail = entry.detail
        if entry.kind == "send" and entry.step is not None:
            decided = logged.get(
                send_key(instance.journey_id, instance.instance, entry.step, entry.seq, instance.user_id)
            )
            outcome = "queued"
            if decided is not None:
                reason = decided.get("reason")
                outcome = f"{decided['status']}" + (f" ({reason})" if reason else "")
            detail = f"{detail}: {outcome}"
        rows.append(
            PathRow(entry.at.isoformat()[:19].replace("T", " "), entry.step or "-", entry.kind.value, detail)
        )
    return rows


def _linked(profile: Mapping[str, Any] | None) -> list[str]:
    """The ``anon:`` ids of the visitors a shopper's profile was linked to at login."""
    from shared.core.identity import anonymous_profile_id

    return [anonymous_profile_id(str(a)) for a in (profile or {}).get("anonymous_ids") or []]


def _by_time(entries: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(entries, key=lambda e: (str(e.get("at", "")), str(e.get("send_key", ""))))


OPEN_CLAIM_REASON = "no outcome logged: in flight, or a possible send if its attempt crashed"


def with_open_claims(
    user_id: str, entries: list[dict[str, Any]], claims: Iterable[SentRecord]
) -> list[dict[str, Any]]:
    """A shopper's decisions, and a ``claimed`` row for each claim in the ledger the send log has no
    outcome of (shared/delivery/claims.py): an attempt in flight, or one that crashed before logging
    what it sent. So ``nudge why`` shows every message that may have gone out."""
    from shared.delivery.claims import outcome_logged

    logged = {str(e["send_key"]): e for e in entries}
    open_claims = [
        {
            "user_id": user_id,
            "send_key": r.send_key,
            "campaign_id": r.campaign_id,
            "level": r.level,
            "channel": r.channel,
            "status": DecisionStatus.CLAIMED,
            "reason": OPEN_CLAIM_REASON,
            "at": r.at.isoformat(),
        }
        for r in claims
        if not outcome_logged(r, logged.get(r.send_key))
    ]
    return _by_time([*entries, *open_claims])


class LocalDump:
    """A directory a local run wrote (``demo-out/store`` by default)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.description = str(directory)

    def _path(self, name: str) -> Path:
        path = self.directory / name
        if not path.exists():
            raise SourceMissing(f"{path} not found: run `nudge demo` first, or pass --stack")
        return path

    def _lines(self, name: str) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self._path(name).read_text().splitlines() if line.strip()]

    def _table(self, key: str) -> list[dict[str, Any]]:
        return self._lines(f"{key}.jsonl")

    def decisions(self, user_id: str) -> list[dict[str, Any]]:
        ids = {user_id, *_linked(self._profile(user_id))}
        return _by_time(e for e in self._table(topology.MESSAGES.key) if e["user_id"] in ids)

    def _profile(self, user_id: str) -> Mapping[str, Any] | None:
        if not (self.directory / f"{topology.PROFILES.key}.jsonl").exists():
            return None  # a dump of the send log alone
        key = topology.PROFILES.partition_key
        return next((p for p in self._table(topology.PROFILES.key) if p.get(key) == user_id), None)

    def claims(self, user_id: str) -> list[SentRecord]:
        if not (self.directory / f"{topology.LEDGER.key}.jsonl").exists():
            return []  # a dump written before ledgers were
        items = [i for i in self._table(topology.LEDGER.key) if i[topology.LEDGER.partition_key] == user_id]
        return [SentRecord.from_json(row) for i in items for row in json.loads(i.get("sends") or "[]")]

    def send_log(self) -> list[dict[str, Any]]:
        return self._table(topology.MESSAGES.key)

    def journey(self, user_id: str, journey_id: str) -> JourneyInstance | None:
        from shared.journeys.instance import JourneyInstance

        if not (self.directory / f"{topology.JOURNEYS.key}.jsonl").exists():
            return None  # a dump written before journeys were
        sort_key = str(topology.JOURNEYS.sort_key)
        for item in self._table(topology.JOURNEYS.key):
            if item[topology.JOURNEYS.partition_key] == user_id and item[sort_key] == journey_id:
                return JourneyInstance.model_validate_json(item["state"])
        return None

    def journey_instances(self) -> list[dict[str, Any]]:
        if not (self.directory / f"{topology.JOURNEYS.key}.jsonl").exists():
            return []  # a dump written before journeys were
        return self._table(topology.JOURNEYS.key)

    def conversions(self) -> list[dict[str, Any]]:
        self._path(f"{topology.MESSAGES.key}.jsonl")  # no send log means no local run at all
        if not (self.directory / f"{topology.CONVERSIONS.key}.jsonl").exists():
            return []  # a run that converted nobody
        return self._table(topology.CONVERSIONS.key)

    def experiments(self) -> list[StoredExperiment]:
        from shared.adapters.dynamo.experiments import experiments_in

        if not (self.directory / f"{topology.MODELS.key}.jsonl").exists():
            return []  # a dump of the send log alone
        return experiments_in(self._table(topology.MODELS.key))

    def dead_letters(self, limit: int) -> dict[str, DeadLetterQueueView]:
        views = {key: DeadLetterQueueView() for key in topology.DEAD_LETTER_QUEUES}
        for parked in self._lines(DEAD_LETTERS_FILE):
            view = views[parked["queue"]]
            view.count += 1
            if len(view.messages) < limit:
                view.messages.append(ParkedMessage(**parked))
        return views

    @staticmethod
    def write(
        directory: Path,
        tables: Mapping[str, list[dict[str, Any]]],
        parked: list[ParkedMessage],
        plain: Any = str,
    ) -> dict[str, int]:
        """Write a dump in the format above; ``plain`` turns a non-JSON value into one."""
        directory.mkdir(parents=True, exist_ok=True)
        written = {}
        for key, items in tables.items():
            with (directory / f"{key}.jsonl").open("w") as out:
                for item in items:
                    out.write(json.dumps(item, default=plain, sort_keys=True) + "\n")
            written[key] = len(items)
        with (directory / DEAD_LETTERS_FILE).open("w") as out:
            for message in parked:
                out.write(json.dumps(asdict(message), sort_keys=True) + "\n")
        written["dead-letters"] = len(parked)
        return written


class DeployedStack:
    """A deployed stack, found by its CloudFormation outputs (AWS credentials from the environment)."""

    def __init__(self, stack: str, session: Any = None) -> None:
        import boto3

        self.client: Any = session.client if session is not None else boto3.client
        self.stack = stack
        self.description = stack
        described = self.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}

    def output(self, key: str) -> str:
        if key not in self.outputs:
            raise SourceMissing(f"stack {self.stack} has no output {key}: is it a Nudge stack?")
        return self.outputs[key]

    def table(self, key: str) -> str:
        return self.output(topology.table_output(key))

    def decisions(self, user_id: str) -> list[dict[str, Any]]:
        from shared.adapters.dynamo.codec import deserialize
        from shared.adapters.dynamo.messages import DynamoSendLog

        dynamodb = self.client("dynamodb")
        found = dynamodb.get_item(
            TableName=self.table(topology.PROFILES.key),
            Key={topology.PROFILES.partition_key: {"S": user_id}},
            ProjectionExpression="anonymous_ids",
        ).get("Item")
        log = DynamoSendLog(dynamodb, self.table(topology.MESSAGES.key))
        ids = [user_id, *_linked(deserialize(found) if found else None)]
        return _by_time(e for u in ids for e in log.entries_for(u))

    def claims(self, user_id: str) -> list[SentRecord]:
        from shared.adapters.dynamo.ledger import DynamoLedgerStore

        ledger = DynamoLedgerStore(self.client("dynamodb"), self.table(topology.LEDGER.key)).get(user_id)
        return list(ledger.sends) if ledger else []

    def _scan(self, key: str) -> list[dict[str, Any]]:
        from shared.adapters.dynamo.codec import scan_all

        return scan_all(self.client("dynamodb"), self.table(key))

    def send_log(self) -> list[dict[str, Any]]:
        return self._scan(topology.MESSAGES.key)

    def journey(self, user_id: str, journey_id: str) -> JourneyInstance | None:
        from shared.adapters.dynamo.journeys import DynamoJourneyStore

        return DynamoJourneyStore(self.client("dynamodb"), self.table(topology.JOURNEYS.key)).get(
            user_id, journey_id
        )

    def journey_instances(self) -> list[dict[str, Any]]:
        return self._scan(topology.JOURNEYS.key)

    def conversions(self) -> list[dict[str, Any]]:
        return self._scan(topology.CONVERSIONS.key)

    def experiments(self) -> list[StoredExperiment]:
        from shared.adapters.dynamo.experiments import experiments_in

        return experiments_in(self._scan(topology.MODELS.key))  # a small table: models and experiments

    def dead_letters(self, limit: int) -> dict[str, DeadLetterQueueView]:
        from shared.adapters.sqs import SqsDeadLetterQueue

        client = self.client("sqs")
        views = {}
        for key in topology.DEAD_LETTER_QUEUES:
            queue = SqsDeadLetterQueue(client, self.output(topology.queue_output(key)))
            views[key] = DeadLetterQueueView(
                queue.count(),
                [ParkedMessage.of(key, letter) for letter in (queue.peek(limit) if limit else [])],
            )
        return views


def open_source(stack: str | None, store: Path) -> OperationsSource:
    """The deployed stack when one is named, else the local dump."""
    return DeployedStack(stack) if stack else LocalDump(store)
