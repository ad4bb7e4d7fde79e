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


BIG_CART = {
    "id": "big-cart",
    "name": "Big cart",
    "level": "L2",
    "entry": {"segment": ["cart_value > 100"]},
    "reentry": "never",
    "steps": [
        {"id": "email", "type": "send", "channels": {"email": {"subject": "Cart", "html": "<p>Cart</p>"}}}
    ],
}


def big_cart(**changes: object) -> Catalog:
    shipped = load_campaign_dir(CAMPAIGNS)
    return Catalog([Campaign.model_validate({**BIG_CART, **changes})], shipped.policy, shipped.custom)


def test_segment_entry_is_simulated_where_a_fold_makes_the_shopper_start_matching() -> None:
    # The same decision as ingest's (shared/journeys/segments.py): each shopper whose cart passes 100 enters
    # once (re-entry never), and the send step is decided like any campaign's.
    tally = simulate(big_cart(), OPTIONS).campaigns["big-cart"]
    assert tally.in_audience > 10
    assert tally.in_audience <= 150  # at most one entry per shopper
    assert tally.sent > 0
    never = simulate(big_cart(entry={"segment": ["cart_value > 1000000"]}), OPTIONS).campaigns["big-cart"]
    assert never.in_audience == 0
