"""How long and how often delivery looks for a profile that ingest has not written yet."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.delivery.profile_wait import PROFILE_WAIT, next_look

SINCE = datetime(2026, 11, 2, 8, tzinfo=UTC)


def test_looks_again_at_doubling_intervals_until_the_bound_then_gives_up() -> None:
    looks, now = [], SINCE
    while (at := next_look(SINCE, now)) is not None:
        looks.append(int((at - SINCE).total_seconds()))
        now = at
    assert looks == [30, 60, 120, 240, 480, 902]
    assert timedelta(seconds=902) == PROFILE_WAIT  # ingest: 2 s batching window + 5 receives x 180 s


def test_copies_of_a_job_tried_at_different_moments_wait_on_the_same_schedule() -> None:
    assert next_look(SINCE, SINCE + timedelta(seconds=31)) == next_look(SINCE, SINCE + timedelta(seconds=59))


def test_a_look_that_comes_late_still_gives_up_at_the_bound() -> None:
    assert next_look(SINCE, SINCE + timedelta(seconds=700)) == SINCE + PROFILE_WAIT
    assert next_look(SINCE, SINCE + PROFILE_WAIT) is None
