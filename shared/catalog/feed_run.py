"""The scheduled catalog feed: one object in the stack's feed bucket, loaded as ``nudge catalog load``
loads a file (:func:`shared.catalog.feed.load_feed`: 100 rows a read, 25 changed products a write).

The object is streamed line by line (a feed of a million products is never held whole). A row without
``updated_at`` takes the object's LastModified, so loading the same object again changes nothing (an
update no newer than the stored product is no change) and a feed put after an event is newer than it.
A bad row is refused with its line and field, and the good rows are loaded; an object that cannot be
loaded at all — missing, not UTF-8 text, or without a single product (a CSV named ``.jsonl``, an
empty file) — fails the run with :class:`FeedUnreadable`, naming the bucket and key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.catalog.feed import feed_format, load_feed
from shared.catalog.ports import FeedObjects, ProductCatalog

MAX_RECORDED_PROBLEMS = 20  # a run's record names its first bad rows; the count says how many in all


class FeedUnreadable(RuntimeError):
    """The feed object cannot be loaded; the message names ``s3://bucket/key`` and why."""


@dataclass(frozen=True)
class FeedRun:
    """What one load did: the run's record (structured log, the function's result and metrics)."""

    bucket: str
    key: str
    version: str | None
    last_modified: datetime
    rows: int
    loaded: int
    changed: int
    price_drops: int
    restocks: int
    refused_rows: int
    problems: tuple[str, ...]  # the first MAX_RECORDED_PROBLEMS, each "line N: field: problem"

    def record(self) -> dict[str, Any]:
        return {
            "object": f"s3://{self.bucket}/{self.key}",
            "version": self.version,
            "last_modified": self.last_modified.isoformat(),
            "rows": self.rows,
            "loaded": self.loaded,
            "changed": self.changed,
            "price_drops": self.price_drops,
            "restocks": self.restocks,
            "refused_rows": self.refused_rows,
            "problems": list(self.problems),
        }


def load_feed_object(catalog: ProductCatalog, objects: FeedObjects, bucket: str, key: str) -> FeedRun:
    """Load ``s3://bucket/key`` into ``catalog`` (JSON lines, or CSV when the key ends in ``.csv``)."""
    where = f"s3://{bucket}/{key}"
    if not key:
        raise FeedUnreadable(
            f"s3://{bucket}/: no feed object is configured (deploy with -c catalog_feed_key=KEY)"
        )
    found = objects.open(bucket, key)
    kind = feed_format(key)
    report = load_feed(catalog, found.lines, kind, found.last_modified)
    if report.loaded == 0:
        first = f"; the first: {report.refused[0]}" if report.refused else ""
        raise FeedUnreadable(
            f"{where}: none of its {report.rows} rows is a product (read as "
            f"{'CSV' if kind == 'csv' else 'JSON lines'}, from the key's name){first}"
        )
    refused_lines = sorted({r.line for r in report.refused})
    return FeedRun(
        bucket=bucket,
        key=key,
        version=found.version,
        last_modified=found.last_modified,
        rows=report.rows,
        loaded=report.loaded,
        changed=len(report.changes),
        price_drops=sum(1 for c in report.changes if c.price_drop_percent is not None),
        restocks=sum(1 for c in report.changes if c.restocked),
        refused_rows=len(refused_lines),
        problems=tuple(str(r) for r in report.refused[:MAX_RECORDED_PROBLEMS]),
    )
