"""SnapStart on the functions a shopper waits for (the HTTP API's), where the region has it for Python:
a snapshot per published version, the alias ``live`` on the current one, the API invoking that alias.
What the handlers do around the snapshot is tested in tests/unit/test_snapshots.py."""

from __future__ import annotations

import json
from typing import Any

import pytest
from synth import Deployment, Synthesized

from infra.function import LIVE_ALIAS, python_snapstart_available
from shared.deployment import topology


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == "AWS::Lambda::Function"}


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {lid: r for lid, r in template["Resources"].items() if r["Type"] == kind}


def test_snapstart_is_on_for_the_http_functions_only(synthesized: Synthesized) -> None:
    assert {"inbox", "preferences", "privacy"} == topology.SNAPSTART_FUNCTIONS
    for spec in topology.FUNCTIONS:
        props = synthesized.props(synthesized.function_id(spec.key))
        expected = {"ApplyOn": "PublishedVersions"} if spec.key in topology.SNAPSTART_FUNCTIONS else None
        assert props.get("SnapStart") == expected, spec.key


def test_each_snapstart_function_has_its_live_alias_on_its_current_version(synthesized: Synthesized) -> None:
    versions = synthesized.of_type("AWS::Lambda::Version")
    aliases = synthesized.of_type("AWS::Lambda::Alias")
    assert len(versions) == len(aliases) == len(topology.SNAPSTART_FUNCTIONS)
    for key in topology.SNAPSTART_FUNCTIONS:
        function_id = synthesized.function_id(key)
        [version_id] = [v for v, p in versions.items() if p["FunctionName"] == {"Ref": function_id}]
        alias_id = synthesized.logical_id(synthesized.stack.http_targets[key])
        assert aliases[alias_id] == {
            "FunctionName": {"Ref": function_id},
            "FunctionVersion": {"Fn::GetAtt": [version_id, "Version"]},
            "Name": LIVE_ALIAS,
        }
        # The next deploy's version replaces this one: its snapshot is not kept (nor billed).
        assert synthesized.resources[version_id]["DeletionPolicy"] == "Delete"


def test_the_api_invokes_the_alias_and_may_invoke_nothing_else(synthesized: Synthesized) -> None:
    integrations = synthesized.of_type("AWS::ApiGatewayV2::Integration")
    permissions = [
        p
        for p in synthesized.of_type("AWS::Lambda::Permission").values()
        if p["Principal"] == "apigateway.amazonaws.com"
    ]
    for key in topology.SNAPSTART_FUNCTIONS:
        alias_id = synthesized.logical_id(synthesized.stack.http_targets[key])
        assert alias_id != synthesized.function_id(key)
        assert [i for i in integrations.values() if alias_id in json.dumps(i["IntegrationUri"])], key
        assert not [
            i
            for i in integrations.values()
            if synthesized.function_id(key) in json.dumps(i["IntegrationUri"])
        ]
        targets = {
            json.dumps(p["FunctionName"]) for p in permissions if alias_id in json.dumps(p["FunctionName"])
        }
        assert targets == {json.dumps({"Ref": alias_id})}, key
    assert all(alias_id_of(p) for p in permissions)


def alias_id_of(permission: dict[str, Any]) -> bool:
    """An API Gateway permission names an alias (Ref of an AWS::Lambda::Alias), never a bare function."""
    return isinstance(permission["FunctionName"], dict) and "Ref" in permission["FunctionName"]


@pytest.mark.parametrize("name", ["NudgeChina", "NudgeGov"])
def test_partitions_without_python_snapstart_deploy_without_it(
    name: str, deployments: dict[str, Deployment]
) -> None:
    template = deployments[name].template
    assert not [lid for lid, r in _functions(template).items() if "SnapStart" in r["Properties"]]
    assert _of_type(template, "AWS::Lambda::Alias") == {}
    assert _of_type(template, "AWS::Lambda::Version") == {}


def test_the_default_stack_in_us_east_1_has_snapstart(deployments: dict[str, Deployment]) -> None:
    template = deployments["Nudge"].template
    with_snapstart = [lid for lid, r in _functions(template).items() if "SnapStart" in r["Properties"]]
    assert len(with_snapstart) == len(topology.SNAPSTART_FUNCTIONS)


@pytest.mark.parametrize(
    ("region", "available"),
    [
        ("us-east-1", True),
        ("eu-west-1", True),
        ("ap-southeast-1", True),
        ("ap-southeast-6", False),  # Asia Pacific (New Zealand)
        ("ap-east-2", False),  # Asia Pacific (Taipei)
        ("cn-north-1", False),
        ("cn-northwest-1", False),
        ("us-gov-west-1", False),
        ("us-gov-east-1", False),
    ],
)
def test_python_snapstart_is_available_where_lambda_offers_it(region: str, available: bool) -> None:
    assert python_snapstart_available(region) is available
