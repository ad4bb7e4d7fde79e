"""A function's settings: every variable the topology gives it must be in its environment at cold
start, and a missing one fails there, naming the function and the variable (not a first request)."""

from __future__ import annotations

import pytest

from shared.deployment import topology
from shared.deployment.environment import deployment_environment, function_environment
from shared.platform.config import MissingConfiguration, Settings, missing_for


def environment(spec: topology.FunctionSpec) -> dict[str, str]:
    env = {name: f"value-of-{ref}" for name, ref in function_environment(spec).items()}
    env |= deployment_environment(
        spec,
        sender_email="shop@example.com",
        ses_configuration_set=None,
        trusted_event_sources=("nudge.app",),
        push_applications=(),
    )
    return env | {"POWERTOOLS_SERVICE_NAME": f"nudge-{spec.key}"}


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda s: s.key)
def test_the_environment_the_topology_gives_a_function_is_enough(spec: topology.FunctionSpec) -> None:
    assert missing_for(spec, environment(spec)) == []
    Settings.from_env(environment(spec))


@pytest.mark.parametrize(
    "spec", [f for f in topology.FUNCTIONS if function_environment(f)], ids=lambda s: s.key
)
def test_each_missing_variable_fails_the_cold_start_naming_it(spec: topology.FunctionSpec) -> None:
    for variable in function_environment(spec):
        env = environment(spec)
        del env[variable]
        with pytest.raises(
            MissingConfiguration, match=rf"function {spec.key}: missing environment .*{variable}"
        ):
            Settings.from_env(env)
        env[variable] = ""
        with pytest.raises(MissingConfiguration, match=variable):
            Settings.from_env(env)


def test_deployment_values_that_may_be_empty_and_those_that_may_not() -> None:
    deliver = topology.FUNCTIONS_BY_KEY["deliver"]
    env = environment(deliver) | {"SES_CONFIGURATION_SET": ""}
    assert missing_for(deliver, env) == []
    assert missing_for(deliver, env | {"SENDER_EMAIL": ""}) == ["SENDER_EMAIL"]


def test_settings_outside_a_nudge_function_are_not_checked() -> None:
    assert Settings.from_env({}).profiles_table is None
    assert Settings.from_env({"POWERTOOLS_SERVICE_NAME": "someone-else"}).profiles_table is None
