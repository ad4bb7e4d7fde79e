#!/usr/bin/env python3
"""CDK entry point: validates campaigns/ (an invalid file fails synth) and builds the Nudge stack.

cdk-nag's AwsSolutions checks run on every synth and an unsuppressed finding fails it
(``-c nag=false`` skips them, e.g. while trying something out). A campaign that has expired by the
deploy time (``-c now=2027-01-01T00:00:00Z`` sets it; default: the clock) is left out, with a note."""

from __future__ import annotations

import os
import sys
from datetime import UTC, datetime
from pathlib import Path

import aws_cdk as cdk

from infra import nag
from infra.stack import DEFAULT_SENDER, NudgeStack
from shared.campaigns import CampaignFileError, load_campaign_dir
from shared.expiry import expiry_warnings
from shared.topology import APP_EVENT_SOURCE

ROOT = Path(__file__).resolve().parent


def _listed(value: object) -> tuple[str, ...]:
    """A context value given as a list (cdk.json) or as comma-separated text (``-c name=a,b``)."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(str(i).strip() for i in items if str(i).strip())


def main() -> None:
    app = cdk.App()
    try:
        catalog = load_campaign_dir(ROOT / "campaigns")
    except CampaignFileError as error:
        sys.exit(f"campaign files are invalid:\n{error}")
    now = deploy_time(app.node.try_get_context("now"))
    for warning in expiry_warnings(catalog, now):
        print(f"note: {warning}", file=sys.stderr)
    NudgeStack(
        app,
        app.node.try_get_context("stack_name") or "Nudge",
        catalog=catalog,
        asset_dir=ROOT / "build" / "lambda",
        now=now,
        sender_email=app.node.try_get_context("sender_email") or DEFAULT_SENDER,
        ses_configuration_set=app.node.try_get_context("ses_configuration_set"),
        trusted_event_sources=_listed(app.node.try_get_context("trusted_event_sources"))
        or (APP_EVENT_SOURCE,),
        push_applications=_listed(app.node.try_get_context("push_applications")),
        env=cdk.Environment(
            account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
        ),
    )
    checked = str(app.node.try_get_context("nag")).lower() != "false"
    if checked:
        nag.check(app)
    assembly = app.synth()
    if checked and (found := nag.findings(assembly)):
        sys.exit(
            "cdk-nag (AwsSolutions) findings; fix them or accept them on their resource:\n" + "\n".join(found)
        )


def deploy_time(context: object) -> datetime:
    """When the stack is deployed, for expiry: ``-c now=...`` (ISO-8601 with a zone) or the clock."""
    if context is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(str(context).replace("Z", "+00:00"))
    except ValueError:
        sys.exit(f"-c now={context}: not an ISO-8601 instant")
    if moment.utcoffset() is None:
        sys.exit(f"-c now={context}: add a zone (Z or an offset)")
    return moment


if __name__ == "__main__":
    main()
