"""The domain's named values: channels, levels and the decisions delivery logs, one definition each.

Each is a ``StrEnum``: a member equals its string value, hashes like it and formats as it, so it is
stored, compared and serialised (JSON, DynamoDB, pydantic, metrics dimensions) exactly as the plain
string was, and data written before these existed reads the same. Code names the member, never the
string: ``tests/unit/test_vocabulary.py`` fails on a string literal equal to one of these values (or
to :data:`shared.core.identity.ANONYMOUS_PREFIX`) anywhere else.
"""

from __future__ import annotations

from enum import StrEnum


class Channel(StrEnum):
    """A channel a message is sent on."""

    EMAIL = "email"
    PUSH = "push"
    IN_APP = "in_app"


class Level(StrEnum):
    """A campaign's level of personalisation: L1 demographic, L2 behavioural, L3 predictive, L4 real time."""

    L1 = "L1"
    L2 = "L2"
    L3 = "L3"
    L4 = "L4"

    @property
    def rank(self) -> int:
        """1 for L1 up to 4 for L4: a higher level wins the budget (see shared.campaigns.policy)."""
        return list(Level).index(self) + 1


class DecisionStatus(StrEnum):
    """What delivery decided for a send key, as the send log's ``status`` and the deliveries metric hold it.

    ``claimed`` and ``waiting_for_profile`` are not decisions: a send in flight (or one whose attempt
    crashed: a claim in the contact ledger with no outcome, as ``nudge why`` shows it; the send log
    held claims before issue 18), and a job looked at again once the shopper's profile exists.
    ``erased`` is never written: a job for a shopper erased after it was made is dropped without a trace.
    """

    SENT = "sent"
    SKIPPED = "skipped"
    WITHHELD_HOLDOUT = "withheld_holdout"
    WITHHELD_GLOBAL_CONTROL = "withheld_global_control"  # the program's control group: no marketing at all
    NO_CONSENT = "no_consent"
    SUPPRESSED = "suppressed"
    DEFERRED_QUIET_HOURS = "deferred_quiet_hours"
    DEFERRED_SEND_TIME = "deferred_send_time"  # waits for its variant's own send time (docs/experiments.md)
    DUPLICATE = "duplicate"
    CAPPED = "capped"
    FAILED = "failed"
    CANCELLED = "cancelled"
    OUTCOME_UNKNOWN = "outcome_unknown"
    ERASED = "erased"
    CLAIMED = "claimed"
    WAITING_FOR_PROFILE = "waiting_for_profile"


# The identify trait that holds a shopper's email address (a trait's name, not the channel).
EMAIL_TRAIT = "email"
