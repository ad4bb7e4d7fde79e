"""Publishing events to the Nudge bus the way PutEvents wants: ten per call, per-entry retries."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.adapters import chunks
from shared.topology import APP_EVENT_SOURCE, BUS_NAME

PUT_EVENTS_LIMIT = 10
MAX_ENTRY_BYTES = 256 * 1024
MAX_ENTRY_ROUNDS = 4
DETAIL_TYPE = "Segment Event"


@dataclass
class PublishReport:
    event_ids: list[str] = field(default_factory=list)
    failed: list[tuple[Mapping[str, Any], str]] = field(default_factory=list)

    @property
    def published(self) -> int:
        return len(self.event_ids)


class EventPublisher:
    """For apps (and the local runtime): send Segment payloads to the bus as EventBridge events.

    PutEvents answers 200 even when some entries failed; those entries are resent (botocore already
    retries whole-call throttling), and what still fails is reported, never silently dropped.
    """

    def __init__(self, client: Any, bus_name: str = BUS_NAME, source: str = APP_EVENT_SOURCE) -> None:
        self._client = client
        self._bus = bus_name
        self._source = source

    def publish(self, details: Iterable[Mapping[str, Any]]) -> PublishReport:
        report = PublishReport()
        for batch in chunks(details, PUT_EVENTS_LIMIT):
            pending: list[tuple[Mapping[str, Any], dict[str, str]]] = []
            for detail in batch:
                entry = {
                    "EventBusName": self._bus,
                    "Source": self._source,
                    "DetailType": DETAIL_TYPE,
                    "Detail": json.dumps(detail, default=str),
                }
                if len(entry["Detail"].encode()) > MAX_ENTRY_BYTES:
                    report.failed.append((detail, "entry larger than 256 KB"))
                else:
                    pending.append((detail, entry))
            for _ in range(MAX_ENTRY_ROUNDS):
                if not pending:
                    break
                response = self._client.put_events(Entries=[e for _, e in pending])
                retry: list[tuple[Mapping[str, Any], dict[str, str]]] = []
                for (detail, entry), result in zip(pending, response["Entries"], strict=True):
                    if "EventId" in result:
                        report.event_ids.append(result["EventId"])
                    else:
                        retry.append((detail, entry))
                pending = retry
            report.failed.extend((detail, "PutEvents kept failing this entry") for detail, _ in pending)
        return report
