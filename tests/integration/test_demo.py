"""`nudge demo` end to end on a small store: the summary is read back from where the system put it."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from fakes import CAMPAIGNS
from typer.testing import CliRunner

from nudge.cli import app
from nudge.local.demo import DemoOptions, run_demo
from nudge.shop.store import StoreConfig
from shared.campaigns.loader import load_campaign_dir
from shared.campaigns.schedules import ScheduleExpression


@pytest.fixture(scope="module")
def summary() -> dict[str, object]:
    return run_demo(load_campaign_dir(CAMPAIGNS), DemoOptions(users=80, days=7, seed=3))


def test_every_generated_event_is_ingested_once_despite_duplicates(summary: dict[str, object]) -> None:
    assert summary["duplicates_injected"] > 0
    caused = summary["orders_caused_by_messages"]
    assert isinstance(caused, int) and caused > 0  # the simulated shoppers answered some messages
    reviews = summary["reviews_caused_by_messages"]
    assert isinstance(reviews, int)
    assert summary["events_ingested"] == summary["events_generated"] + caused + reviews
    assert summary["events_publish_failed"] == 0


def test_the_demo_measures_what_it_sent(
    summary: dict[str, object], tmp_path_factory: pytest.TempPathFactory
) -> None:
    measured = summary["measurement"]
    assert isinstance(measured, dict)
    assert measured["total"]["sent"] == summary["messages_sent"]
    # every caused order followed a message, so each was credited to one (last touch) at most once
    assert (
        0
        < measured["total"]["conversions"]
        <= summary["orders_caused_by_messages"] + summary["events_generated"]
    )
    assert measured["total"]["opened"] > 0 and measured["channels"]["email"]["delivered"] > 0
    assert measured["verdict"]["kind"] in {"Striving", "Steady", "Stellar"}
    assert 1 <= len(measured["verdict"]["recommendations"]) <= 3
    # each level's share of the sends is its own sent count over the total (rounded to 4 decimals)
    by_level = {level: row["sent"] for level, row in measured["levels"].items()}
    assert sum(by_level.values()) == measured["total"]["sent"]
    assert measured["level_mix"] == {
        level: round(sent / measured["total"]["sent"], 4) for level, sent in by_level.items()
    }


def test_every_send_is_recorded_by_its_provider(summary: dict[str, object]) -> None:
    by_channel = summary["messages_by_channel"]
    recorded = summary["provider_recorded"]
    assert isinstance(by_channel, dict) and isinstance(recorded, dict)
    assert summary["messages_sent"] == sum(by_channel.values()) > 0
    assert recorded["ses"] == by_channel["email"]
    assert recorded["sns"] == by_channel["push"]
    assert recorded["inbox"] == by_channel["in_app"]


def test_shards_split_the_store_and_add_up_to_one_run(tmp_path: Path) -> None:
    """Two processes, each a whole system with every other shopper: together the whole store."""
    from nudge.operations import LocalDump
    from nudge.shop.store import SyntheticStore

    store = tmp_path / "store"
    sharded = run_demo(
        load_campaign_dir(CAMPAIGNS), DemoOptions(users=30, days=2, seed=5, shards=2, store_dir=store)
    )
    whole = SyntheticStore(StoreConfig(users=30, days=2, seed=5))
    halves = [SyntheticStore(StoreConfig(users=30, days=2, seed=5, shard=(i, 2))) for i in range(2)]
    assert sorted(s.user_id for h in halves for s in h.shoppers) == sorted(s.user_id for s in whole.shoppers)
    assert sharded["shards"] == 2
    assert sharded["events_generated"] == len(list(whole.events()))
    caused = sharded["orders_caused_by_messages"] + sharded["reviews_caused_by_messages"]  # type: ignore[operator]
    assert sharded["events_ingested"] == sharded["events_generated"] + caused  # type: ignore[operator]
    assert sharded["malformed_injected"] == 5 and len(sharded["dead_letters"]) > 0  # type: ignore[arg-type]
    recorded = sharded["provider_recorded"]
    assert recorded["ses"] == sharded["messages_by_channel"]["email"]  # type: ignore[index]
    # the dump holds both shards' decisions, for `nudge why`
    logged = {m["user_id"] for m in LocalDump(store).send_log()}
    for half in halves:
        assert logged & {s.user_id for s in half.shoppers}


def test_a_store_shard_must_be_one_of_its_shards() -> None:
    with pytest.raises(ValueError, match="shard"):
        StoreConfig(shard=(2, 2))


def test_the_summary_counts_the_aws_requests_the_functions_made(summary: dict[str, object]) -> None:
    requests = summary["aws_requests"]
    assert isinstance(requests, dict)
    by_function = requests["by_function"]
    # every function that ran made requests, and only the runtime's own are apart from them
    assert set(by_function) - {"runtime"} <= set(summary["invocations"])  # type: ignore[arg-type]
    assert by_function["ingest"] > 0 and by_function["deliver"] > 0
    assert requests["by_functions"] == sum(n for who, n in by_function.items() if who != "runtime")
    assert requests["by_runtime"] == by_function["runtime"]
    assert requests["per_event"] == round(requests["by_functions"] / summary["events_ingested"], 2)  # type: ignore[operator]
    assert requests["per_message"] == round(requests["by_functions"] / summary["messages_sent"], 2)  # type: ignore[operator]


def test_batch_and_real_time_campaigns_both_send(summary: dict[str, object]) -> None:
    levels = summary["messages_by_level"]
    assert isinstance(levels, dict)
    assert set(levels) == {"L1", "L2", "L3", "L4"}
    assert levels["L1"] > 0 and levels["L4"] > 0
    # The local runtime fired each batch campaign's schedule at its times in the simulated week.
    start = StoreConfig().start
    fires = [
        t
        for c in load_campaign_dir(CAMPAIGNS)
        if c.schedule is not None and c.enabled
        for t in ScheduleExpression.parse(c.schedule.expression, c.schedule.timezone).occurrences(
            start, start + timedelta(days=7)
        )
    ]
    assert fires and summary["invocations"]["planner"] == len(fires)  # type: ignore[index]


def test_the_daily_scorer_scores_every_profile(summary: dict[str, object]) -> None:
    scores = summary["scores"]
    assert isinstance(scores, dict)
    assert scores["profiles_scored"] > 0
    assert scores["profiles_scored"] + scores["profiles_new_since_last_run"] == summary["profiles"]
    assert scores["model_version"] and scores["rfm_segments"]
    # a week-old store is shorter than the published (synthetic-trained) model needs: label-free scores
    assert scores["model_kind"] == "label-free" and str(scores["model_version"]).startswith("label-free-")
    assert scores["published_model"] and scores["published_model"] != scores["model_version"]
    assert summary["invocations"]["score_planner"] == summary["simulated_days"]  # type: ignore[index]


def test_malformed_events_are_parked_with_their_reasons(summary: dict[str, object]) -> None:
    parked = summary["dead_letters"]
    assert isinstance(parked, dict)
    # Each malformed event is parked by ingest, and by the trigger function when it also matched an L4
    # campaign's rule; every parked message says what was wrong with the detail. A copy the adversary
    # hands to a second invocation while the first still runs is parked by both (SQS at-least-once).
    by_queue = {
        q: sum(n for r, n in parked.items() if r.startswith(f"{q}: ")) for q in ("ingest-dlq", "trigger-dlq")
    }
    assert summary["malformed_injected"] == 5
    assert 5 <= by_queue["ingest-dlq"] <= 5 + summary["hostility"]["redelivered_while_running"]  # type: ignore[index]
    assert sum(by_queue.values()) == sum(parked.values())
    assert all(": detail" in reason for reason in parked)


def test_the_cli_writes_the_summary_as_json(tmp_path: Path) -> None:
    out = tmp_path / "summary.json"
    report = tmp_path / "report.html"
    result = CliRunner().invoke(
        app,
        [
            "demo",
            "--users",
            "20",
            "--days",
            "2",
            "--json",
            str(out),
            "--store",
            str(tmp_path / "store"),
            "--report",
            str(report),
        ],
    )
    assert result.exit_code == 0, result.output
    # The console folds a path longer than its width (80 columns here) inside the path itself, so
    # the line is compared without the breaks it added: a worker's longer tmp_path must not matter.
    assert "".join(f"HTML report: {report.resolve()}".split()) in "".join(result.output.split())
    assert "data-chart=" in report.read_text()
    assert "Verdict:" in result.output
    written = json.loads(out.read_text())
    for key in (
        "events_ingested",
        "profiles",
        "messages_sent",
        "messages_by_channel",
        "messages_by_level",
        "provider_recorded",
    ):
        assert key in written
    assert "events ingested into profiles" in result.output


def test_validate_reports_file_and_line_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("id: x1\nname: X\nlevel: L9\n")
    result = CliRunner().invoke(app, ["validate", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path / 'bad.yaml'}:3: level: Input should be" in result.output


def test_validate_lists_the_shipped_campaigns() -> None:
    result = CliRunner().invoke(app, ["validate", str(CAMPAIGNS)])
    assert result.exit_code == 0
    assert "weekend-sale-sea" in result.output and "order-thank-you" in result.output


@pytest.mark.parametrize(
    "command",
    [
        "demo",
        "validate",
        "schema",
        "audience",
        "preview",
        "simulate",
        "snapshot",
        "bench",
        "report",
        "why",
        "import",
    ],
)
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = CliRunner().invoke(app, [command, "--help"])
    assert result.exit_code == 0
    assert "Example: nudge " in result.output
