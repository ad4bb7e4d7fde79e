"""The daily scoring run on moto: census, fan-out, scores written without clobbering ingest."""

from __future__ import annotations

import csv
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes import START
from payloads import identify, track
from typer.testing import CliRunner

from nudge.cli import app
from nudge.local.runtime import LocalRuntime
from nudge.predictions.datasets import synthetic_events
from nudge.predictions.evaluate import LABEL_FREE, Dataset, evaluate, markdown
from nudge.predictions.horizon_evaluation import SCORER
from nudge.predictions.offline import COLUMNS
from shared.adapters.dynamo.models import DynamoModelRegistry
from shared.deployment.invocations import SCORING_SCHEDULE
from shared.predictions.model import ModelArtefact
from shared.predictions.runs import ScoreTask

MODEL = Path(__file__).resolve().parents[2] / "models" / "scoring-model.json"
RUN = "2026-11-03T02:00:00Z"


def _order(user: str, n: int, days_before: int, category: str = "shoes") -> dict[str, Any]:
    products = [{"product_id": "p", "category": category}]
    at = START - timedelta(days=days_before)
    return track(user, "Order Completed", f"{user}-order-{n}", at, revenue=20 + 10 * n, products=products)


def _identify(user: str, days_before: int = 120) -> dict[str, Any]:
    """Identified 120 days ago by default: a history as long as the published model needs (104 days)."""
    at = START - timedelta(days=days_before)
    return identify(user, f"{user}-id", at, timezone="Asia/Jakarta", email=f"{user}@example.com")


@pytest.fixture
def shop(runtime: LocalRuntime) -> LocalRuntime:
    events = []
    for i in range(12):
        user = f"u-{i}"
        events.append(_identify(user))
        events += [_order(user, n, days_before=5 + 7 * n + 3 * i) for n in range(i % 4 + 1)]
    events.append(
        {"type": "page", "anonymousId": "visitor", "messageId": "pg-1", "timestamp": START.isoformat()}
    )
    runtime.publish(events)
    runtime.drain()
    runtime.publish_model(MODEL.read_text())
    return runtime


def test_a_run_scores_every_profile_and_bumps_its_version(shop: LocalRuntime) -> None:
    before = {p.user_id: p.version for p in shop.all_profiles()}
    shop.invoke("score_planner", {"run": RUN})
    shop.drain()
    profiles = {p.user_id: p for p in shop.all_profiles()}
    assert set(profiles) == set(before)
    version = ModelArtefact.model_validate_json(MODEL.read_text()).version
    for user_id, profile in profiles.items():
        assert profile.version == before[user_id] + 1, user_id
        assert profile.scores["model_version"] == version and profile.scores["model_kind"] == "trained"
        assert profile.scores["scored_at"].startswith("2026-11-03T02:00")
        assert 0 <= profile.scores["purchase_propensity"] <= 1
    buyer = profiles["u-3"]
    assert buyer.scores["rfm"]["frequency"] == 4 and 1 <= buyer.scores["rfm"]["r"] <= 5
    assert 0 <= buyer.scores["churn_risk"] <= 1 and buyer.scores["expected_orders"] >= 0
    assert buyer.scores["favourite_category"] == "shoes"
    assert (
        "rfm" not in profiles["anon:visitor"].scores and "churn_risk" not in profiles["anon:visitor"].scores
    )
    segments = {p.scores["rfm"]["segment"] for p in profiles.values() if "rfm" in p.scores}
    assert len(segments) >= 3  # quintiles over the whole base spread the buyers out
    assert not shop.parked()


def test_a_second_run_the_same_day_writes_nothing(shop: LocalRuntime) -> None:
    shop.invoke("score_planner", {"run": RUN})
    shop.drain()
    after_first = {p.user_id: p.version for p in shop.all_profiles()}
    shop.invoke("score_planner", {"run": RUN.replace("02:00", "03:00")})
    shop.drain()
    assert {p.user_id: p.version for p in shop.all_profiles()} == after_first


def test_the_census_fans_out_once_even_when_a_task_is_redelivered(shop: LocalRuntime) -> None:
    registry: DynamoModelRegistry = shop.models
    assert [registry.complete_census("r1", s, 3) for s in (0, 1, 1, 2, 2)] == [
        False,
        False,
        False,
        True,
        False,
    ]


def test_a_scheduled_run_goes_through_the_runtime(shop: LocalRuntime) -> None:
    assert SCORING_SCHEDULE.payload(RUN) == {"run": RUN}
    shop.advance_to(START + timedelta(days=1))
    assert shop.invocations.get("score_planner") == 1
    assert all(p.scores for p in shop.all_profiles())


