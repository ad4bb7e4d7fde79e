"""Work queues and dead-letter queues, as every layer uses them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class WorkQueue(Protocol):
    def send_many(self, bodies: Sequence[str]) -> None: ...


class DeadLetters(Protocol):
    def park(self, body: str, reason: str, source: str) -> None:
        """Keep a message that cannot be processed, with the reason, for inspection and redrive."""
        ...
