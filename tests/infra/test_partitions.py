"""Any partition and region: the Powertools layer of the stack's own partition and region, no ARN
that assumes the commercial partition, and a clear refusal where a region lacks what the stack needs.

The stacks are ``synth.DEPLOYMENTS`` (us-east-1, cn-north-1, us-gov-west-1, one synth) plus the
session's eu-west-1 stack; cfn-lint checks the China and GovCloud templates against their regions.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.region_info import RegionInfo
from synth import CONTEXT, Deployment, Synthesized

from infra.function import (
    COMMERCIAL_LAYER_ACCOUNT,
    NO_POWERTOOLS_LAYER,
    POWERTOOLS_LAYER_ACCOUNTS,
    LayerUnavailable,
    powertools_layer_arn,
)
from infra.settings import NO_SES_CONFIGURATION_SETS, DeployContextError, DeploySettings

PARTITION_OF = {"us-east-1": "aws", "eu-west-1": "aws", "cn-north-1": "aws-cn", "us-gov-west-1": "aws-us-gov"}
# Where Powertools publishes the layer outside the commercial account (its documentation's tables).
LAYER_PUBLISHERS = {"cn-north-1": "498634801083", "us-gov-west-1": "165093116878"}


def _layers(template: dict[str, Any]) -> set[str]:
    return {
        layer
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
        for layer in r["Properties"]["Layers"]
    }


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


@pytest.mark.parametrize("name", ["Nudge", "NudgeChina", "NudgeGov"])
def test_every_function_uses_the_layer_of_its_partition_and_region(
    name: str, deployments: dict[str, Deployment]
) -> None:
    deployment = deployments[name]
    region, partition = deployment.region, PARTITION_OF[deployment.region]
    account = LAYER_PUBLISHERS.get(region, COMMERCIAL_LAYER_ACCOUNT)
    assert _layers(deployment.template) == {
        f"arn:{partition}:lambda:{region}:{account}:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"
    }


def test_the_eu_west_1_stack_uses_the_commercial_layer(synthesized: Synthesized) -> None:
    assert _layers(synthesized.json) == {powertools_layer_arn("eu-west-1")}
    assert powertools_layer_arn("eu-west-1").startswith("arn:aws:lambda:eu-west-1:017000801446:layer:")


@pytest.mark.parametrize("name", ["Nudge", "NudgeChina", "NudgeGov"])
def test_no_arn_is_written_for_the_commercial_partition(
    name: str, deployments: dict[str, Deployment]
) -> None:
    """Every other ARN is built from the AWS::Partition pseudo-parameter, so it is right anywhere."""
    deployment = deployments[name]
    # "arn:" alone is the head of a join whose next part is {"Ref": "AWS::Partition"}.
    literal = [s for s in _strings(deployment.template["Resources"]) if s.startswith("arn:") and s != "arn:"]
    assert literal, "the layer ARN at least is literal"
    partition = PARTITION_OF[deployment.region]
    assert all(s.startswith(f"arn:{partition}:") for s in literal), literal


@pytest.mark.parametrize("name", ["NudgeChina", "NudgeGov"])
def test_cfn_lint_finds_no_error_in_the_other_partitions(
    name: str, deployments: dict[str, Deployment], tmp_path: Path
) -> None:
    """E3006 (a resource type the region lacks) among them: SES configuration sets in cn-north-1."""
    deployment = deployments[name]
    path = tmp_path / f"{name}.template.json"
    path.write_text(json.dumps(deployment.template))
    result = subprocess.run(
        [str(Path(sys.executable).with_name("cfn-lint")), "--regions", deployment.region, "--", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode & 2 == 0, f"cfn-lint errors:\n{result.stdout}{result.stderr}"
    assert result.returncode != 1 and result.returncode < 16, f"cfn-lint did not run:\n{result.stderr}"


def test_china_without_ses_feedback_has_no_configuration_set_and_no_feedback_rule(
    deployments: dict[str, Deployment],
) -> None:
    china = deployments["NudgeChina"]
    assert china.of_type("AWS::SES::ConfigurationSet") == {}
    rules = china.of_type("AWS::Events::Rule").values()
    on_default_bus = [r for r in rules if r["EventBusName"] == "default"]
    assert [r["EventPattern"]["source"] for r in on_default_bus] == [["aws.s3"]]  # the catalog feed's only
    [deliver] = [
        f
        for f in china.of_type("AWS::Lambda::Function").values()
        if "SENDER_EMAIL" in f["Environment"]["Variables"]
    ]
    assert deliver["Environment"]["Variables"]["SES_CONFIGURATION_SET"] == ""


@pytest.mark.parametrize("region", sorted(NO_SES_CONFIGURATION_SETS))
def test_a_region_without_ses_configuration_sets_refuses_the_synth_saying_what_to_pass(region: str) -> None:
    settings = DeploySettings.from_context(CONTEXT.get)
    with pytest.raises(DeployContextError) as refused:
        settings.check_region(region)
    message = str(refused.value)
    assert (
        region in message
        and "-c ses_configuration_set=NAME" in message
        and "-c ses_feedback=false" in message
    )
    DeploySettings.from_context({**CONTEXT, "ses_feedback": "false"}.get).check_region(region)
    DeploySettings.from_context({**CONTEXT, "ses_configuration_set": "shop-mail"}.get).check_region(region)


def test_the_region_list_without_ses_configuration_sets_is_cfn_lints() -> None:
    """cfn-lint's per-region resource schemas decide E3006; a region gaining (or lacking) SES
    configuration sets in a cfn-lint upgrade fails here until the list follows."""
    providers = Path(__import__("cfnlint").__file__).parent / "data" / "schemas" / "providers"
    lacking = set()
    for path in providers.glob("*.json"):
        if path.stem.count("-") < 2:  # sam.json and the like: not a region
            continue
        types = json.loads(path.read_text())
        if (
            "AWS::SES::ConfigurationSet" not in types
            or "AWS::SES::ConfigurationSetEventDestination" not in types
        ):
            lacking.add(path.stem)
    assert lacking == set(NO_SES_CONFIGURATION_SETS)


def test_every_region_cdk_knows_has_a_layer_or_is_known_to_lack_one() -> None:
    """The mapping is kept current: a region a CDK upgrade brings fails here until it is looked up
    in the Powertools documentation and added to POWERTOOLS_LAYER_ACCOUNTS or NO_POWERTOOLS_LAYER."""
    known = {
        r.name
        for r in RegionInfo.regions
        if r.partition in ("aws", "aws-cn", "aws-us-gov") and r.name.count("-") == 2
    }
    assert known - set(POWERTOOLS_LAYER_ACCOUNTS) - NO_POWERTOOLS_LAYER == set()
    assert not set(POWERTOOLS_LAYER_ACCOUNTS) & NO_POWERTOOLS_LAYER
    for region in POWERTOOLS_LAYER_ACCOUNTS:
        assert powertools_layer_arn(region).startswith(
            f"arn:{RegionInfo.get(region).partition}:lambda:{region}:"
        )


@pytest.mark.parametrize("region", sorted(NO_POWERTOOLS_LAYER))
def test_a_region_without_a_layer_refuses_the_synth_saying_what_to_pass(region: str) -> None:
    with pytest.raises(LayerUnavailable, match="-c powertools_layer_arn=ARN"):
        powertools_layer_arn(region)
