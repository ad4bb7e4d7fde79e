#!/usr/bin/env python3
"""CDK entry point: validates campaigns/ (an invalid file fails synth), checks the deploy context
(infra/settings.py: a missing or placeholder sender or JWT issuer fails synth, naming the key to
pass) and builds the Nudge stack.

``cdk synth``/``cdk deploy`` run it with the CLI's context; ``make synth`` runs it directly, with the
same cdk.json context and ``-c key=value`` arguments (infra/cdk_app.py). cdk-nag's AwsSolutions
checks run on every synth and an unsuppressed finding fails it (``-c nag=false`` skips them). A
campaign that has expired by the deploy time (``-c now=2027-01-01T00:00:00Z``; default: the clock)
is left out, with a note."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import aws_cdk as cdk

from infra import nag
from infra.cdk_app import ContextArgumentError, build, context_arguments, new_app
from infra.function import LayerUnavailable
from infra.settings import DeployContextError
from shared.campaigns.yaml_lines import CampaignFileError

ROOT = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> None:
    try:
        app = new_app(ROOT, context_arguments(sys.argv[1:] if argv is None else argv))
    except ContextArgumentError as error:
        sys.exit(f"app.py takes only context arguments: {error}")
    try:
        stack = build(
            app,
            root=ROOT,
            asset_dir=ROOT / "build" / "lambda",
            env=cdk.Environment(
                account=os.environ.get("CDK_DEFAULT_ACCOUNT"), region=os.environ.get("CDK_DEFAULT_REGION")
            ),
        )
    except CampaignFileError as error:
        sys.exit(f"campaign files are invalid:\n{error}")
    except DeployContextError as error:
        sys.exit(
            "Nudge cannot be deployed with this context (docs/deploy.md; with make synth, pass "
            f'CONTEXT="key=value ..." instead of -c):\n{error}'
        )
    except LayerUnavailable as error:
        sys.exit(f"Nudge cannot be deployed here: {error}")
    assembly = app.synth()
    if stack.settings.nag and (found := nag.findings(assembly)):
        sys.exit(
            "cdk-nag (AwsSolutions) findings; fix them or accept them on their resource:\n" + "\n".join(found)
        )


if __name__ == "__main__":
    main()
