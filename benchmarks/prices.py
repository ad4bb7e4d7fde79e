"""AWS list prices and request latencies the cost model uses — the one table to update.

Prices: US East (N. Virginia), on-demand, public list prices as of November 2026, free tiers
ignored. Latencies: typical in-region p50 for one request from Lambda, used to turn counted
requests into billed Lambda duration (moto answers in microseconds, AWS does not).
"""

from __future__ import annotations

from typing import Final

PRICES_USD: Final = {
    # EventBridge custom events, per event published (64 KB chunks).
    "eventbridge_event": 1.00 / 1e6,
    # SQS standard queue, per API request (64 KB chunks); a batch call is one request.
    "sqs_request": 0.40 / 1e6,
    # Lambda arm64: per request and per GB-second.
    "lambda_request": 0.20 / 1e6,
    "lambda_gb_second_arm64": 0.0000133334,
    # DynamoDB on-demand: per write request unit (1 KB) and read request unit (4 KB strongly consistent).
    "dynamodb_wru": 0.625 / 1e6,
    "dynamodb_rru": 0.125 / 1e6,
    # EventBridge Scheduler, per invocation (one-time schedules for delayed triggers).
    "scheduler_invocation": 1.00 / 1e6,
    # Channel fees, shown apart from the infrastructure cost.
    "ses_email": 0.10 / 1e3,
    "sns_mobile_push": 0.50 / 1e6,
}

LATENCY_MS: Final = {
    "dynamodb": 5.0,
    "sqs": 8.0,
    "events": 12.0,
    "sesv2": 35.0,
    "sns": 25.0,
    "scheduler": 20.0,
}

# Documented service limits behind the 10M-profile fan-out estimate.
LIMITS: Final = {
    # On-demand tables start with a 40,000 read request units/s account-level table maximum.
    "dynamodb_table_max_rru_per_second": 40_000,
    # Default Lambda concurrency per account and region.
    "lambda_concurrency": 1_000,
    # A Scan page returns at most 1 MB.
    "scan_page_bytes": 1_000_000,
}
