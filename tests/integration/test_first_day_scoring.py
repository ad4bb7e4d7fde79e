"""L3 on the first day: a fresh stack with no trained model (or one its short history does not fit)
scores every profile with the label-free models, and the L3 campaigns reach shoppers.

Real handlers on moto through the local runtime: score_planner → score queue → scorer (census, fit,
scoring), then planner → audience → deliver for the two L3 campaigns.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes import CAMPAIGNS, START
from moto import mock_aws
from payloads import identify, track
from typer.testing import CliRunner

from nudge.cli import app
from nudge.local.runtime import LocalRuntime
from shared.campaigns.loader import Catalog, load_campaign_dir
from shared.core.clock import SimulatedClock
from shared.predictions.label_free import LabelFreeArtefact
from shared.predictions.model import ModelArtefact
from shared.predictions.runs import NO_TRAINED_MODEL

MODEL = Path(__file__).resolve().parents[2] / "models" / "scoring-model.json"
L3 = ("l3-champions-early-access", "l3-win-back-at-risk")
RUN = "2026-11-03T02:00:00Z"
HOUR = 10  # every shopper lives in UTC and engages at 10:00, so 10 is everyone's best send hour


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def logs() -> Iterator[Records]:
    """What the scoring functions log, as the records their Powertools loggers emit."""
    records = Records()
    names = ("nudge-score-planner", "nudge-scorer")
    for name in names:
        logging.getLogger(name).addHandler(records)
    yield records
    for name in names:
        logging.getLogger(name).removeHandler(records)


@pytest.fixture
def fresh() -> Iterator[LocalRuntime]:
    """A new stack whose only campaigns are the two L3 ones; the models table is empty."""
    full = load_campaign_dir(CAMPAIGNS)
    catalog = Catalog([c for c in full if c.id in L3], full.policy, full.custom)
    with mock_aws():
        yield LocalRuntime(catalog, SimulatedClock(START), audience_segments=3, log_level="INFO")


def _at(days_before: int) -> str:
    moment = (START - timedelta(days=days_before)).replace(hour=HOUR, minute=0)
    return moment.isoformat().replace("+00:00", "Z")


def _orders(user: str, days_before: list[int], revenue: float) -> list[dict[str, Any]]:
    return [
        track(
            user,
            "Order Completed",
            f"{user}-order-{d}",
            at=_at(d),
            revenue=revenue,
            products=[{"product_id": "p1", "category": "shoes"}],
        )
        for d in days_before
    ]


def young_shop(runtime: LocalRuntime, history_days: int = 60) -> dict[str, list[str]]:
    """A shop open for ``history_days``: regulars still ordering every few days, regulars who stopped
    a month ago, one-time buyers spread over the period, and browsers who never ordered."""
    events: list[dict[str, Any]] = []
    groups: dict[str, list[str]] = {"regular": [], "lapsed": [], "once": [], "browser": []}
    for i in range(80):
        kind = ("regular", "lapsed", "once", "once", "browser")[i % 5]
        user = f"{kind}-{i:03d}"
        groups[kind].append(user)
        joined = history_days - i % 5
        events.append(
            identify(
                user,
                f"{user}-id",
                at=_at(joined),
                email=f"{user}@shop.test",
                first_name="Sam",
                timezone="UTC",
                consent={"email": True},
            )
        )
        if kind == "regular":
            events += _orders(user, list(range(1 + i % 3, joined, 5)), revenue=120.0)
        elif kind == "lapsed":
            events += _orders(user, list(range(30 + i % 7, joined, 5)), revenue=110.0)
        elif kind == "once":
            events += _orders(user, [1 + (i * 7) % (joined - 1)], revenue=25.0)
        events.append(track(user, "Product Viewed", f"{user}-view", at=_at(0), category="shoes"))
    runtime.publish(events)
    runtime.drain()
    return groups


def _messages(runtime: LocalRuntime, campaign: str) -> dict[str, str]:
    return {m["user_id"]: m["status"] for m in runtime.scan("messages") if m["campaign_id"] == campaign}


def test_a_fresh_stack_scores_everyone_with_label_free_models_and_l3_campaigns_reach_shoppers(
    fresh: LocalRuntime, logs: Records
) -> None:
    groups = young_shop(fresh)
    before = {p.user_id: p.version for p in fresh.all_profiles()}

    result = fresh.invoke("score_planner", {"run": RUN})
    fresh.drain()

    assert result["segments"] == 4 and result["trained_model"] is None
    warnings = [r for r in logs.records if r.name == "nudge-score-planner" and r.levelno == logging.WARNING]
    assert [r.getMessage() for r in warnings] == [NO_TRAINED_MODEL]
    profiles = {p.user_id: p for p in fresh.all_profiles()}
    assert {u: p.version for u, p in profiles.items()} == {u: v + 1 for u, v in before.items()}
    versions = {p.scores["model_version"] for p in profiles.values()}
    assert len(versions) == 1
    (version,) = versions
    assert version.startswith("label-free-20261103T020000-")
    fitted = LabelFreeArtefact.model_validate_json(fresh.models.get(version) or "")
    assert fitted.reason == "no trained model published" and fitted.bgnbd is not None
    assert fitted.fit["buyers"] == fitted.fit["buyers_sampled"] == 64 and fitted.fit["profiles"] == 80
    assert fitted.fit["history_days"] == 60  # first identify 60 days 16 hours before the run
    for user, profile in profiles.items():
        assert profile.scores["model_kind"] == "label-free", user
        if user.startswith("browser"):
            assert "purchase_propensity" not in profile.scores and profile.scores["provenance"] == {}
        else:
            assert profile.scores["provenance"]["purchase_propensity"] == "bgnbd", user
            assert 0 <= profile.scores["purchase_propensity"] <= 1
    regular = [profiles[u].scores["purchase_propensity"] for u in groups["regular"]]
    lapsed = [profiles[u].scores["churn_risk"] for u in groups["lapsed"]]
    assert min(regular) > max(profiles[u].scores["purchase_propensity"] for u in groups["lapsed"])
    assert min(lapsed) > max(profiles[u].scores["churn_risk"] for u in groups["regular"])
    census = [r for r in logs.records if r.name == "nudge-scorer" and "census complete" in r.getMessage()]
    assert len(census) == 1 and "label-free" in census[0].getMessage()
    assert census[0].__dict__["model_version"] == version

    thursday = datetime(2026, 11, 5, 9, tzinfo=UTC)
    fresh.clock.advance_to(thursday)
    fresh.invoke("planner", {"campaign_id": L3[0], "occurrence": "2026-11-05T09:00:00Z"})
    fresh.drain()
    tuesday = datetime(2026, 11, 10, HOUR, tzinfo=UTC)  # the second Tuesday, at everyone's best hour
    fresh.clock.advance_to(tuesday)
    fresh.invoke("planner", {"campaign_id": L3[1], "occurrence": "2026-11-10T10:00:00Z"})
    fresh.drain()

    early, win_back = _messages(fresh, L3[0]), _messages(fresh, L3[1])
    assert {u for u, s in early.items() if s == "sent"}, early
    assert {u for u, s in win_back.items() if s == "sent"} & set(groups["lapsed"]), win_back
    assert set(early) <= set(groups["regular"])
    assert not set(win_back) & {*groups["regular"], *groups["browser"]}
    assert not fresh.parked()


def test_a_published_model_the_history_is_too_short_for_gives_way_to_the_label_free_models(
    fresh: LocalRuntime, logs: Records
) -> None:
    young_shop(fresh, history_days=60)
    trained = ModelArtefact.model_validate_json(MODEL.read_text())
    fresh.publish_model(MODEL.read_text())

    result = fresh.invoke("score_planner", {"run": RUN})
    fresh.drain()

    assert result["trained_model"] == trained.version
    kinds = {p.scores["model_kind"] for p in fresh.all_profiles()}
    assert kinds == {"label-free"}
    (version,) = {p.scores["model_version"] for p in fresh.all_profiles()}
    fitted = LabelFreeArtefact.model_validate_json(fresh.models.get(version) or "")
    assert fitted.reason == (
        f"the shop's history (60 days) is shorter than the {trained.history_days_needed} days "
        f"trained model {trained.version} needs"
    )
    assert (fitted.propensity_horizon_days, fitted.horizon_days) == (30, trained.horizon_days)
    assert not any(r.levelno >= logging.WARNING for r in logs.records if r.name == "nudge-score-planner")


def test_the_hint_names_a_command_that_exists() -> None:
    """The no-model hint once named `nudge train --publish`, a flag that never existed."""
    assert "nudge train --events" in NO_TRAINED_MODEL and "--publish-table" in NO_TRAINED_MODEL
    flags = [word.strip("`") for word in NO_TRAINED_MODEL.split() if word.startswith("--")]
    help_text = CliRunner().invoke(app, ["train", "--help"], terminal_width=200).output
    for flag in flags:
        assert flag in help_text, flag
    assert "--publish " not in help_text.replace("--publish-table", "")


def _export(path: Path, first: datetime, buyers: int = 40) -> Path:
    """A small shop's event export whose first event is at ``first``: buyers ordering every 9 to 40 days."""
    lines = []
    for i in range(buyers):
        user, start = f"s-{i:03d}", first + timedelta(days=i % 11)
        lines.append(identify(user, f"{user}-id", at=start.isoformat().replace("+00:00", "Z")))
        for n in range(i % 5 + 1):
            at = start + timedelta(days=1 + n * (9 + i % 31))
            lines.append(track(user, "Order Completed", f"{user}-o{n}", at=at.isoformat(), revenue=30 + i))
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


