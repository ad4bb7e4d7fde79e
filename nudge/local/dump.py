"""What the local runtime holds, read back: every profile, a table's items, what the dead-letter queues
hold, and all of it written as the local dump (``nudge/operations.py``'s format) for ``nudge why``,
``report`` and ``dlq list`` to read later."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from nudge.operations import LocalDump, ParkedMessage
from shared.adapters.dynamo.codec import scan_all
from shared.adapters.sqs import SqsDeadLetterQueue
from shared.deployment import topology


def parked(runtime: Any) -> list[ParkedMessage]:
    """Everything in every dead-letter queue, with its reason (messages stay in the queue)."""
    return [
        ParkedMessage.of(key, letter)
        for key in topology.DEAD_LETTER_QUEUES
        for letter in SqsDeadLetterQueue(runtime.client("sqs"), runtime.queue_urls[key]).peek()
    ]


def all_profiles(runtime: Any) -> list[Any]:
    """Every profile, decoded by the same adapter the functions use."""
    profiles, start_key = [], None
    while True:
        page, start_key = runtime.profiles.scan_segment(0, 1, start_key, 1000)
        profiles.extend(page)
        if start_key is None:
            return profiles


def scan(runtime: Any, table_key: str) -> list[dict[str, Any]]:
    """Every item of a table, as plain values."""
    return scan_all(runtime.client("dynamodb"), runtime.table_names[table_key])


def write_dump(runtime: Any, directory: Path) -> dict[str, int]:
    """Write every table and what the dead-letter queues hold, in the local dump's format; returns how
    many items it wrote of each table, and of the dead letters."""
    tables = {spec.key: scan(runtime, spec.key) for spec in topology.TABLES}
    return write_tables(directory, tables, parked(runtime))


def write_tables(
    directory: Path, tables: dict[str, list[dict[str, Any]]], letters: list[ParkedMessage]
) -> dict[str, int]:
    """Tables and dead letters already read (e.g. from several shards' runs) as the local dump."""
    return LocalDump.write(directory, tables, letters, plain=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)
