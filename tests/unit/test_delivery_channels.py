"""Which channel reaches a shopper (shared.delivery.deliverer.choose_channel): consent, addresses, anonymous
visitors, suppressions, the campaign's order, and which blocker is logged when none does.

Pure decisions on a profile and a contact ledger; delivery applies them before claiming the send.
"""

from __future__ import annotations

from typing import Any

import pytest
from fakes import one_time

from shared.campaigns.model import Campaign
from shared.delivery.deliverer import choose_channel, reachable_channels
from shared.profiles.ledger import Ledger, Suppression
from shared.profiles.profile import Profile


def campaign(*channels: str) -> Campaign:
    """The spring sale on ``channels`` (in that order), each with a greeting."""
    return one_time("spring-sale", channels, at="2026-11-07T03:00:00", name="Spring sale")


def shopper(user_id: str = "u1", **traits: Any) -> Profile:
    return Profile(user_id=user_id, traits=traits)


def reachable(**consent: bool) -> Profile:
    """A signed-in shopper with an address and a push endpoint, and the given opt-ins."""
    return shopper(email="u1@example.com", push_endpoint="arn:aws:sns:endpoint/u1", consent=consent)


def unsubscribed(channel: str) -> Ledger:
    return Ledger("u1", suppressed={channel: Suppression("unsubscribed", "2026-11-01T10:00:00+00:00")})


EVERY_CHANNEL = campaign("email", "push", "in_app")


def test_the_first_channel_in_the_campaigns_order_that_reaches_the_shopper_is_chosen() -> None:
    everyone = reachable(email=True, push=True, in_app=True)
    assert choose_channel(EVERY_CHANNEL, everyone) == ("email", ("sent", ""))
    assert choose_channel(campaign("in_app", "push", "email"), everyone) == ("in_app", ("sent", ""))
    assert reachable_channels(EVERY_CHANNEL, everyone) == ["email", "push", "in_app"]


def test_a_shopper_who_never_answered_the_email_opt_in_gets_no_email() -> None:
    never_asked = reachable(push=True)  # no consent.email key at all
    assert choose_channel(campaign("email"), never_asked) == (None, ("no_consent", "email"))
    assert choose_channel(campaign("email", "push"), never_asked) == ("push", ("sent", ""))


def test_a_shopper_who_declined_email_gets_no_email() -> None:
    assert choose_channel(campaign("email"), reachable(email=False)) == (None, ("no_consent", "email"))


def test_a_shopper_who_never_answered_the_push_opt_in_gets_no_push() -> None:
    never_asked = reachable(email=True)
    assert choose_channel(campaign("push"), never_asked) == (None, ("no_consent", "push"))
    assert choose_channel(campaign("push", "email"), never_asked) == ("email", ("sent", ""))


def test_in_app_is_on_unless_the_shopper_turned_it_off() -> None:
    assert choose_channel(campaign("in_app"), shopper()) == ("in_app", ("sent", ""))
    assert choose_channel(campaign("in_app"), reachable(in_app=True)) == ("in_app", ("sent", ""))
    assert choose_channel(campaign("in_app"), reachable(in_app=False)) == (None, ("no_consent", "in_app"))


def test_an_anonymous_visitor_is_reached_on_no_channel_not_even_in_app() -> None:
    visitor = shopper("anon:a-1", email="a@example.com", consent={"email": True, "in_app": True})
    assert choose_channel(campaign("in_app"), visitor) == (None, ("skipped", "anonymous"))
    assert reachable_channels(EVERY_CHANNEL, visitor) == []


@pytest.mark.parametrize("address", ["", None])
def test_a_shopper_without_an_email_address_falls_back_to_the_next_channel(address: str | None) -> None:
    no_address = shopper(email=address, consent={"email": True})
    assert choose_channel(campaign("email"), no_address) == (None, ("skipped", "no_email_address"))
    assert choose_channel(campaign("email", "in_app"), no_address) == ("in_app", ("sent", ""))


def test_an_unsubscribed_email_falls_back_to_push() -> None:
    everyone = reachable(email=True, push=True)
    assert choose_channel(campaign("email", "push"), everyone, unsubscribed("email")) == (
        "push",
        ("sent", ""),
    )
    assert reachable_channels(campaign("email", "push"), everyone, unsubscribed("email")) == ["push"]


def test_when_no_channel_reaches_the_shopper_a_suppression_is_the_reason_logged_first() -> None:
    # email unsubscribed, no push endpoint: "suppressed" says more than "skipped"
    no_endpoint = shopper(email="u1@example.com", consent={"email": True, "push": True})
    assert choose_channel(campaign("email", "push"), no_endpoint, unsubscribed("email")) == (
        None,
        ("suppressed", "email:unsubscribed"),
    )
    assert choose_channel(campaign("push", "email"), no_endpoint, unsubscribed("email")) == (
        None,
        ("suppressed", "email:unsubscribed"),
    )


def test_when_no_channel_reaches_the_shopper_a_missing_consent_outranks_a_missing_address() -> None:
    declined = shopper(email="u1@example.com", consent={"email": False, "push": True})
    assert choose_channel(campaign("push", "email"), declined) == (None, ("no_consent", "email"))
    assert choose_channel(campaign("email", "push"), declined) == (None, ("no_consent", "email"))
