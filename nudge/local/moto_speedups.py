"""Make moto fast enough for a two-week simulation, without changing what it does.

moto's SQS backend recomputes every queue attribute — converting each attribute name from
CamelCase with a character-by-character loop — several times for every message it receives.
That conversion is a pure function of a handful of constant names, so memoizing it changes no
behaviour; and the retention check per received message reads the one attribute it needs instead
of building all of them. Together they make receiving a message several times cheaper. Applied
once, by the local runtime; tests/integration/test_local_runtime.py runs redrive and retention
behaviour through the patched backend.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    import moto.core.responses
    import moto.core.utils
    import moto.sqs.models

    cached = lru_cache(maxsize=4096)(moto.core.utils.camelcase_to_underscores)
    moto.sqs.models.camelcase_to_underscores = cached  # type: ignore[attr-defined]
    moto.core.responses.camelcase_to_underscores = cached  # type: ignore[attr-defined]

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention_s = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention_s + message.sent_timestamp / 1000 > moto.core.utils.unix_time())

    moto.sqs.models.SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
        is_message_valid_based_on_retention_period
    )
    _applied = True
