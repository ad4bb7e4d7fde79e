"""The claim of a send key (shared.delivery.claims): its state from the ledger's record and the send
log's entry, pure. Which states send, which hold a job off, and which park it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.delivery.claims import (
    CLAIM_HORIZON,
    CLAIM_LEASE,
    LEDGER_RETENTION,
    Claim,
    ClaimState,
    claim_state,
    new_claim,
    outcome_logged,
)
from shared.delivery.ports import SendLogEntry
from shared.deployment.topology import DELIVERY_QUEUE, DLQ_RETENTION_DAYS
from shared.profiles.ledger import WEEK, SentRecord, prune

KEY = "spring-sale#2026-11-04T12:00:00Z#u1"
CLAIMED_AT = datetime(2026, 11, 4, 12, tzinfo=UTC)
RECORD = SentRecord(CLAIMED_AT, "email", "spring-sale", "L1", KEY, "c1")


def logged(status: str, at: datetime = CLAIMED_AT, claim: str | None = None) -> SendLogEntry:
    return SendLogEntry("u1", KEY, "spring-sale", "L1", "email", status, at=at.isoformat(), claim=claim)


@pytest.mark.parametrize("record", [None, RECORD])
def test_a_logged_send_is_decided_whoever_holds_the_key(record: SentRecord | None) -> None:
    assert claim_state(record, logged("sent"), CLAIMED_AT) == Claim(ClaimState.DECIDED)


@pytest.mark.parametrize("record", [None, RECORD])
def test_an_unknown_outcome_stays_unknown(record: SentRecord | None) -> None:
    assert claim_state(record, logged("outcome_unknown"), CLAIMED_AT) == Claim(ClaimState.UNKNOWN)


@pytest.mark.parametrize("entry", [None, logged("failed", claim="c0")])
def test_a_key_nobody_holds_is_free(entry: SendLogEntry | None) -> None:
    assert claim_state(None, entry, CLAIMED_AT) == Claim(ClaimState.FREE)


@pytest.mark.parametrize("status", ["capped", "withheld_holdout", "suppressed", "skipped", "cancelled"])
def test_a_decision_logged_without_a_claim_is_decided(status: str) -> None:
    # The ledger pruned the record, or the decision sent nothing: a redelivered job is a duplicate.
    assert claim_state(None, logged(status), CLAIMED_AT) == Claim(ClaimState.DECIDED)


def test_a_claim_with_no_outcome_is_in_flight_for_the_lease_then_crashed() -> None:
    assert claim_state(RECORD, None, CLAIMED_AT + CLAIM_LEASE) == Claim(ClaimState.IN_FLIGHT, CLAIMED_AT)
    later = CLAIMED_AT + CLAIM_LEASE + timedelta(microseconds=1)
    assert claim_state(RECORD, None, later) == Claim(ClaimState.CRASHED, CLAIMED_AT)


def test_the_failure_of_this_claim_frees_it_for_a_retry() -> None:
    assert claim_state(RECORD, logged("failed", claim="c1"), CLAIMED_AT) == Claim(ClaimState.FAILED)


def test_another_claims_failure_is_no_outcome_of_this_one() -> None:
    # An older claim's failure, or that of an attempt whose own claim write never landed (in the very
    # instant this claim was made): the key stays held, so this claim's send cannot be made twice.
    failed_elsewhere = logged("failed", at=CLAIMED_AT, claim="c2")
    assert claim_state(RECORD, failed_elsewhere, CLAIMED_AT) == Claim(ClaimState.IN_FLIGHT, CLAIMED_AT)


def test_another_copys_decision_is_no_outcome_of_a_claim() -> None:
    # A copy decided "cancelled" while this claim was being sent: the claim may have sent.
    entry = logged("cancelled", at=CLAIMED_AT - timedelta(seconds=1))
    later = CLAIMED_AT + CLAIM_LEASE + timedelta(seconds=1)
    assert claim_state(RECORD, entry, later) == Claim(ClaimState.CRASHED, CLAIMED_AT)


def test_a_legacy_claim_in_the_send_log_holds_the_key_until_its_lease_runs_out() -> None:
    entry = logged("claimed")
    assert claim_state(None, entry, CLAIMED_AT + CLAIM_LEASE) == Claim(ClaimState.IN_FLIGHT, CLAIMED_AT)
    assert claim_state(None, entry, CLAIMED_AT + 2 * CLAIM_LEASE) == Claim(ClaimState.CRASHED, CLAIMED_AT)


def test_claims_logged_before_tokens_are_matched_by_their_time() -> None:
    untokened = SentRecord(CLAIMED_AT, "email", "spring-sale", "L1", KEY)
    assert claim_state(untokened, logged("failed"), CLAIMED_AT).state == ClaimState.FAILED
    earlier = logged("failed", at=CLAIMED_AT - timedelta(seconds=1))
    assert claim_state(untokened, earlier, CLAIMED_AT).state == ClaimState.IN_FLIGHT


def test_an_unreadable_legacy_claim_time_is_never_declared_a_crash() -> None:
    entry = SendLogEntry("u1", KEY, "spring-sale", "L1", "email", "claimed", at="yesterday")
    assert claim_state(None, entry, CLAIMED_AT + timedelta(days=30)) == Claim(ClaimState.IN_FLIGHT, None)


def test_the_outcome_of_a_claim_is_read_from_the_stored_item() -> None:
    assert not outcome_logged(RECORD, None)
    assert not outcome_logged(RECORD, {"status": "failed", "at": CLAIMED_AT.isoformat(), "claim": "c2"})
    assert outcome_logged(RECORD, {"status": "failed", "at": CLAIMED_AT.isoformat(), "claim": "c1"})
    assert outcome_logged(RECORD, {"status": "sent", "at": CLAIMED_AT.isoformat()})
    assert outcome_logged(RECORD, {"status": "outcome_unknown", "at": CLAIMED_AT.isoformat()})


def test_ledgers_keep_claims_longer_than_a_job_can_wait_for_its_next_delivery() -> None:
    assert (
        CLAIM_HORIZON == timedelta(days=DELIVERY_QUEUE.retention_days + DLQ_RETENTION_DAYS) == timedelta(18)
    )
    assert LEDGER_RETENTION == CLAIM_HORIZON > WEEK
    now = CLAIMED_AT + timedelta(days=17)
    assert prune([RECORD], now, LEDGER_RETENTION) == [RECORD]
    assert prune([RECORD], now + timedelta(days=1), LEDGER_RETENTION) == []


def test_a_claim_token_names_one_claim_and_survives_the_ledgers_json() -> None:
    tokens = {new_claim() for _ in range(1000)}
    assert len(tokens) == 1000
    assert SentRecord.from_json(RECORD.to_json()) == RECORD
    untokened = SentRecord(CLAIMED_AT, "email", "spring-sale", "L1", KEY)
    assert untokened.to_json() == [CLAIMED_AT.isoformat(), "email", "spring-sale", "L1", KEY]
    assert SentRecord.from_json(untokened.to_json()) == untokened
