"""Publishing events to the Nudge bus the way PutEvents wants: ten per call, per-entry retries."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.events.sources import APP_EVENT_SOURCE, INTERNAL_EVENT_SOURCE

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

    def __init__(
        self, client: Any, bus_name: str, source: str = APP_EVENT_SOURCE, detail_type: str = DETAIL_TYPE
    ) -> None:
        self._client = client
        self._bus = bus_name
        self._source = source
        self._detail_type = detail_type

    def publish(self, details: Iterable[Mapping[str, Any]]) -> PublishReport:
        report = PublishReport()
        for batch in self._calls(details, report):
            pending = batch
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

    def _calls(
        self, details: Iterable[Mapping[str, Any]], report: PublishReport
    ) -> Iterable[list[tuple[Mapping[str, Any], dict[str, str]]]]:
        """Entries grouped into PutEvents calls: ten at most, and 256 KB at most in all (the limit is
        per call, not only per entry); an entry over 256 KB on its own is reported, not sent."""
        call: list[tuple[Mapping[str, Any], dict[str, str]]] = []
        call_bytes = 0
        for detail in details:
            entry = {
                "EventBusName": self._bus,
                "Source": self._source,
                "DetailType": self._detail_type,
                "Detail": json.dumps(detail, default=str),
            }
            size = entry_size(entry)
            if size > MAX_ENTRY_BYTES:
                report.failed.append((detail, "entry larger than 256 KB"))
                continue
            if call and (len(call) == PUT_EVENTS_LIMIT or call_bytes + size > MAX_ENTRY_BYTES):
                yield call
                call, call_bytes = [], 0
            call.append((detail, entry))
            call_bytes += size
        if call:
            yield call


def entry_size(entry: Mapping[str, str]) -> int:
    """What EventBridge counts against 256 KB: source, detail type and detail in UTF-8, plus 14 bytes
    for the time (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-putevent-size.html)."""
    return (
        sum(len(entry[k].encode("utf-8", "surrogatepass")) for k in ("Source", "DetailType", "Detail")) + 14
    )


def internal_publisher(
    client: Any, bus_name: str
) -> Callable[[Sequence[tuple[str, dict[str, Any]]]], list[dict[str, Any]]]:
    """Nudge's own events (detail type, detail) onto its bus from :data:`INTERNAL_EVENT_SOURCE`, ten a
    PutEvents call per detail type; what PutEvents kept refusing is returned."""

    def publish(events: Sequence[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
        by_type: dict[str, list[dict[str, Any]]] = {}
        for detail_type, detail in events:
            by_type.setdefault(detail_type, []).append(detail)
        refused: list[dict[str, Any]] = []
        for detail_type, details in by_type.items():
            report = EventPublisher(client, bus_name, INTERNAL_EVENT_SOURCE, detail_type).publish(details)
            refused.extend(dict(detail) for detail, _ in report.failed)
        return refused

    return publish
