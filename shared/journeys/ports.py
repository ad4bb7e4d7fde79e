"""Where journey instances are kept (DynamoDB in a deployment: shared/adapters/dynamo/journeys.py)."""

from __future__ import annotations

from typing import Protocol

from shared.journeys.instance import JourneyInstance


class JourneyStore(Protocol):
    def get(self, user_id: str, journey_id: str) -> JourneyInstance | None:
        """The shopper's last instance of the journey (a strongly consistent read), or None."""
        ...

    def put(self, instance: JourneyInstance, expected_seq: int | None) -> bool:
        """Write ``instance`` if the stored one still has ``expected_seq`` (None: there is none);
        False, writing nothing, if another transition came first. One request."""
        ...
