"""Operating a stack or a local run: what why, erase and dlq list print."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from rich.table import Table

from nudge.cli.common import console
from shared.core.vocabulary import DecisionStatus


def print_why(user_id: str, entries: list[dict[str, Any]]) -> None:
    """Each logged decision of one shopper (and of the anonymous visitors linked to them), in time order,
    coloured by its status; a send step's experiment names the variant the shopper drew."""
    table = Table(title=f"Why — {user_id}")
    for column in ("at (UTC)", "campaign", "level", "channel", "decision", "reason"):
        table.add_column(column)
    colours: dict[str, str] = {
        DecisionStatus.SENT: "green",
        DecisionStatus.CAPPED: "yellow",
        DecisionStatus.DEFERRED_QUIET_HOURS: "cyan",
        DecisionStatus.DEFERRED_SEND_TIME: "cyan",
        DecisionStatus.FAILED: "red",
    }
    for e in entries:
        status = str(e["status"])
        table.add_row(
            str(e.get("at", ""))[:19].replace("T", " "),
            str(e["campaign_id"]) + _variant(e),
            str(e.get("level", "")),
            str(e.get("channel") or "-"),
            f"[{colours.get(status, 'white')}]{status}[/]",
            str(e.get("reason") or "") + _before_login(user_id, e) + _products(e),
        )
    console.print(table)


def print_journey_path(instance: Any, rows: list[Any]) -> None:
    """A shopper's path through a journey: entered, waited, branch taken and why, each send step's
    decision, how it ended."""
    title = (
        f"Journey {instance.journey_id} — {instance.user_id}: instance {instance.instance}, "
        f"{instance.status}" + (f" ({instance.reason})" if instance.reason else "")
    )
    table = Table(title=title)
    for column in ("at (UTC)", "step", "what", "detail"):
        table.add_column(column)
    for row in rows:
        table.add_row(row.at, row.step, row.what, row.detail)
    console.print(table)


def _variant(entry: dict[str, Any]) -> str:
    """The variant the shopper drew and, if it has its own send time, when it was planned to go out."""
    if not entry.get("variant"):
        return ""
    planned = str(entry.get("send_at") or "")[:16].replace("T", " ")
    return f" · variant {entry['variant']}" + (f" at {planned}" if planned else "")


def _products(entry: dict[str, Any]) -> str:
    """The catalog products a sent message carried (docs/catalog.md)."""
    products = entry.get("products")
    return f" products: {', '.join(map(str, products))}" if products else ""


def _before_login(user_id: str, entry: dict[str, Any]) -> str:
    """A decision logged for one of the shopper's linked anonymous visitors names it."""
    visitor = str(entry.get("user_id", user_id))
    return "" if visitor == user_id else f" (before login, as {visitor})"


def print_erasure(user_id: str, report: Any) -> None:
    """What an erasure deleted, cancelled, purged and kept."""
    table = Table(title=f"Erased {user_id}")
    table.add_column("store")
    table.add_column("items deleted", justify="right")
    for key, count in report.deleted.items():
        table.add_row(key, str(count))
    table.add_row("pending schedules", str(report.cancelled_schedules))
    table.add_row("anonymous profiles (rows above include theirs)", str(report.anonymous_profiles))
    for key, count in report.dead_letters_purged.items():
        table.add_row(f"messages in {key}", str(count))
    table.add_row("kept: hashed marker and suppressions", str(report.records_kept))
    console.print(table)
    for key in report.dead_letters_unscanned:
        console.print(f"[yellow]{key} holds more than one scan reads: run the erasure again to go on[/]")


def print_dead_letters(title: str, views: Mapping[str, Any]) -> None:
    """Each dead-letter queue with its count, then its first messages: when, from where, why, what."""
    from shared.deployment.topology import DEAD_LETTER_QUEUES, DEAD_LETTER_SOURCES

    summary = Table(title=title)
    for column in ("queue", "redrives to", "messages"):
        summary.add_column(column, justify="right" if column == "messages" else "left")
    for key in DEAD_LETTER_QUEUES:
        summary.add_row(
            key, DEAD_LETTER_SOURCES[key] or "(async function: re-send the event)", str(views[key].count)
        )
    console.print(summary)
    for key, view in views.items():
        if not view.messages:
            continue
        shown = len(view.messages)
        more = f", first {shown}" if view.count > shown else ""
        table = Table(title=f"{key}: {view.count} message(s){more}")
        for column in ("first seen (UTC)", "source", "reason", "what"):
            table.add_column(column)
        for m in view.messages:
            table.add_row(m.first_seen[:19].replace("T", " "), m.source, m.reason, _what(m.body))
        console.print(table)


def _what(body: str) -> str:
    """Which job or event a parked message is: its send key, event id, or the start of its body."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:60]
    if isinstance(data, dict):
        if "send_key" in data:
            return f"job {data['send_key']}"
        payload = data.get("requestPayload", data)
        detail = (payload.get("event") or payload).get("detail") if isinstance(payload, dict) else None
        if isinstance(detail, dict) and detail.get("messageId"):
            return f"event {detail['messageId']}"
    return body[:60]
