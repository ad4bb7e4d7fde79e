"""Delivery's one decision with an experiment and the global control group: the program's control
withholds every marketing message before the campaign's holdout (a transactional campaign still reaches
it); the treated group draws a variant by hash, whose content and channel order decide the channel."""

from __future__ import annotations

from collections import Counter
from typing import Any

from test_decision import NOON, POLICY, campaign, decided, job, shopper

from shared.campaigns.policy import DeliveryPolicy
from shared.delivery.decision import Decision, decide
from shared.delivery.guards import in_holdout
from shared.experiments.assignment import assign_variant, in_global_control
from shared.profiles.ledger import Ledger

CONTROL = next(f"u{n}" for n in range(1000) if in_global_control(f"u{n}", 5))
OUTSIDE = next(f"u{n}" for n in range(1000) if not in_global_control(f"u{n}", 5))
WITH_CONTROL = POLICY.model_copy(update={"global_control_percent": 5.0})
VARIANTS: list[dict[str, Any]] = [
    {"id": "email-first", "weight": 1},
    {"id": "push-first", "weight": 1, "channel_preference": ["push", "email"]},
]


def test_the_global_control_is_withheld_before_the_campaigns_holdout() -> None:
    held = campaign("email", holdout_percent=50)
    decision = decide(job(CONTROL), held, shopper(CONTROL), Ledger(CONTROL), WITH_CONTROL, NOON)
    assert decision == Decision("withheld_global_control", "global control 5%", group="global_control")
    outside = decide(job(OUTSIDE), held, shopper(OUTSIDE), Ledger(OUTSIDE), WITH_CONTROL, NOON)
    assert outside.status == ("withheld_holdout" if in_holdout("spring-sale", OUTSIDE, 50) else "sent")


def test_a_transactional_campaign_reaches_the_global_control() -> None:
    thanks = campaign("email", transactional=True)
    decision = decide(job(CONTROL), thanks, shopper(CONTROL), Ledger(CONTROL), WITH_CONTROL, NOON)
    assert (decision.status, decision.channel, decision.group) == ("sent", "email", "treated")


def test_without_a_global_control_share_nobody_is_in_it() -> None:
    assert DeliveryPolicy().global_control_percent == 0
    assert decided(campaign("email"), shopper(CONTROL)).status == "sent"


def test_the_treated_shopper_draws_a_variant_whose_channel_order_decides() -> None:
    tested = campaign("email", "push", variants=VARIANTS)
    drawn = {}
    for n in range(40):
        user = f"u{n}"
        decision = decided(tested, shopper(user))
        expected = assign_variant("spring-sale:send", user, {"email-first": 1, "push-first": 1})
        assert decision.variant == expected
        assert decision.channel == ("email" if expected == "email-first" else "push")
        drawn[user] = decision.variant
    assert Counter(drawn.values()) == {"email-first": 20, "push-first": 20}
    assert decided(tested, shopper("u0")).variant == drawn["u0"]  # the same every time


def test_the_experiments_weights_replace_the_files() -> None:
    tested = campaign("email", "push", variants=VARIANTS)
    won = {"email-first": 0.0, "push-first": 1.0}
    decisions = [
        decide(job(f"u{n}"), tested, shopper(f"u{n}"), Ledger(f"u{n}"), POLICY, NOON, won) for n in range(30)
    ]
    assert {(d.variant, d.channel) for d in decisions} == {("push-first", "push")}


def test_a_withheld_shopper_draws_no_variant() -> None:
    held_user = next(f"u{n}" for n in range(1000) if in_holdout("spring-sale", f"u{n}", 50))
    held = campaign("email", "push", variants=VARIANTS, holdout_percent=50)
    assert decided(held, shopper(held_user)) == Decision("withheld_holdout", "holdout 50%", group="withheld")
