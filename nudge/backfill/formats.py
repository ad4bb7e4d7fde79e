"""What a history export holds, read as the bodies ingest reads from its queue.

* **JSON lines** (``.jsonl``, ``.json``, ``.ndjson``; gzipped with ``.gz``): one Segment-Spec payload per
  line, as Segment's and RudderStack's object-storage destinations write them, or one EventBridge event
  (with ``detail``; its ``time`` is the event's time when the payload has none). Rows of a warehouse
  dump in snake_case are read too: ``user_id``, ``anonymous_id``, ``message_id`` (or ``id``),
  ``original_timestamp``, ``sent_at``, ``received_at``, and ``event_text`` as the event's name; a row
  with ``event`` and no ``type`` is a track call, and a row with neither ``properties`` nor ``traits``
  keeps its other columns as those.
* **A CSV of orders** (``.csv``, ``.csv.gz``): one ``Order Completed`` per row, its ``order_id``,
  ``user_id``, a time (``timestamp``, ``created_at``, ``ordered_at`` or ``date``) and every other column
  as a property (``revenue``, ``total``, ``currency``…). Its message id is ``order-<order_id>``, so a
  second import of the same file changes nothing.

Every body is published as by :data:`IMPORT_SOURCE`, which the import trusts to set contact points
(the operator vouches for the file). A line that is not JSON is handed to ingest as it is, which rejects
it with its reason like any other.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

IMPORT_SOURCE = "nudge.import"
ORDER_ID, USER_ID = "order_id", "user_id"
TIME_COLUMNS = ("timestamp", "created_at", "ordered_at", "date")
_WAREHOUSE_NAMES = {
    "user_id": "userId",
    "anonymous_id": "anonymousId",
    "message_id": "messageId",
    "original_timestamp": "originalTimestamp",
    "sent_at": "sentAt",
    "received_at": "receivedAt",
}
_CALL_FIELDS = {"type", "event", "userId", "anonymousId", "messageId", "timestamp", "originalTimestamp"}
_CALL_FIELDS |= {"sentAt", "receivedAt", "name", "context", "integrations", "channel", "version"}


class UnreadableExport(ValueError):
    """A file that is not a history export Nudge can read (names what is missing)."""


def _open(path: Path) -> IO[str]:
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8", newline="")
    return path.open(encoding="utf-8", newline="")


def is_orders_csv(path: Path) -> bool:
    return ".csv" in path.suffixes


def count_records(path: Path) -> int:
    """How many records ``path`` holds (lines with text; a CSV's rows), for the progress bar."""
    with _open(path) as source:
        found = sum(1 for line in source if line.strip())
    return found - 1 if is_orders_csv(path) and found else found


def read_history(path: Path) -> Iterator[str]:
    """One ingest body per record of ``path``, in the file's order."""
    if is_orders_csv(path):
        yield from _orders(path)
        return
    with _open(path) as source:
        for line in source:
            if line.strip():
                yield body_of(line)


def body_of(line: str) -> str:
    """The queue body for one line: an EventBridge event as published by IMPORT_SOURCE."""
    try:
        found = json.loads(line)
    except ValueError:
        return line  # ingest names why it cannot be read
    if isinstance(found, dict) and "detail" in found:
        envelope = {**found, "source": IMPORT_SOURCE}
    else:
        envelope = {
            "source": IMPORT_SOURCE,
            "detail": warehouse_row(found) if isinstance(found, dict) else found,
        }
    return json.dumps(envelope)


def warehouse_row(row: dict[str, Any]) -> dict[str, Any]:
    """A warehouse dump's snake_case row as a Segment call (a Segment-Spec payload is returned as it is)."""
    if "messageId" in row or ("type" in row and "userId" in row):
        return row
    call = {_WAREHOUSE_NAMES.get(k, k): v for k, v in row.items()}
    if "messageId" not in call and "id" in call:
        call["messageId"] = call.pop("id")
    if call.get("event_text"):  # Segment's warehouses: `event` is a slug, `event_text` the name sent
        call["event"] = call.pop("event_text")
    if "type" not in call and call.get("event"):
        call["type"] = "track"
    if "properties" not in call and "traits" not in call:
        rest = {k: call.pop(k) for k in list(call) if k not in _CALL_FIELDS}
        call["traits" if call.get("type") == "identify" else "properties"] = rest
    return call


def _orders(path: Path) -> Iterator[str]:
    with _open(path) as source:
        rows = csv.DictReader(source)
        columns = rows.fieldnames or []
        when = next((c for c in TIME_COLUMNS if c in columns), None)
        missing = [c for c in (ORDER_ID, USER_ID) if c not in columns] + ([] if when else ["a time column"])
        if missing:
            raise UnreadableExport(
                f"{path}: an orders CSV needs the columns {ORDER_ID}, {USER_ID} and one of "
                f"{', '.join(TIME_COLUMNS)}; missing {', '.join(missing)}"
            )
        for row in rows:
            properties = {
                k: v for k, v in row.items() if k not in {USER_ID, when} and k and v not in (None, "")
            }
            detail = {
                "type": "track",
                "event": "Order Completed",
                "userId": row[USER_ID] or None,
                "messageId": f"order-{row[ORDER_ID]}" if row[ORDER_ID] else None,
                "timestamp": row[str(when)] or None,
                "properties": properties,
            }
            yield json.dumps(
                {"source": IMPORT_SOURCE, "detail": {k: v for k, v in detail.items() if v is not None}}
            )
