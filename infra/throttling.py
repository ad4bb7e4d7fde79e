"""Default throttling of the HTTP API's stage: a burst and a steady rate, per route.

The API is internet-facing (the inbox and erasure behind a JWT, the unsubscribe links behind their
signed token), so a flood of requests is refused with 429 by API Gateway before it reaches a
function, its error alarm or DynamoDB. Set with CDK context values (``cdk deploy -c
api_throttle_burst=400 -c api_throttle_rate=200``); docs/security.md explains the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constructs import Construct

BURST_CONTEXT = "api_throttle_burst"
RATE_CONTEXT = "api_throttle_rate"


@dataclass(frozen=True)
class ApiThrottle:
    burst: int  # requests API Gateway accepts at once above the rate
    rate: float  # requests per second, steady


# A shop's apps poll the inbox when they open and shoppers click unsubscribe links: a few requests a
# second at most for most shops; these leave a wide margin and stay far below the account's quota.
API_THROTTLE_DEFAULTS = ApiThrottle(burst=200, rate=100.0)


def api_throttling(scope: Construct) -> ApiThrottle:
    """The stage throttling from the context values, else the defaults; a value that is not a
    positive number is refused (``ValueError`` naming the context key)."""
    burst = _positive(scope.node.try_get_context(BURST_CONTEXT), BURST_CONTEXT, API_THROTTLE_DEFAULTS.burst)
    rate = _positive(scope.node.try_get_context(RATE_CONTEXT), RATE_CONTEXT, API_THROTTLE_DEFAULTS.rate)
    if int(burst) != burst:
        raise ValueError(f"{BURST_CONTEXT} must be a whole number of requests, not {burst}")
    return ApiThrottle(burst=int(burst), rate=float(rate))


def _positive(value: Any, key: str, default: float) -> float:
    if value is None or value == "":
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{key} must be a positive number, not {value!r}") from None
    if not number > 0:
        raise ValueError(f"{key} must be a positive number, not {value!r}")
    return number
