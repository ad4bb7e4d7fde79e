"""Measurement on moto: goal events attributed at ingest exactly once, engagement folded into the send
log, and `nudge report` (terminal and HTML, the HTML rendered by headless Chromium)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fakes import START, catalog_without, identify_shopper
from payloads import track
from typer.testing import CliRunner

from nudge.cli import app
from nudge.local.runtime import LocalRuntime
from nudge.local.ses_events import ses_event as local_ses_event
from nudge.local.ses_events import tagged_mail
from nudge.report.build import build_report
from nudge.report.html import render_html
from shared.adapters.dynamo.codec import scan_all
from shared.adapters.dynamo.messages import DynamoConversions
from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.loader import Catalog
from shared.delivery.guards import in_holdout
from shared.ingest.conversions import Attributor
from shared.ingest.ingest import QueueRecord, ingest_batch

SALE = "weekend-sale-sea"  # L1, 10% holdout, goal: Order Completed within 72 h


@pytest.fixture
def catalog() -> Catalog:
    return catalog_without("welcome")


def users(count: int, *, held_out: bool) -> list[str]:
    found = (f"m{i}" for i in range(count * 40))
    return [u for u in found if in_holdout(SALE, u, 10) == held_out][:count]


def deliver_sale(runtime: LocalRuntime, *user_ids: str) -> None:
    jobs = [DeliveryJob.for_occurrence(SALE, "2026-11-02T08:00:00Z", u) for u in user_ids]
    runtime.invoke("deliver", runtime.sqs_event("delivery", (j.model_dump_json() for j in jobs)))


def order(user_id: str, message_id: str, at: datetime, revenue: float = 42.0) -> dict[str, Any]:
    stamp = at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return track(user_id, "Order Completed", message_id, at=stamp, order_id=message_id, revenue=revenue)


def conversions(runtime: LocalRuntime) -> list[dict[str, Any]]:
    return sorted(runtime.scan("conversions"), key=lambda c: (c["user_id"], c["conversion_key"]))


def sent_entry(runtime: LocalRuntime, user_id: str, campaign: str | None = None) -> dict[str, Any]:
    [entry] = [
        e
        for e in runtime.send_log.entries_for(user_id)
        if e["status"] == "sent" and campaign in (None, e["campaign_id"])
    ]
    return entry


def test_an_order_after_a_message_is_attributed_once_even_when_redelivered(runtime: LocalRuntime) -> None:
    [user] = users(1, held_out=False)
    identify_shopper(runtime, user)
    deliver_sale(runtime, user)
    runtime.clock.advance(timedelta(hours=5))
    placed = order(user, "order-1", START + timedelta(hours=5), revenue=99.9)

    runtime.publish([placed, placed])  # EventBridge delivered it twice
    runtime.drain()
    runtime.invoke("ingest", runtime.sqs_event("ingest", [json.dumps({"detail": placed})], receive_count=2))

    [conversion] = conversions(runtime)
    assert conversion["conversion_key"] == f"order-1#{SALE}"
    assert conversion["group"] == "treated"
    assert conversion["attributed"] is True
    assert conversion["revenue"] == 99.9
    assert conversion["channel"] == "email"
    assert conversion["send_key"] == sent_entry(runtime, user, SALE)["send_key"]


def test_withheld_shoppers_are_followed_and_late_orders_are_not_counted(runtime: LocalRuntime) -> None:
    [withheld] = users(1, held_out=True)
    [late] = users(1, held_out=False)
    for user in (withheld, late):
        identify_shopper(runtime, user)
    deliver_sale(runtime, withheld, late)
    assert [e["group"] for e in runtime.send_log.entries_for(withheld)] == ["withheld"]

    runtime.clock.advance(timedelta(hours=73))
    runtime.publish(
        [
            order(withheld, "order-w", START + timedelta(hours=2)),
            order(late, "order-late", START + timedelta(hours=73)),  # outside the 72 h window
        ]
    )
    runtime.drain()

    [conversion] = conversions(runtime)
    assert (conversion["user_id"], conversion["group"], conversion["attributed"]) == (
        withheld,
        "withheld",
        False,
    )


def ses_event(kind: str, user_id: str, message_id: str, at: datetime) -> dict[str, Any]:
    section = {kind.lower(): {"timestamp": at.strftime("%Y-%m-%dT%H:%M:%S.000Z")}}
    return local_ses_event(kind, tagged_mail(user_id, SALE, message_id), time=at.isoformat(), **section)


def test_ses_deliveries_opens_and_clicks_are_folded_into_the_message_once(runtime: LocalRuntime) -> None:
    [user] = users(1, held_out=False)
    identify_shopper(runtime, user)
    deliver_sale(runtime, user)
    provider_id = sent_entry(runtime, user)["provider_message_id"]
    first_open = START + timedelta(hours=1)

    for kind, at in [
        ("Delivery", START + timedelta(minutes=1)),
        ("Open", first_open),
        ("Open", START + timedelta(hours=3)),  # opened again: the first time stays
        ("Click", START + timedelta(hours=3, minutes=1)),
    ]:
        assert runtime.publish_aws_event(ses_event(kind, user, provider_id, at)) == 1

    entry = sent_entry(runtime, user)
    assert entry["delivered_at"] == (START + timedelta(minutes=1)).isoformat()
    assert entry["opened_at"] == first_open.isoformat()
    assert entry["clicked_at"] == (START + timedelta(hours=3, minutes=1)).isoformat()
    # an event for a message Nudge never sent changes nothing and breaks nothing
    runtime.publish_aws_event(ses_event("Open", user, "not-ours", first_open))
    assert runtime.parked() == []


def test_reading_an_in_app_message_marks_it_opened(runtime: LocalRuntime) -> None:
    campaign = "shoes-repeat-viewers"  # push, else in-app: a shopper without the app gets it in-app
    user = next(u for u in (f"r{i}" for i in range(50)) if not in_holdout(campaign, u, 10))
    identify_shopper(runtime, user)
    job = DeliveryJob.for_occurrence(campaign, "2026-11-02T08:00:00Z", user)
    runtime.invoke("deliver", runtime.sqs_event("delivery", [job.model_dump_json()]))
    entry = sent_entry(runtime, user)
    assert entry["channel"] == "in_app"

    runtime.clock.advance(timedelta(minutes=30))
    response = runtime.http("POST", f"/inbox/{entry['provider_message_id']}/read", user_id=user)

    assert response["statusCode"] == 200
    assert sent_entry(runtime, user)["opened_at"] == runtime.clock.now().isoformat()


# -- the report ------------------------------------------------------------------------------------


@pytest.fixture
def measured_store(runtime: LocalRuntime, tmp_path: Path) -> Path:
    treated, withheld = users(6, held_out=False), users(2, held_out=True)
    for user in treated + withheld:
        identify_shopper(runtime, user)
    deliver_sale(runtime, *treated, *withheld)
    runtime.clock.advance(timedelta(hours=6))
    runtime.publish([order(u, f"o-{u}", START + timedelta(hours=5)) for u in treated[:3] + withheld[:1]])
    runtime.drain()
    runtime.snapshot(tmp_path / "store")
    return tmp_path / "store"


def test_nudge_report_reads_the_store_and_writes_html(measured_store: Path, tmp_path: Path) -> None:
    html, figures = tmp_path / "report.html", tmp_path / "report.json"
    result = CliRunner().invoke(
        app,
        ["report", "--store", str(measured_store), "--html", str(html), "--json", str(figures)],
        env={"COLUMNS": "200"},
    )

    assert result.exit_code == 0, result.output
    assert "Verdict: Striving" in result.output  # only an L1 campaign sent
    data = json.loads(figures.read_text())
    sale = data["campaigns"][SALE]
    assert (sale["sent"], sale["withheld"], sale["conversions"], sale["revenue"]) == (6, 2, 3, 126.0)
    assert sale["uplift"]["treated_rate"] == 0.5 and sale["uplift"]["withheld_rate"] == 0.5
    assert sale["uplift"]["verdict"] == "too few to tell"
    # the three orders each triggered a thank-you (L4), which must not count for the goal it followed
    assert data["level_mix"] == {"L1": 0.6, "L2": 0.0, "L3": 0.0, "L4": 0.4}
    assert data["campaigns"]["order-thank-you"]["conversions"] == 0
    assert "Verdict: Striving" in html.read_text()


def test_report_rejects_a_bad_since_date(measured_store: Path) -> None:
    result = CliRunner().invoke(app, ["report", "--store", str(measured_store), "--since", "last tuesday"])
    assert result.exit_code != 0
    assert "--since" in result.output and "last tuesday" in result.output


# -- the HTML in a real browser ---------------------------------------------------------------------


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail("headless Chromium is needed for the report render test: `make test` installs it")
    return found


def render_in_chromium(page: Path, tmp_path: Path, *extra: str) -> str:
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        "--window-size=1200,2400",
        *extra,
        page.as_uri(),
    ]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)}
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def demo_like_report() -> Any:
    """Two weeks of sends on all levels, with holdouts and conversions: every chart has marks."""
    messages, conversions = [], []
    levels = {"sale": "L1", "browse": "L2", "churn": "L3", "cart": "L4"}
    for day in range(14):
        for n in range(40):
            user = f"u{n}"
            for campaign, level in levels.items():
                if (n + day) % 4 != list(levels).index(campaign):
                    continue
                at = datetime(2026, 11, 2, 9, tzinfo=UTC) + timedelta(days=day, minutes=n)
                status = "withheld_holdout" if n % 10 == 0 else "sent"
                messages.append(
                    {
                        "user_id": user,
                        "send_key": f"{campaign}#{day}#{user}",
                        "campaign_id": campaign,
                        "level": level,
                        "status": status,
                        "group": "withheld" if status != "sent" else "treated",
                        "channel": "email" if status == "sent" else None,
                        "at": at.isoformat(),
                    }
                )
                if n % 3 == 0:
                    conversions.append(
                        {
                            "user_id": user,
                            "campaign_id": campaign,
                            "level": level,
                            "group": "withheld" if status != "sent" else "treated",
                            "channel": "email",
                            "decided_at": at.isoformat(),
                            "converted_at": (at + timedelta(hours=2)).isoformat(),
                            "revenue": 25.0,
                            "attributed": status == "sent",
                        }
                    )
    return build_report(messages, conversions)


def test_the_html_report_renders_its_charts_in_headless_chromium(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_html(demo_like_report()))

    dom = render_in_chromium(page, tmp_path, "--dump-dom")

    assert 'data-charts-rendered="4/4"' in dom, "a chart drew nothing or was laid out too small"
    rendered = dict(re.findall(r'data-chart="(\w+)"[^>]*data-rendered="(\d+)"', dom))
    assert set(rendered) == {"sends", "conversions", "frequency", "uplift"}
    assert int(rendered["sends"]) >= 14  # at least one bar segment a day
    assert int(rendered["uplift"]) == 2 * 4  # an interval and a point per campaign

    shot = tmp_path / "report.png"
    render_in_chromium(page, tmp_path, f"--screenshot={shot}", "--hide-scrollbars")
    assert shot.stat().st_size > 50_000  # a page of charts, not a blank one (a blank PNG is ~10 KB)


def test_a_deployed_stack_is_read_by_scanning_its_tables(measured_store: Path, runtime: LocalRuntime) -> None:
    messages = scan_all(runtime.client("dynamodb"), runtime.table_names["messages"])
    conversions_found = scan_all(runtime.client("dynamodb"), runtime.table_names["conversions"])

    from_stack = build_report(messages, conversions_found).to_dict()
    local = json.loads(
        json.dumps(
            build_report(
                *(
                    [json.loads(line) for line in (measured_store / f"{t}.jsonl").read_text().splitlines()]
                    for t in ("messages", "conversions")
                )
            ).to_dict()
        )
    )
    assert from_stack["campaigns"] == local["campaigns"]
    assert from_stack["total"]["conversions"] == 3


def test_ingest_reports_only_the_conversions_it_newly_recorded(runtime: LocalRuntime) -> None:
    [user] = users(1, held_out=False)
    identify_shopper(runtime, user)
    deliver_sale(runtime, user)
    runtime.clock.advance(timedelta(hours=1))
    body = json.dumps({"detail": order(user, "order-x", START + timedelta(hours=1), revenue=7.5)})
    attributor = Attributor(
        runtime.catalog,
        runtime.send_log,
        DynamoConversions(runtime.client("dynamodb"), runtime.table_names["conversions"]),
    )
    ports = runtime._ports["ingest"]

    first = ingest_batch(
        [QueueRecord("r1", body)], ports.profiles, ports.dead_letters, runtime.clock, attributor
    )
    again = ingest_batch(
        [QueueRecord("r1", body, 2)], ports.profiles, ports.dead_letters, runtime.clock, attributor
    )

    assert [(c.campaign_id, c.revenue) for c in first.conversions] == [(SALE, 7.5)]
    assert again.conversions == [] and again.duplicates == 1


def test_a_refund_nets_the_credited_revenue_of_its_order_once_and_a_cancellation_uncounts_it(
    runtime: LocalRuntime,
) -> None:
    """Issue 19: the order's refund names it by order_id (Segment's Order Refunded); the conversion keeps
    what the order brought in and the report counts the net."""
    buyer, canceller = users(2, held_out=False)
    for user in (buyer, canceller):
        identify_shopper(runtime, user)
    deliver_sale(runtime, buyer, canceller)
    runtime.clock.advance(timedelta(hours=5))
    placed = START + timedelta(hours=5)
    runtime.publish([order(buyer, "order-b", placed, revenue=60.0), order(canceller, "order-c", placed)])
    runtime.drain()
    runtime.clock.advance(timedelta(days=2))
    refund = track(buyer, "Order Refunded", "refund-b1", order_id="order-b", total=25, currency="USD")
    cancel = track(canceller, "Order Cancelled", "cancel-c1", order_id="order-c", total=42, revenue=42)

    runtime.publish([refund, refund, cancel])  # the refund delivered twice
    runtime.drain()
    runtime.publish([refund])  # ... and again later
    runtime.drain()

    by_user = {c["user_id"]: c for c in conversions(runtime)}
    assert by_user[buyer]["revenue"] == 35.0
    assert by_user[buyer]["gross_revenue"] == 60.0
    assert by_user[buyer]["refunds"] == {"refund-b1": 25.0}
    assert by_user[buyer]["order_id"] == "order-b"
    assert (by_user[canceller]["revenue"], by_user[canceller]["cancelled"]) == (0.0, True)
    report = build_report(runtime.scan("messages"), runtime.scan("conversions"))
    assert (report.campaigns[SALE].conversions, report.campaigns[SALE].revenue) == (1, 35.0)
    profile = runtime.profiles.get(buyer)
    assert profile is not None and profile.revenue == Decimal("35.00")
