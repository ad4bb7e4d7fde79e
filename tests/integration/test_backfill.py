"""`nudge import` on moto: a history export goes through the same ingest code as live events, into the
"deployed" stack (the local runtime answering DescribeStacks) or a local store, with no age limit; no L4
trigger fires and nothing is sent, and the scorer can run on the imported profiles the same day."""

from __future__ import annotations

import csv
import gzip
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from fakes import START
from payloads import identify, published, track
from typer.testing import CliRunner

from nudge.backfill.formats import read_history
from nudge.backfill.run import BackfillPorts, import_history
from nudge.cli import app
from nudge.local.runtime import LocalRuntime
from nudge.local.snapshot import read_profiles
from shared.deployment import topology

WIDE = {"COLUMNS": "250"}
AS_OF = "2026-11-02T08:00:00Z"  # the runtime's START: the import's clock


def flat(output: str) -> str:
    """The command's output as one line of words (the tables' borders left out)."""
    return " ".join(output.replace("│", " ").split())


def write_jsonl(path: Path, lines: list[Any]) -> Path:
    text = "\n".join(line if isinstance(line, str) else json.dumps(line) for line in lines) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def history() -> list[Any]:
    """Two years of a shop's history the way its trackers sent it, and three records that cannot be
    loaded."""
    consented = {"email": True, "push": True, "in_app": True}
    two_years_ago = START - timedelta(days=730)
    return [
        published("segment-identify"),  # 2015: older than the live-traffic limit
        published("rudderstack-identify"),  # no timestamp: its originalTimestamp
        identify("u-1", "id-u-1", at=two_years_ago, email="u1@shop.test", consent=consented, timezone="UTC"),
        track(
            "u-1",
            "Order Completed",
            "order-1",
            at=two_years_ago + timedelta(days=1),
            order_id="o-1",
            revenue=80,
        ),
        track("u-1", "Order Completed", "order-2", at=START - timedelta(days=3), order_id="o-2", revenue=30),
        track("u-1", "Product Added", "add-1", at=START - timedelta(hours=2), product_id="p-1", price=50),
        track("u-1", "Order Refunded", "refund-1", at=START - timedelta(days=1), order_id="o-2", total=10),
        {
            "type": "track",
            "event": "Product Viewed",
            "messageId": "no-user",
            "timestamp": "2026-10-01T00:00:00Z",
        },
        track("u-2", "Product Viewed", "future", at=START + timedelta(days=3)),
        "not json at all",
    ]


def nothing_was_sent_or_scheduled(runtime: LocalRuntime) -> None:
    assert runtime.scan(topology.MESSAGES.key) == []
    assert runtime.sent == []
    assert runtime.one_time_schedules() == []
    schedules = runtime.client("scheduler").list_schedules(GroupName=runtime.names.deferral_group)
    assert schedules["Schedules"] == []
    for spec in topology.QUEUES:
        assert runtime.receive(spec, 10) == [], spec.key
    assert runtime.parked() == []


def test_an_import_into_the_stack_loads_history_fires_no_trigger_and_sends_nothing(
    runtime: LocalRuntime, stack: str, tmp_path: Path
) -> None:
    export = write_jsonl(tmp_path / "export.jsonl.gz", history())

    result = CliRunner().invoke(app, ["import", str(export), "--stack", stack, "--as-of", AS_OF], env=WIDE)

    assert result.exit_code == 0, result.output
    nothing_was_sent_or_scheduled(runtime)
    peter = runtime.profiles.get("97980cfea0067")
    assert (
        peter is not None and peter.traits["country"] == "US" and peter.traits["email"] == "peter@example.com"
    )
    richard = runtime.profiles.get("27340af5c8819")
    assert richard is not None and richard.first_seen == datetime(2022, 2, 1, 19, 14, 18, 381000, tzinfo=UTC)
    shopper = runtime.profiles.get("u-1")
    assert shopper is not None
    assert (shopper.orders, shopper.revenue) == (2, Decimal("100.00"))
    assert shopper.cart is not None and shopper.traits["consent"] == {
        "email": True,
        "push": True,
        "in_app": True,
    }
    assert runtime.profiles.get("u-2") is None
    out = flat(result.output)
    assert "records read 10" in out and "events folded into profiles 7" in out and "rejected 3" in out
    assert "originalTimestamp 1" in out and "timestamp 6" in out
    assert "detail.timestamp: <time> is in the future" in out
    assert "detail: needs 'userId' or 'anonymousId' 1 8" in out
    assert "body: not JSON (Expecting value at position N) 1 10" in out


def test_the_same_events_on_the_bus_would_have_triggered_and_sent(runtime: LocalRuntime) -> None:
    """What the import test rules out does happen live: the welcome fires on a new identify."""
    runtime.publish([identify("u-live", "id-live", email="live@shop.test", consent={"email": True})])
    runtime.drain()
    runtime.advance_to(START + timedelta(hours=1))
    assert any(m["campaign_id"] == "welcome" for m in runtime.scan(topology.MESSAGES.key))


