"""The account and stack the local runtime plays: its region, account id, sender, API URL, and the
default stack's physical names."""

from __future__ import annotations

from shared.deployment.naming import DEFAULT_STACK_NAME, ResourceNames

REGION = "us-east-1"
ACCOUNT = "123456789012"
SENDER = "no-reply@shop.example.com"
API_URL = "https://api.shop.example.com"
# The local runtime plays the default stack: its resources have that stack's physical names.
NAMES = ResourceNames(DEFAULT_STACK_NAME)
DEFERRAL_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{NAMES.of('deferral')}"
# S3 bucket names are lowercase (CloudFormation names the deployed one).
FEED_BUCKET_NAME = NAMES.of("feed").lower()


def physical_name(key: str) -> str:
    return NAMES.of(key)
