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
        alias_id = synthesized.logical_id(synthesized.stack.invoked[key])
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
        alias_id = synthesized.logical_id(synthesized.stack.invoked[key])
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


# -- the event path, where a deployment asks for it (-c event_path_snapstart=true) ---------------------------
EVENT_PATH = topology.EVENT_PATH_SNAPSTART_FUNCTIONS


def _function_refs(template: dict[str, Any], key: str) -> tuple[str, str | None]:
    """The logical ids of ``key``'s function and of its alias (None without one)."""
    [function_id] = [
        lid
        for lid, r in _functions(template).items()
        if r["Properties"]["Handler"] == topology.FUNCTIONS_BY_KEY[key].handler
    ]
    aliases = [
        lid
        for lid, r in _of_type(template, "AWS::Lambda::Alias").items()
        if r["Properties"]["FunctionName"] == {"Ref": function_id}
    ]
    return function_id, aliases[0] if aliases else None


def _mapped(template: dict[str, Any], key: str) -> list[str]:
    """What the SQS event source mappings of ``key``'s queues invoke, as JSON."""
    queues = [q.key for q in topology.QUEUES if q.consumer == key]
    assert queues, key
    return [
        json.dumps(r["Properties"]["FunctionName"])
        for r in _of_type(template, "AWS::Lambda::EventSourceMapping").values()
        if any(f"Queue{q}" in json.dumps(r["Properties"]["EventSourceArn"]) for q in queues)
    ]


def _trigger_targets(template: dict[str, Any]) -> list[str]:
    return [
        json.dumps(target["Arn"])
        for rule in _of_type(template, "AWS::Events::Rule").values()
        for target in rule["Properties"]["Targets"]
        if "trigger" in json.dumps(target["Arn"]).lower()
    ]


def test_without_the_setting_the_event_path_has_no_snapstart_and_is_invoked_as_before(
    deployments: dict[str, Deployment],
) -> None:
    template = deployments["Nudge"].template
    for key in EVENT_PATH:
        function_id, alias_id = _function_refs(template, key)
        assert alias_id is None and "SnapStart" not in template["Resources"][function_id]["Properties"]
        if key != "trigger":
            assert _mapped(template, key) == [json.dumps({"Ref": function_id})], key
    trigger_id, _ = _function_refs(template, "trigger")
    targets = _trigger_targets(template)
    assert targets and set(targets) == {json.dumps({"Fn::GetAtt": [trigger_id, "Arn"]})}


def test_with_the_setting_the_event_path_runs_with_snapstart_behind_its_alias(
    deployments: dict[str, Deployment],
) -> None:
    template = deployments["NudgeEventSnapStart"].template
    with_snapstart = {lid for lid, r in _functions(template).items() if r["Properties"].get("SnapStart")}
    assert len(with_snapstart) == len(topology.SNAPSTART_FUNCTIONS | EVENT_PATH) == 6
    for key in EVENT_PATH:
        function_id, alias_id = _function_refs(template, key)
        assert function_id in with_snapstart and alias_id is not None, key
        alias = template["Resources"][alias_id]["Properties"]
        assert alias["Name"] == LIVE_ALIAS and "Fn::GetAtt" in alias["FunctionVersion"]
        if key != "trigger":  # the queues' pollers invoke the alias (function-name:live), never the function
            [mapped] = _mapped(template, key)
            assert json.dumps({"Ref": alias_id}) in mapped and mapped.endswith(':live"]]}'), key


def test_with_the_setting_every_rule_invokes_the_triggers_alias_and_may_invoke_only_it(
    deployments: dict[str, Deployment],
) -> None:
    template = deployments["NudgeEventSnapStart"].template
    trigger_id, alias_id = _function_refs(template, "trigger")
    targets = _trigger_targets(template)
    assert targets and set(targets) == {json.dumps({"Ref": alias_id})}
    permissions = [
        p["Properties"]["FunctionName"]
        for p in _of_type(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "events.amazonaws.com"
        and any(i in json.dumps(p["Properties"]["FunctionName"]) for i in (trigger_id, alias_id))
    ]
    assert permissions and all(p == {"Ref": alias_id} for p in permissions)
    schedules = [
        json.dumps(s["Properties"]["Target"]["Arn"])
        for s in _of_type(template, "AWS::Scheduler::Schedule").values()
    ]
    assert schedules and not [s for s in schedules if trigger_id in s]  # no schedule invokes the function
