#!/usr/bin/env python3
"""CDK entry point: validates campaigns/ (an invalid file fails synth) and builds the Nudge stack."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import aws_cdk as cdk

from infra.stack import DEFAULT_SENDER, NudgeStack
from shared.campaigns import CampaignFileError, load_campaign_dir

ROOT = Path(__file__).resolve().parent


def main() -> None:
    app = cdk.App()
    try:
        catalog = load_campaign_dir(ROOT / "campaigns")
    except CampaignFileError as error:
        sys.exit(f"campaign files are invalid:\n{error}")
    NudgeStack(
        app,
        app.node.try_get_context("stack_name") or "Nudge",
        catalog=catalog,
        asset_dir=ROOT / "build" / "lambda",
        sender_email=app.node.try_get_context("sender_email") or DEFAULT_SENDER,
        ses_configuration_set=app.node.try_get_context("ses_configuration_set"),
        env=cdk.Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
        ),
    )
    app.synth()


if __name__ == "__main__":
    main()
