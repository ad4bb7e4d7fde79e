"""Failure reasons name what went wrong, never whom it happened to: they land in the dead-letter
queues and the send log, where operators read them."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from shared.core.errors import EventRejected
from shared.work.failures import reason_of, without_personal_data


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "identities failed the check: jane.doe+x@mail.example.co.uk",
            "identities failed the check: <email>",
        ),
        (
            "TargetArn Reason: arn:aws:sns:eu-west-1:123456789012:endpoint/GCM/shop/8c1e-4f2a is disabled",
            "TargetArn Reason: <push endpoint> is disabled",
        ),
        ("number +6281234567890 unreachable", "number <phone> unreachable"),
    ],
)
def test_personal_data_in_a_providers_error_is_masked(text: str, expected: str) -> None:
    assert without_personal_data(text) == expected


@pytest.mark.parametrize(
    "reason",
    [
        "until 2026-11-01T02:30:00+00:00",
        "channel.email.per_day",
        "email:unsubscribed",
        "detail.timestamp: 2099-01-01T00:00:00+00:00 is in the future",
        "gave up after 5 attempts: ThrottlingException: Rate exceeded",
        "SES Bounce event for a message without a user_id tag (not sent by Nudge?)",
    ],
)
def test_reasons_without_personal_data_are_left_as_they_are(reason: str) -> None:
    assert without_personal_data(reason) == reason


def test_reason_of_masks_the_address_ses_quotes() -> None:
    error = ClientError(
        {"Error": {"Code": "MessageRejected", "Message": "failed the check: jane@example.com"}}, "SendEmail"
    )
    reason = reason_of(error)
    assert reason.startswith("ClientError: ") and "MessageRejected" in reason
    assert "jane@example.com" not in reason and reason.endswith("<email>")
    assert reason_of(EventRejected("detail.traits.email: jane@example.com is not allowed")).endswith(
        "<email> is not allowed"
    )
