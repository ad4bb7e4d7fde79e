"""How the CDK app is assembled, the same way under ``cdk synth``/``cdk deploy`` and ``make synth``.

The CDK CLI hands an app its context in ``CDK_CONTEXT_JSON``: cdk.json's ``context`` (feature flags
included), cdk.context.json's cached values on top, then ``-c key=value``. ``make synth`` runs
``python app.py`` without the CLI, so :func:`project_context` reads the same two files and the app
gets them as defaults: under the CLI, the CLI's values still win (``cdk.App(context=...)`` has the
lowest precedence), so both paths see the same context and feature flags
(tests/infra/test_deploy_context.py). ``-c key=value`` arguments to ``app.py`` play the CLI's ``-c``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aws_cdk as cdk

from infra import nag
from infra.settings import DeploySettings
from infra.stack import NudgeStack
from shared.campaigns.expiry import expiry_warnings
from shared.campaigns.loader import load_campaign_dir

CONTEXT_FILES = ("cdk.json", "cdk.context.json")


class ContextArgumentError(ValueError):
    pass


def project_context(root: Path) -> dict[str, Any]:
    """cdk.json's ``context``, then cdk.context.json's keys over it (what the CLI reads from a project)."""
    context: dict[str, Any] = {}
    for name in CONTEXT_FILES:
        path = root / name
        if path.is_file():
            loaded = json.loads(path.read_text())
            context.update(loaded.get("context", {}) if name == "cdk.json" else loaded)
    return context


def context_arguments(argv: Sequence[str]) -> dict[str, str]:
    """``-c key=value`` / ``--context key=value`` pairs, as the CDK CLI takes them."""
    pairs: dict[str, str] = {}
    args = list(argv)
    while args:
        flag = args.pop(0)
        if flag not in ("-c", "--context") or not args or "=" not in args[0]:
            raise ContextArgumentError(f"expected -c key=value, got {flag!r}")
        key, value = args.pop(0).split("=", 1)
        pairs[key] = value
    return pairs


def new_app(root: Path, overrides: Mapping[str, Any] | None = None, outdir: str | None = None) -> cdk.App:
    """An app with the project's context as defaults and ``overrides`` above everything (the ``-c``
    values of ``make synth``; under the CLI they come in its own context instead)."""
    return cdk.App(context=project_context(root), post_cli_context=dict(overrides or {}), outdir=outdir)


def build(app: cdk.App, *, root: Path, asset_dir: Path, env: cdk.Environment) -> NudgeStack:
    """Validate the campaigns and the context, build the stack (campaigns expired at the deploy time,
    ``-c now=...`` or the clock, are left out with a note) and attach cdk-nag's checks (unless
    ``-c nag=false``). Raises ``CampaignFileError``, ``DeployContextError`` or ``LayerUnavailable``."""
    catalog = load_campaign_dir(root / "campaigns")
    settings = DeploySettings.from_context(app.node.try_get_context)
    for warning in expiry_warnings(catalog, settings.deployed_at):
        print(f"note: {warning}", file=sys.stderr)
    stack = NudgeStack(
        app,
        settings.stack_name,
        catalog=catalog,
        asset_dir=asset_dir,
        now=settings.deployed_at,
        settings=settings,
        env=env,
    )
    if settings.nag:
        nag.check(app)
    return stack
