"""Feedback only for Nudge's mail: SES events on the account's default bus come from every sender in
the account, and only those of Nudge's configuration set may reach the feedback function."""

from __future__ import annotations

import pytest

from nudge.local.runtime import LocalRuntime
from nudge.local.ses_events import ses_event, tagged_mail
from shared.deployment import invocations
from shared.deployment.naming import DEFAULT_STACK_NAME, ResourceNames
from shared.events.patterns import matches

NUDGE_SET = ResourceNames(DEFAULT_STACK_NAME).configuration_set


def bounce(user_id: str, configuration_set: str) -> dict[str, object]:
    return ses_event(
        "Bounce",
        tagged_mail(user_id, "weekend-sale-sea", f"ses-{user_id}"),
        event_id=f"bounce-{user_id}-{configuration_set}",
        configuration_set=configuration_set,
        bounce={"bounceType": "Permanent", "bounceSubType": "General"},
    )


@pytest.mark.parametrize("other", ["billing-mail", f"{NUDGE_SET}-old", "Staging-email"])
def test_the_feedback_pattern_takes_only_nudges_configuration_set(other: str) -> None:
    rule = invocations.ses_feedback_rule(NUDGE_SET)
    assert matches(rule.pattern, bounce("u1", NUDGE_SET))
    assert not matches(rule.pattern, bounce("u1", other))
    untagged = bounce("u1", NUDGE_SET)
    del untagged["detail"]["mail"]["tags"][invocations.SES_CONFIGURATION_SET_TAG]  # type: ignore[index]
    assert not matches(rule.pattern, untagged)


def test_another_senders_bounce_never_reaches_feedback(runtime: LocalRuntime) -> None:
    """Before: it was parked in the feedback DLQ (no user_id tag) or, tagged like ours, suppressed one
    of our shoppers; either way the DLQ alarm fired for mail Nudge never sent."""
    assert runtime.publish_aws_event(bounce("u1", "billing-mail")) == 0
    assert runtime.invocations.get("feedback", 0) == 0
    assert runtime.parked() == []
    assert runtime.ledgers.get("u1") is None

    assert runtime.publish_aws_event(bounce("u1", NUDGE_SET)) == 1
    ledger = runtime.ledgers.get("u1")
    assert ledger is not None and ledger.suppression("email") is not None


def test_the_local_runtime_sends_through_its_configuration_set(runtime: LocalRuntime) -> None:
    """The set the rule filters on is the one delivery sends with, as the stack wires it."""
    assert runtime.names.configuration_set == NUDGE_SET
    sets = runtime.client("sesv2").list_configuration_sets()["ConfigurationSets"]
    assert sets == [NUDGE_SET]
