"""What to do with an SQS record that fails: retry it, or park it with the reason.

A permanent failure (a job that can never succeed) is parked at once; a transient one is left
to SQS to redeliver, and parked with its last error on the final allowed receive, so nothing
reaches the dead-letter queue without a reason and nothing is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

from pydantic import ValidationError

from shared.core.errors import EventRejected, OutcomeUnknown, PermanentDeliveryError, TemplateProblem
from shared.core.queues import DeadLetters

T = TypeVar("T")
PERMANENT_ERRORS: tuple[type[Exception], ...] = (PermanentDeliveryError, ValidationError, TemplateProblem)


# What a provider's error may quote about the recipient: SES names the address ("... failed the check:
# jane@example.com"), SNS the platform endpoint; an E.164 number for good measure.
_PERSONAL_DATA = (
    (re.compile(r"[\w.%+-]+@[\w-]+(?:\.[\w-]+)+"), "<email>"),
    (re.compile(r"arn:aws[\w-]*:sns:[\w-]*:\d*:endpoint/[\w./-]+"), "<push endpoint>"),
    (re.compile(r"\+\d{8,15}\b"), "<phone>"),
)


def without_personal_data(text: str) -> str:
    """``text`` with email addresses, push endpoints and phone numbers masked: reasons end up in the
    dead-letter queues and the send log, where operators read them (`nudge dlq`, `nudge why`)."""
    for pattern, mask in _PERSONAL_DATA:
        text = pattern.sub(mask, text)
    return text


def reason_of(error: Exception) -> str:
    if isinstance(error, EventRejected):
        return without_personal_data(error.reason)
    if isinstance(error, OutcomeUnknown):
        return str(error)
    if isinstance(error, ValidationError):
        first = error.errors(include_url=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        return without_personal_data(f"invalid message: {where}: {first['msg']}")
    return without_personal_data(f"{type(error).__name__}: {error}")


def run_or_park(
    work: Callable[[], T],
    *,
    body: str,
    receive_count: int,
    max_receives: int,
    dead_letters: DeadLetters,
    source: str,
) -> T | None:
    """Run ``work``; park and swallow permanent errors and last-attempt failures, re-raise the rest."""
    try:
        return work()
    except PERMANENT_ERRORS as error:
        dead_letters.park(body, reason_of(error), source)
        return None
    except Exception as error:
        if receive_count >= max_receives:
            dead_letters.park(body, f"gave up after {receive_count} attempts: {reason_of(error)}", source)
            return None
        raise
