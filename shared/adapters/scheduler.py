"""EventBridge Scheduler one-time schedules: a job put on a work queue at a later time, once.

Each schedule is named from the job's key, so deferring the same job twice (a redelivered batch)
creates one schedule; it sends the job to the queue with the queue's own retry and dead-letter
handling and deletes itself after it fired. A flexible window spreads jobs deferred to the same
minute (08:00 after quiet hours) instead of waking every shopper at once.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

from shared.deployment.topology import DEFERRAL_FLEX_WINDOW_MIN

MAX_EVENT_AGE_S = 24 * 3600


def schedule_name(user_id: str, job_key: str) -> str:
    """A valid, stable schedule name (64 characters at most) whose prefix finds a shopper's schedules."""
    return f"{user_prefix(user_id)}{hashlib.sha256(job_key.encode()).hexdigest()[:40]}"


def user_prefix(user_id: str) -> str:
    return f"u{hashlib.sha256(user_id.encode()).hexdigest()[:16]}-"


def at_expression(moment: datetime) -> str:
    return f"at({moment.astimezone(UTC).strftime('%Y-%m-%dT%H:%M:%S')})"


class SchedulerPendingJobs:
    """The one-time schedules still waiting, by shopper (for erasure)."""

    def __init__(self, client: Any, group: str) -> None:
        self._client = client
        self._group = group

    def cancel_for_user(self, user_id: str) -> int:
        """Delete every pending schedule of ``user_id``; returns how many."""
        names: list[str] = []
        kwargs: dict[str, Any] = {"GroupName": self._group, "NamePrefix": user_prefix(user_id)}
        while True:
            response = self._client.list_schedules(**kwargs)
            names.extend(s["Name"] for s in response.get("Schedules", []))
            if not response.get("NextToken"):
                break
            kwargs["NextToken"] = response["NextToken"]
        for name in names:
            try:
                self._client.delete_schedule(Name=name, GroupName=self._group)
            except self._client.exceptions.ResourceNotFoundException:
                continue
        return len(names)


class SchedulerDeferrals:
    def __init__(
        self,
        client: Any,
        *,
        group: str,
        queue_arn: str,
        dead_letter_arn: str,
        role_arn: str,
        flexible_minutes: int = DEFERRAL_FLEX_WINDOW_MIN,
    ) -> None:
        self._client = client
        self._group = group
        self._queue_arn = queue_arn
        self._dead_letter_arn = dead_letter_arn
        self._role_arn = role_arn
        self._flexible_minutes = flexible_minutes

    def target(self, body: str) -> dict[str, Any]:
        """The queue a schedule feeds, with the queue's retry policy and dead-letter queue."""
        return {
            "Arn": self._queue_arn,
            "RoleArn": self._role_arn,
            "Input": body,
            "RetryPolicy": {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": MAX_EVENT_AGE_S},
            "DeadLetterConfig": {"Arn": self._dead_letter_arn},
        }

    def defer(self, user_id: str, job_key: str, body: str, at: datetime, *, flexible: bool = True) -> bool:
        name = schedule_name(user_id, job_key)
        window: dict[str, Any] = (
            {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": self._flexible_minutes}
            if self._flexible_minutes and flexible
            else {"Mode": "OFF"}
        )
        try:
            self._client.create_schedule(
                Name=name,
                GroupName=self._group,
                ScheduleExpression=at_expression(at),
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow=window,
                ActionAfterCompletion="DELETE",
                Target=self.target(body),
            )
        except self._client.exceptions.ConflictException:
            return False
        return True