def test_nudge_score_falls_back_instead_of_refusing_a_history_one_day_too_short(tmp_path: Path) -> None:
    """272 days of history and a 273-day horizon: training needs 287 days; this once exited 1."""
    events = _export(tmp_path / "events.jsonl", datetime(2026, 4, 3, tzinfo=UTC))
    out = tmp_path / "scores.csv"
    args = ["score", "--events", str(events), "--as-of", "2026-12-31", "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--horizon-days", "273"], terminal_width=200)

    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # as one line, whatever the terminal's width
    assert "label-free models" in said
    assert "the history (272 days) is shorter than the 287 days training a 273-day model needs" in said
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 40 and {r["model_kind"] for r in rows} == {"label-free"}
    assert all(0 < float(r["purchase_propensity"]) < 1 and r["rfm_segment"] for r in rows)


def test_nudge_score_with_a_model_the_history_is_too_short_for_uses_the_label_free_models(
    tmp_path: Path,
) -> None:
    events = _export(tmp_path / "events.jsonl", datetime(2026, 11, 1, tzinfo=UTC))
    out = tmp_path / "scores.csv"
    trained = ModelArtefact.model_validate_json(MODEL.read_text())
    args = [
        "score",
        "--events",
        str(events),
        "--as-of",
        "2026-12-31",
        "--out",
        str(out),
        "--model",
        str(MODEL),
    ]
    result = CliRunner().invoke(app, args, terminal_width=300)

    assert result.exit_code == 0, result.output
    assert f"shorter than the 104 days model {trained.version} needs" in " ".join(result.output.split())
    assert {r["model_kind"] for r in csv.DictReader(out.open())} == {"label-free"}
