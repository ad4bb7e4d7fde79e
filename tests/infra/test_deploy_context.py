"""The deploy context: no silent placeholders, and ``make synth`` sees what ``cdk synth`` sees.

No stack is synthesized here: ``app.py`` refuses a bad context before building anything, and the
context an app sees can be compared without a synth.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from synth import CONTEXT, ROOT

from infra.cdk_app import ContextArgumentError, context_arguments, project_context
from infra.settings import DeployContextError, DeploySettings

CLI_CONTEXT_ENV = "CDK_CONTEXT_JSON"  # how the CDK CLI hands an app its context


def load_app_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("nudge_cdk_app_context", ROOT / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def refusal(**context: Any) -> str:
    with pytest.raises(DeployContextError) as refused:
        DeploySettings.from_context({k: v for k, v in context.items() if v is not None}.get)
    return str(refused.value)


# -- no silent placeholders ----------------------------------------------------------------------------


def test_the_shipped_cdk_json_has_no_sender_and_the_app_refuses_to_synthesize_without_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``make synth`` / ``cdk synth`` with nothing passed: a message per missing key, no stack."""
    monkeypatch.delenv(CLI_CONTEXT_ENV, raising=False)
    assert "sender_email" not in project_context(ROOT)
    app = load_app_module()
    with pytest.raises(SystemExit) as exited:
        app.main([])
    message = str(exited.value.code)
    assert message.startswith("Nudge cannot be deployed with this context")
    for key in ("sender_email", "jwt_issuer", "jwt_audience"):
        assert f"-c {key}=" in message, key


@pytest.mark.parametrize(
    "sender",
    ["no-reply@example.com", "hello@shop.example.com", "a@example.org", "a@EXAMPLE.NET", "a@shop.test"],
)
def test_a_placeholder_sender_is_refused_naming_the_key(sender: str) -> None:
    message = refusal(**{**CONTEXT, "sender_email": sender})
    assert "sender_email" in message and "placeholder" in message and "-c sender_email=" in message


@pytest.mark.parametrize("issuer", ["https://auth.example.com/", "https://login.example.org/tenant"])
def test_the_placeholder_issuer_is_refused_naming_the_key(issuer: str) -> None:
    message = refusal(**{**CONTEXT, "jwt_issuer": issuer})
    assert "jwt_issuer" in message and "placeholder" in message and "-c jwt_issuer=" in message


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("sender_email", "not-an-address", "not an email address"),
        ("jwt_issuer", "http://cognito-idp.eu-west-1.amazonaws.com/pool", "not an https URL"),
        ("jwt_audience", "", "jwt_audience: missing"),
        ("stack_name", "1st", "stack_name"),
        ("ses_feedback", "perhaps", "ses_feedback"),
        ("segment_partner_bus", "default", "segment_partner_bus"),
        ("powertools_layer_arn", "arn:aws:lambda:eu-west-1:1:function:x", "powertools_layer_arn"),
        ("ses_configuration_set", "has spaces", "ses_configuration_set"),
        ("catalog_feed_key", "/catalog/products.csv", "catalog_feed_key: '/catalog/products.csv' is not"),
        ("catalog_feed_schedule", "cron(0 1 * *)", "catalog_feed_schedule: cron(0 1 * *): expected 6 fields"),
        ("catalog_feed_schedule", "daily", "catalog_feed_schedule"),
        ("event_path_snapstart", "yes", "event_path_snapstart"),
    ],
)
def test_each_bad_value_is_refused_with_its_key(key: str, value: str, says: str) -> None:
    assert says in refusal(**{**CONTEXT, key: value})


def test_every_problem_is_reported_at_once() -> None:
    message = refusal(sender_email="x@example.com", jwt_issuer=None, jwt_audience=None)
    assert [line.split(":")[0] for line in message.splitlines()] == [
        "- sender_email",
        "- jwt_issuer",
        "- jwt_audience",
    ]


def test_explicit_context_is_accepted_with_the_defaults() -> None:
    settings = DeploySettings.from_context(CONTEXT.get)
    assert (settings.stack_name, settings.ses_feedback, settings.nag) == ("Nudge", True, True)
    assert (settings.ses_configuration_set, settings.segment_partner_bus, settings.powertools_layer_arn) == (
        None,
        None,
        None,
    )
    flags = DeploySettings.from_context({**CONTEXT, "ses_feedback": False, "nag": "false"}.get)
    assert (flags.ses_feedback, flags.nag) == (False, False)


def test_the_catalog_feed_is_off_without_a_key_and_daily_unless_told_otherwise() -> None:
    without = DeploySettings.from_context({**CONTEXT, "catalog_feed_key": None}.get)
    assert (without.feed.key, without.feed.expression) == (None, "cron(0 1 * * ? *)")
    told = DeploySettings.from_context(
        {**CONTEXT, "catalog_feed_key": "feeds/products.jsonl", "catalog_feed_schedule": "rate(6 hours)"}.get
    )
    assert (told.feed.key, told.feed.expression) == ("feeds/products.jsonl", "rate(6 hours)")