def test_importing_the_same_export_twice_changes_nothing(
    runtime: LocalRuntime, stack: str, tmp_path: Path
) -> None:
    export = write_jsonl(tmp_path / "export.jsonl", history())
    args = ["import", str(export), "--stack", stack, "--as-of", AS_OF]
    assert CliRunner().invoke(app, args, env=WIDE).exit_code == 0
    before = {p.user_id: p for p in runtime.all_profiles()}

    again = CliRunner().invoke(app, args, env=WIDE)

    assert again.exit_code == 0, again.output
    assert {p.user_id: p for p in runtime.all_profiles()} == before
    assert "duplicates (already there: nothing changed) 7" in flat(again.output)


def test_a_csv_of_orders_is_loaded_as_order_completed_events(runtime: LocalRuntime, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["order_id", "user_id", "created_at", "revenue", "total", "currency"])
        writer.writerow(["1001", "u-9", "2024-03-01T10:00:00Z", "0", "59.90", "USD"])
        writer.writerow(["1002", "u-9", "2026-10-30T10:00:00Z", "20.00", "22.00", "USD"])
        writer.writerow(["1003", "", "2026-10-30T10:00:00Z", "5", "5", "USD"])
    ports = BackfillPorts(runtime.profiles, runtime.clock)

    summary = import_history(read_history(path), ports)

    profile = runtime.profiles.get("u-9")
    assert profile is not None
    assert (profile.orders, profile.revenue) == (2, Decimal("79.90"))  # revenue 0 read as missing: 59.90
    assert profile.first_order_at == datetime(2024, 3, 1, 10, tzinfo=UTC)
    assert (summary.read, summary.applied, summary.rejected_total) == (3, 2, 1)
    nothing_was_sent_or_scheduled(runtime)


def test_an_orders_csv_without_its_columns_is_refused_naming_them(tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text("id,customer,amount\n1,u-1,5\n")
    result = CliRunner().invoke(app, ["import", str(path), "--as-of", AS_OF], env=WIDE)
    assert result.exit_code == 1
    assert "needs the columns order_id, user_id and one of timestamp, created_at, ordered_at, date" in (
        " ".join(result.output.split())
    )
    assert "missing order_id, user_id, a time column" in flat(result.output)


def young_shop() -> list[dict[str, Any]]:
    """Sixty days of a shop's history: regular buyers, buyers who stopped, browsers."""
    events: list[dict[str, Any]] = []
    for i in range(60):
        user, kind = f"s-{i:02d}", ("regular", "lapsed", "browser")[i % 3]
        joined = START - timedelta(days=60 - i % 5, hours=-2)
        events.append(identify(user, f"{user}-id", at=joined, email=f"{user}@shop.test", timezone="UTC"))
        days = range(2 + i % 3, 55, 5) if kind == "regular" else range(30 + i % 7, 55, 6)
        if kind != "browser":
            events += [
                track(
                    user,
                    "Order Completed",
                    f"{user}-o{d}",
                    at=START - timedelta(days=d),
                    order_id=f"{user}-{d}",
                    revenue=40,
                )
                for d in days
            ]
        events.append(
            track(user, "Product Viewed", f"{user}-v", at=START - timedelta(hours=3), category="shoes")
        )
    return events


def test_the_scorer_runs_on_the_imported_profiles_on_day_one(tmp_path: Path) -> None:
    export = write_jsonl(tmp_path / "history.jsonl", young_shop())
    store = tmp_path / "store"

    result = CliRunner().invoke(
        app, ["import", str(export), "--store", str(store), "--as-of", AS_OF, "--score"], env=WIDE
    )

    assert result.exit_code == 0, result.output
    assert "scored 60 profiles (label-free models)" in flat(result.output)
    profiles = read_profiles(store / "profiles.jsonl").profiles
    assert len(profiles) == 60
    regular, lapsed = profiles["s-00"].scores, profiles["s-01"].scores
    assert (
        regular["model_kind"] == "label-free"
        and regular["purchase_propensity"] > lapsed["purchase_propensity"]
    )
    assert (store / "messages.jsonl").read_text() == ""  # nothing was sent, not even a welcome


def test_an_import_does_not_bring_back_an_erased_shopper(
    runtime: LocalRuntime, stack: str, tmp_path: Path
) -> None:
    runtime.publish([identify("u-1", "live-id", email="u1@shop.test")])
    runtime.drain()
    assert runtime.http("DELETE", "/me", user_id="u-1")["statusCode"] == 200
    export = write_jsonl(tmp_path / "export.jsonl", history())

    result = CliRunner().invoke(app, ["import", str(export), "--stack", stack, "--as-of", AS_OF], env=WIDE)

    assert result.exit_code == 0, result.output
    assert runtime.profiles.get("u-1") is None
    assert "of erased shoppers (dropped) 5" in flat(result.output)
    assert runtime.profiles.get("97980cfea0067") is not None
