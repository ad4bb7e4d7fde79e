"""Experiments on the demo's known truth: the demo's shoppers convert with a known lift per message, and
the responder multiplies it for one variant (``ResponseModel.variant_lift``). A small demo run through
the whole system on moto (delivery draws and logs the variant, attribution follows the conversions) must
give a report whose variant table finds the truly better variant, and whose counts make the experiment's
``winner`` review pick it."""

from __future__ import annotations

from datetime import UTC, datetime

import fakes
import pytest

from nudge.local.demo import DemoOptions, run_demo
from nudge.local.responses import ResponseModel
from nudge.report.model import Report
from shared.campaigns.loader import Catalog, load_campaign_dir
from shared.campaigns.variants import Experiment, ExperimentMode
from shared.core.vocabulary import Level
from shared.experiments.review import ExperimentState, review
from shared.experiments.sequential import Arm

OFFER = {
    "email": {"subject": "Our offer", "html": "<p>Offer</p>"},
    "in_app": {"title": "Offer", "body": "Offer"},
}
BETTER = {"email": {"subject": "A better offer", "html": "<p>A better offer</p>"}}
VARIANTS = [{"id": "plain"}, {"id": "better", "channels": BETTER}]
TRUTH = ResponseModel(
    conversion_lift={Level.L1: 0.08, Level.L2: 0.0, Level.L3: 0.0, Level.L4: 0.0},
    variant_lift={"daily-offer:better": 3.0},  # 8% against 24%: the known truth
)


@pytest.fixture(scope="module")
def reported() -> Report:
    shipped = load_campaign_dir(fakes.CAMPAIGNS)
    offer = fakes.daily("daily-offer", 12, OFFER, variants=VARIANTS, experiment={"mode": "winner"})
    found: list[Report] = []
    run_demo(
        Catalog([offer], shipped.policy),
        DemoOptions(users=200, days=7, seed=3, gentle=True, responses=TRUTH),
        reported=found.append,
    )
    return found[0]


def test_the_variant_table_finds_the_truly_better_variant(reported: Report) -> None:
    table = reported.variants["daily-offer"]
    plain, better = table["plain"], table["better"]
    assert (plain.sent, plain.conversions, better.sent, better.conversions) == (190, 21, 200, 51)
    assert better.rate > plain.rate  # 25.5% against 11.1% (the shop's own orders included)
    assert better.probability_best == pytest.approx(0.9997, abs=1e-4)


def test_the_winner_review_on_the_demos_counts_picks_it(reported: Report) -> None:
    table = reported.variants["daily-offer"]
    arms = {v: Arm(r.sent, r.conversions) for v, r in table.items()}
    # tuned to the size of difference the truth makes (16 points); the default 0.02 finds it only later
    experiment = Experiment(mode=ExperimentMode.WINNER, min_sample=50, effect=0.1)
    state = ExperimentState("daily-offer:send", datetime(2026, 11, 2, tzinfo=UTC), {"plain": 1, "better": 1})
    decided = review(state, experiment, arms, datetime(2026, 11, 9, tzinfo=UTC))
    assert decided.winner == "better"
    assert decided.history[-1].evidence["p_values"]["better|plain"] == pytest.approx(0.007863, abs=1e-6)