def test_the_scorer_never_overwrites_an_ingest_write(shop: LocalRuntime) -> None:
    """GIVEN the scorer read a profile, WHEN ingest writes it before the scorer does, THEN the scorer's
    conditional update fails and it re-reads; and ingest, holding the pre-score version, must re-read too."""
    store = shop.profiles
    stale = store.get("u-2")
    assert stale is not None
    shop.publish([_order("u-2", 9, days_before=0)])
    shop.drain()
    assert store.write_scores("u-2", {"purchase_propensity": 0.5}, stale.version) is False
    fresh = store.get("u-2")
    assert fresh is not None and fresh.orders == stale.orders + 1

    worker = shop._ports["scorer"].worker
    model = worker.models.latest()
    assert model is not None
    from shared.predictions.scoring import Population

    population = Population.from_dict({"rfm_edges": model.rfm_edges.to_dict(), "hours": [1.0] * 24})
    assert worker._write(stale, model, population, START) == "written"
    scored = store.get("u-2")
    assert scored is not None and scored.orders == fresh.orders and scored.version == fresh.version + 1
    assert scored.scores["rfm"]["frequency"] == fresh.orders  # scored what ingest wrote, not the stale copy
    assert store.save(fresh) is False  # an ingest holding the pre-score version re-reads and keeps the scores


def test_a_score_task_without_statistics_is_parked(shop: LocalRuntime) -> None:
    version = ModelArtefact.model_validate_json(MODEL.read_text()).version
    task = ScoreTask(run_id=RUN, phase="score", segment=0, total_segments=1, model_version=version)
    shop.invoke("scorer", shop.sqs_event("score", [task.model_dump_json()], receive_count=1))
    assert any(p.queue == "score-dlq" and "population" in p.reason for p in shop.parked())


def test_nudge_score_writes_one_row_per_shopper_from_events_up_to_the_date(tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    payloads = list(synthetic_events(60, 75, seed=3))
    events.write_text("\n".join(json.dumps(e) for e in payloads) + "\n{not json}\n")
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(
        app,
        [
            "score",
            "--events",
            str(events),
            "--as-of",
            "2026-12-31",
            "--horizon-days",
            "30",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(out.open()))
    assert tuple(rows[0]) == COLUMNS
    known = {e.get("userId") or f"anon:{e['anonymousId']}" for e in payloads if e["timestamp"] < "2027-01-01"}
    assert {r["user_id"] for r in rows} == known
    buyers = [r for r in rows if r["rfm_segment"]]
    assert buyers and all(1 <= int(r["r"]) <= 5 and 0 <= float(r["churn_risk"]) <= 1 for r in buyers)
    assert all(r["churn_risk"] == "" for r in rows if not r["rfm_segment"])
    assert all(0 <= float(r["purchase_propensity"]) <= 1 for r in rows)


def test_the_evaluation_beats_chance_on_a_small_store() -> None:
    dataset = Dataset(
        "small",
        "test store",
        lambda: synthetic_events(150, 100, seed=5),
        START + timedelta(days=60),
        horizon_days=30,
    )
    result = evaluate(dataset)
    models = {(r.population, r.model): r for r in result.rows}
    assert set(models) == {
        ("buyers", "BG/NBD"),
        ("buyers", SCORER),
        ("all shoppers", SCORER),
        ("buyers", LABEL_FREE),
        ("all shoppers", LABEL_FREE),
    }
    for row in models.values():
        assert row.auc_30 > 0.6 and 0 <= row.brier_30 < row.base_rate_30
    assert result.categories["shoppers"] > 0 and result.send_hour["shoppers"] > 0
    assert result.label_free.fit["buyers_sampled"] == models[("buyers", LABEL_FREE)].customers
    assert "label-free BG/NBD (scorer's fit)" in markdown([result])


def test_a_store_too_young_to_train_is_evaluated_on_the_label_free_models_alone() -> None:
    dataset = Dataset(
        "young", "test store", lambda: synthetic_events(150, 60, seed=5), START + timedelta(days=25), 30
    )
    result = evaluate(dataset)
    assert result.artefact is None and result.untrained_reason is not None
    assert "need at least 44 days" in result.untrained_reason
    assert {(r.population, r.model) for r in result.rows} == {
        ("buyers", LABEL_FREE),
        ("all shoppers", LABEL_FREE),
    }
    for row in result.rows:
        assert row.auc_30 > 0.6 and 0 <= row.brier_30 < row.base_rate_30
    assert f"No model can be trained: {result.untrained_reason}" in markdown([result])
