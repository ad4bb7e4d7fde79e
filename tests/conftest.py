"""Test-wide settings: fake AWS credentials and a fixed region, so nothing can reach real AWS."""

from __future__ import annotations

import os

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SECURITY_TOKEN="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION="1",
)
os.environ.pop("AWS_PROFILE", None)
