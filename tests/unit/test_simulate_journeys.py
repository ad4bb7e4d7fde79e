"""``nudge simulate`` runs journeys through the journey engine itself (issue 20): waits are honoured,
the holdout is drawn at entry, and the step jobs are decided like any campaign's."""

from __future__ import annotations

import yaml
from fakes import CAMPAIGNS

from nudge.simulate import SimulationOptions, simulate
from shared.campaigns.loader import Catalog, load_campaign_dir
from shared.campaigns.model import Campaign

OPTIONS = SimulationOptions(users=150, weeks=1, seed=3, warmup_days=7)


def cart_journey(first_wait: str) -> Catalog:
    shipped = load_campaign_dir(CAMPAIGNS)
    data = yaml.safe_load((CAMPAIGNS / "cart-recovery.yaml").read_text())
    journey = shipped.get("cart-recovery")
    assert journey is not None
    steps = [s.model_dump(mode="json", by_alias=True) for s in journey.flow.steps]
    steps[0]["duration"] = first_wait
    data.update(steps=steps)
    data.pop("channels", None)
    return Catalog([Campaign.model_validate(data)], shipped.policy, shipped.custom)


def test_a_journey_sends_its_steps_after_their_waits_and_withholds_its_holdout_at_entry() -> None:
    tally = simulate(cart_journey("1h"), OPTIONS).campaigns["cart-recovery"]
    assert tally.fired > 20
    assert tally.holdout > 0
    assert tally.sent > 0
    # every step job is a send step's: at most three per entry, one withheld decision per held-out entry
    assert tally.in_audience <= 3 * (tally.fired - tally.holdout) + tally.holdout


def test_nothing_is_sent_while_every_shopper_still_waits() -> None:
    tally = simulate(cart_journey("300d"), OPTIONS).campaigns["cart-recovery"]
    assert tally.fired > 20
    assert (tally.sent, tally.wanted, tally.deferred) == (0, 0, 0)
    assert tally.in_audience == tally.holdout > 0  # only the withheld entries' decisions
