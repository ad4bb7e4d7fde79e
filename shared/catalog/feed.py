"""A product feed: JSON lines or CSV, read row by row, loaded into the catalog in chunks.

A row is a product (the fields and bounds of :mod:`shared.catalog.product`; ``updated_at`` defaults
to the feed's time, so a feed is newer than the events before it and older than the ones after).
A bad row is refused with its line number, the field and the problem, and the good rows around it
are loaded: a feed with a typo in one row still updates every other product.

Loading costs what ingest's catalog step costs (shared/catalog/updates.py): per chunk of
:data:`CHUNK_ROWS` rows, one BatchGetItem and one BatchWriteItem per 25 products changed.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any, Literal

from shared.catalog.ports import ProductCatalog
from shared.catalog.product import Product, problems_of
from shared.catalog.updates import CatalogChange, apply_updates

CHUNK_ROWS = 100  # one catalog read
MAX_LINE_CHARS = 16_384  # a product is under 3 KB; a longer line is not one
FeedFormat = Literal["jsonl", "csv"]
_TRUE, _FALSE = frozenset({"true", "1", "yes", "y"}), frozenset({"false", "0", "no", "n"})


@dataclass(frozen=True)
class Refused:
    line: int
    field: str
    problem: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.problem}"


@dataclass
class FeedReport:
    rows: int = 0
    loaded: int = 0  # good rows
    refused: list[Refused] = field(default_factory=list)
    changes: list[CatalogChange] = field(default_factory=list)


def feed_format(name: str) -> FeedFormat:
    """The format a file's name says: ``.csv`` is CSV, anything else JSON lines."""
    return "csv" if name.lower().endswith(".csv") else "jsonl"


def _csv_value(name: str, text: str | None) -> Any:
    if text is None or text.strip() == "":
        return None
    if name == "in_stock" and text.strip().lower() in _TRUE | _FALSE:
        return text.strip().lower() in _TRUE
    return text


def rows_of(lines: Iterable[str], kind: FeedFormat) -> Iterator[tuple[int, dict[str, Any] | Refused]]:
    """(line number, row) for each row of the feed, or what refuses a line that is no row at all."""
    if kind == "csv":
        reader = csv.DictReader(iter(lines))
        for row in reader:
            line = reader.line_num
            if None in row:
                yield (
                    line,
                    Refused(line, "row", f"more values than the header's {len(reader.fieldnames or [])}"),
                )
                continue
            yield line, {k: _csv_value(k, v) for k, v in row.items() if k}
        return
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        if len(text) > MAX_LINE_CHARS:
            yield number, Refused(number, "row", f"longer than {MAX_LINE_CHARS} characters")
            continue
        try:
            row = json.loads(text)
        except ValueError as error:
            yield number, Refused(number, "row", f"not JSON ({str(error).split(':')[0]})")
            continue
        yield number, row if isinstance(row, dict) else Refused(number, "row", "not a JSON object")


def products_of(
    rows: Iterable[tuple[int, dict[str, Any] | Refused]], fed_at: datetime, report: FeedReport
) -> Iterator[Product]:
    """The good rows' products (``updated_at`` defaulting to ``fed_at``); the bad ones in ``report``."""
    for line, row in rows:
        report.rows += 1
        if isinstance(row, Refused):
            report.refused.append(row)
            continue
        found, problems = problems_of({"updated_at": fed_at, **row})
        if found is None:
            report.refused.extend(Refused(line, where, problem) for where, problem in problems)
            continue
        report.loaded += 1
        yield found


def load_feed(
    catalog: ProductCatalog,
    lines: Iterable[str],
    kind: FeedFormat,
    fed_at: datetime,
    progress: Callable[[FeedReport], None] | None = None,
) -> FeedReport:
    """Load the feed's good rows into ``catalog``, :data:`CHUNK_ROWS` at a time."""
    report = FeedReport()
    products = products_of(rows_of(lines, kind), fed_at, report)
    while chunk := list(islice(products, CHUNK_ROWS)):
        report.changes.extend(apply_updates(catalog, chunk))
        if progress is not None:
            progress(report)
    return report