@pytest.mark.parametrize(
    ("value", "on"), [(None, False), ("false", False), (False, False), ("true", True), (True, True)]
)
def test_snapstart_for_the_event_path_is_off_unless_asked_for(value: object, on: bool) -> None:
    context = CONTEXT if value is None else {**CONTEXT, "event_path_snapstart": value}
    assert DeploySettings.from_context(context.get).event_path_snapstart is on


# -- make synth sees what cdk synth sees -----------------------------------------------------------------


# The app's view of its context, printed by a fresh process: the CDK app lives in the jsii kernel's
# node process, which reads CDK_CONTEXT_JSON from its own environment when the App is created.
PROBE = """
import json, sys
import aws_cdk as cdk
from infra.cdk_app import context_arguments, new_app
keys = json.loads(sys.argv[1])
app = new_app(__import__("pathlib").Path.cwd(), context_arguments(sys.argv[2:]))
print(json.dumps({
    "context": {k: app.node.try_get_context(k) for k in keys},
    "flags": {k: cdk.FeatureFlags.of(app).is_enabled(k) for k in keys if k.startswith("@aws-cdk/")},
}))
"""


def app_view(
    keys: list[str], *, cli_context: dict[str, Any] | None = None, argv: tuple[str, ...] = ()
) -> Any:
    """What ``new_app`` sees: as the CLI runs app.py (``cli_context`` in CDK_CONTEXT_JSON, no
    arguments), or as make synth runs it (no CDK_CONTEXT_JSON, ``-c`` arguments)."""
    env = {k: v for k, v in os.environ.items() if k != CLI_CONTEXT_ENV}
    env["JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION"] = "1"
    if cli_context is not None:
        env[CLI_CONTEXT_ENV] = json.dumps(cli_context)
    result = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(keys), *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_make_synth_and_cdk_synth_see_the_same_context_and_feature_flags() -> None:
    """Before: ``make synth`` ran app.py without cdk.json's context, so the feature flags the CLI
    deploys with (minimizePolicies, checkSecretUsage, target partitions, ...) were off in it and in
    the tests' synth."""
    cdk_json = json.loads((ROOT / "cdk.json").read_text())["context"]
    flags = {"sender_email": "hello@acme-shop.com", "stack_name": "Staging"}
    keys = sorted({*cdk_json, *flags})
    cli = app_view(keys, cli_context={**project_context(ROOT), **flags})
    make = app_view(keys, argv=tuple(arg for k, v in flags.items() for arg in ("-c", f"{k}={v}")))
    assert make == cli
    assert make["context"] == {**cdk_json, **flags}
    for key, value in cdk_json.items():
        if key.startswith("@aws-cdk/") and isinstance(value, bool):
            assert make["flags"][key] is value, key


def test_the_cli_context_wins_over_the_projects_defaults() -> None:
    """Under the CLI, new_app's project context must not undo a -c value."""
    keys = ["stack_name", "@aws-cdk/aws-iam:minimizePolicies"]
    view = app_view(keys, cli_context={"stack_name": "Staging", "@aws-cdk/aws-iam:minimizePolicies": False})
    assert view["context"] == {"stack_name": "Staging", "@aws-cdk/aws-iam:minimizePolicies": False}


def test_cdk_context_json_is_read_over_cdk_json(tmp_path: Path) -> None:
    (tmp_path / "cdk.json").write_text(json.dumps({"app": "x", "context": {"a": 1, "b": 1}}))
    (tmp_path / "cdk.context.json").write_text(json.dumps({"b": 2}))
    assert project_context(tmp_path) == {"a": 1, "b": 2}


def test_app_py_takes_only_context_arguments() -> None:
    assert context_arguments(["-c", "a=b=c", "--context", "d="]) == {"a": "b=c", "d": ""}
    with pytest.raises(ContextArgumentError):
        context_arguments(["--outdir", "x"])


def test_make_synth_passes_its_context_as_cdk_does() -> None:
    """``make synth CONTEXT="k=v ..."`` runs app.py with ``-c k=v`` and the region the CLI would use."""
    dry_run = subprocess.run(
        ["make", "-n", "synth", "CONTEXT=sender_email=a@b.io jwt_audience=x"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "AWS_REGION": "eu-central-1"},
    ).stdout
    [command] = [line for line in dry_run.splitlines() if "app.py" in line]
    assert command.rstrip().endswith("app.py -c sender_email=a@b.io -c jwt_audience=x")
    assert "CDK_OUTDIR=cdk.out" in command and "CDK_DEFAULT_REGION=" in command
