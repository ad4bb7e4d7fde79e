"""The marketer's commands: validate, audience, preview, simulate, snapshot (on a small local store)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from fakes import CAMPAIGNS
from typer.testing import CliRunner

from nudge.cli import app

SMALL = ["--users", "80", "--days", "10", "--seed", "7"]
runner = CliRunner()


@pytest.fixture(scope="module")
def snapshot(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("snapshot") / "profiles.jsonl"
    result = runner.invoke(app, ["snapshot", "--out", str(path), *SMALL])
    assert result.exit_code == 0, result.output
    return path


def test_validate_reports_every_problem_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "t.html").write_text("<p>{{ user.first_name }</p>\n")
    (tmp_path / "c.yaml").write_text(
        "id: c-1\nname: C\nlevel: L2\nschedule:\n  expression: cron(0 9 * * MON *)\n"
        "audience:\n  - count(Product Viewed, 7d) >= 3\n  - last(Order Completed) older_tan 60d\n"
        "channels:\n  email:\n    subject: Hi {{ user.nmae }}\n    html_file: templates/t.html\n"
    )
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 4, lines  # every problem at once, in file and line order
    assert lines[0].startswith(f"{tmp_path / 'c.yaml'}:5: schedule.expression: ")
    assert lines[1].startswith(f"{tmp_path / 'c.yaml'}:8: audience.1: ")
    assert "expected an operator" in lines[1]
    assert lines[2:] == [
        f"{tmp_path / 'c.yaml'}:11: channels.email.subject: user.nmae: no shopper can have this "
        "(did you mean user.name?)",
        f"{tmp_path / 'templates' / 't.html'}:1: channels.email.html: template error: unexpected '}}'",
    ]

    fixed = (tmp_path / "c.yaml").read_text().replace("* * MON", "? * MON").replace("older_tan", "older_than")
    (tmp_path / "c.yaml").write_text(fixed.replace("user.nmae", "user.name"))
    (tmp_path / "templates" / "t.html").write_text("<p>{{ user.first_name }}</p>\n")
    result = runner.invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "1 valid campaign(s)" in result.output


def test_audience_shows_the_rule_funnel_and_a_sample(snapshot: Path) -> None:
    result = runner.invoke(
        app, ["audience", "weekend-sale-sea", "--profiles", str(snapshot), "--sample", "3"]
    )
    assert result.exit_code == 0, result.output
    assert "country in [ID, MY, SG, PH]" in result.output and "age between 18 and 34" in result.output
    assert "Sample (3 of" in result.output
    assert "holdout (10%)" in result.output


def test_audience_sizes_agree_with_the_evaluator(snapshot: Path) -> None:
    from nudge.local.snapshot import read_profiles
    from shared.campaigns.loader import load_campaign_dir

    source = read_profiles(snapshot)
    campaign = load_campaign_dir(CAMPAIGNS).get("win-back-lapsed")
    assert campaign is not None
    size = sum(1 for p in source.shoppers() if campaign.parsed_audience.includes(p, source.taken_at))
    result = runner.invoke(app, ["audience", "win-back-lapsed", "--profiles", str(snapshot), "--sample", "0"])
    assert f"Audience: {size:,} shoppers" in result.output


def test_preview_renders_for_one_shopper_and_names_the_fallbacks(snapshot: Path) -> None:
    result = runner.invoke(
        app,
        [
            "preview",
            "weekend-sale-sea",
            "--user",
            "u-000002",
            "--profiles",
            str(snapshot),
            "--channel",
            "email",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Rendered email message" in result.output
    assert "utm_campaign=weekend-sale-sea" in result.output


def test_preview_of_a_real_time_campaign_uses_the_shoppers_latest_triggering_event() -> None:
    from nudge.local.snapshot import local_store

    store = local_store(80, 10, 7)
    buyer = next(e for e in reversed(store.events) if e.event == "Order Completed")
    result = runner.invoke(app, ["preview", "order-thank-you", "--user", buyer.profile_id, *SMALL])
    assert result.exit_code == 0, result.output
    assert buyer.message_id in result.output
    assert str(buyer.properties["order_id"]) in result.output


def test_preview_of_an_unknown_shopper_or_campaign_exits_1(snapshot: Path) -> None:
    result = runner.invoke(
        app, ["preview", "weekend-sale-sea", "--user", "nobody", "--profiles", str(snapshot)]
    )
    assert result.exit_code == 1 and "no shopper 'nobody'" in result.output
    result = runner.invoke(app, ["audience", "weekend-sale", "--profiles", str(snapshot)])
    assert result.exit_code == 1 and "Did you mean 'weekend-sale-sea'?" in result.output


def test_simulate_prints_the_tables_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "sim.json"
    result = runner.invoke(app, ["simulate", "--users", "60", "--weeks", "1", "--json", str(out)])
    assert result.exit_code == 0, result.output
    for title in ("Messages per shopper per week", "By campaign", "By level"):
        assert title in result.output
    written = json.loads(out.read_text())
    assert written["users"] > 0 and written["weeks"] == 1
    assert set(written["campaigns"]) >= {"weekend-sale-sea", "order-thank-you"}
    sent = sum(c["sent"] for c in written["campaigns"].values())
    assert written["per_user_week_sent"]["mean"] == round(sent / written["users"], 2)


WIDE = {"COLUMNS": "200"}  # the facts table on one line each


def test_preview_renders_the_variant_asked_for_or_the_one_the_shopper_draws(
    snapshot: Path, tmp_path: Path
) -> None:
    import shutil

    from shared.experiments.assignment import assign_variant

    folder = tmp_path / "campaigns"
    shutil.copytree(CAMPAIGNS, folder)
    sale = folder / "weekend-sale-sea.yaml"
    sale.write_text(
        sale.read_text()
        + "variants:\n  - {id: forty}\n  - id: free-shipping\n    send_time: {delay: 2h}\n    channels:\n"
        + "      email: {subject: Free shipping all weekend, html: '<p>Free shipping</p>'}\n"
        + "experiment: {mode: winner}\n"
    )
    base = ["preview", "weekend-sale-sea", "--user", "u-000002", "--profiles", str(snapshot)]
    base += ["--channel", "email", "--campaigns", str(folder)]
    drawn = assign_variant("weekend-sale-sea:send", "u-000002", {"forty": 1, "free-shipping": 1})
    result = runner.invoke(app, [*base, "--variant", "free-shipping"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "Free shipping all weekend" in result.output
    assert f"free-shipping (asked for with --variant; the shopper draws {drawn})" in result.output
    # the snapshot is as of 2026-11-10 23:59 UTC: the occurrence then, and the variant 2 hours on
    assert re.search(r"send time +│ 2026-11-11 01:59 UTC \(delay 2h\)", result.output), result.output
    result = runner.invoke(app, [*base, "--variant", "forty"], env=WIDE)
    assert "at the step's moment (the variant has no send time of its own)" in result.output
    result = runner.invoke(app, base, env=WIDE)
    assert f"{drawn} (drawn by the file's weights; the shopper draws {drawn})" in result.output
    assert ("Free shipping all weekend" in result.output) is (drawn == "free-shipping")
    result = runner.invoke(app, [*base, "--variant", "half-off"], env=WIDE)
    assert result.exit_code == 1
    assert "weekend-sale-sea has no variant 'half-off' (variants: forty, free-shipping)" in result.output


def test_preview_shows_the_products_the_scoring_run_would_recommend(snapshot: Path) -> None:
    from nudge.cli.recommended import recommended_for
    from nudge.local.snapshot import read_profiles

    source = read_profiles(snapshot)
    shopper = next(p for p in source.shoppers() if p.activity.products)
    expected, _ = recommended_for(shopper, source.profiles.values())
    assert len(expected) == 10 and not set(expected) & {
        p for p, entry in shopper.activity.products.items() if entry[1] & 4
    }
    result = runner.invoke(
        app, ["preview", "weekend-sale-sea", "--user", shopper.user_id, "--profiles", str(snapshot)]
    )
    assert result.exit_code == 0, result.output
    assert "recommended products" in result.output and expected[0] in result.output


def test_preview_shows_the_catalog_products_a_message_would_carry(tmp_path: Path) -> None:
    import shutil

    from nudge.local.snapshot import local_store

    store = local_store(80, 10, 7)
    viewed = next(e for e in reversed(store.events) if e.event == "Product Viewed")
    product_id = str(viewed.properties["product_id"])
    latest = next(
        e
        for e in reversed(store.events)
        if e.event in ("Product Viewed", "Product Added") and e.properties.get("product_id") == product_id
    )
    campaigns = tmp_path / "campaigns"
    shutil.copytree(CAMPAIGNS, campaigns)
    (campaigns / "viewed-now.yaml").write_text(
        "id: viewed-now\nname: Viewed now\nlevel: L4\ntrigger:\n  event: Product Viewed\n"
        "channels:\n  in_app:\n    title: '{{ event.name }}'\n"
        "    body: 'now {{ event.current_price }} (was {{ event.price }}) {{ product(\"nope\").name }}'\n"
    )
    result = runner.invoke(
        app,
        ["preview", "viewed-now", "--user", viewed.profile_id, "--campaigns", str(campaigns), *SMALL],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 0, result.output
    price = f"{Decimal(str(latest.properties['price'])):.2f}"
    row = next(line for line in result.output.splitlines() if "catalog products shown" in line)
    assert row.split("│")[2].strip() == f"{product_id} ({price} USD)"  # an order line named its currency
    assert f"now {price} (was {viewed.properties['price']})" in result.output


def test_preview_renders_the_recommended_products_a_template_shows() -> None:
    from nudge.cli.recommended import recommended_for
    from nudge.cli.shown_products import EventCatalog
    from nudge.local.snapshot import local_store

    store = local_store(80, 10, 7)
    shopper = store.profiles["u-000042"]
    expected, _ = recommended_for(shopper, store.profiles.values())
    products = EventCatalog(store.events).get_many(expected)
    first = next(products[p] for p in expected if p in products and products[p].in_stock is not False)
    result = runner.invoke(app, ["preview", "l3-win-back-at-risk", "--user", "u-000042", *SMALL])
    assert result.exit_code == 0, result.output
    assert "Picked for you:" in result.output
    assert first.name is not None and first.name.split()[0] in result.output
