"""What ``nudge import`` prints: what was loaded, where the events' times came from, what was rejected
and why."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from nudge.cli.common import console


def print_import(title: str, summary: Any) -> None:
    """The import's counts, then the times' sources, then the rejects by reason (most first)."""
    overview = Table(title=title, show_header=False)
    overview.add_column("what")
    overview.add_column("count", justify="right")
    for label, value in (
        ("records read", summary.read),
        ("events folded into profiles", summary.applied),
        ("  duplicates (already there: nothing changed)", summary.duplicates),
        ("  of erased shoppers (dropped)", summary.erased),
        ("profile writes", summary.profiles_written),
        ("conversions recorded (orders after messages already sent)", summary.conversions),
        ("traits not kept (reserved names)", summary.dropped_traits),
        ("rejected", summary.rejected_total),
        ("failed (profile kept changing; import again to retry)", summary.failed),
        ("L4 triggers fired · messages sent", "0 · 0"),
    ):
        overview.add_row(label, f"{value:,}" if isinstance(value, int) else value)
    console.print(overview)
    if summary.timed_by:
        timed = Table(title="The events' time was read from")
        timed.add_column("field")
        timed.add_column("events", justify="right")
        for source, count in summary.timed_by.most_common():
            timed.add_row(str(source), f"{count:,}")
        console.print(timed)
    if summary.rejected:
        rejected = Table(title="Rejected, by reason")
        rejected.add_column("reason")
        rejected.add_column("records", justify="right")
        rejected.add_column("first at record", justify="right")
        for reason, count in summary.rejected.most_common():
            rejected.add_row(reason, f"{count:,}", str(summary.first_rejected[reason]))
        console.print(rejected)
