"""Lambda parity: every function, as the template deploys it, runs on a Lambda-shaped Python 3.13.

``.venv`` is Python 3.11 with whatever pip picked; Lambda runs python3.13 with the boto3 its runtime
ships and the Powertools layer's own Powertools and pydantic. Here each function's template ``Handler``
is imported in a fresh python3.13 whose module path holds the code asset from the synthesized cloud
assembly, the layer's packages and the runtime's boto3 at the versions in constraints/ — nothing else,
not moto, not PyYAML — and invoked once, against a moto server, with the template's own environment.

The events come from the local runtime driving a small day of the shop (it is what turns a publish or
a schedule into the SQS records, EventBridge events and HTTP payloads Lambda would hand over); the first
invocation of each function goes to Python 3.13 and its reply goes back into the runtime, the rest run
in-process. A missing python3.13 fails the test with that message: parity is not optional.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from synth import FEED_KEY, PSEUDO, Synthesized

from benchmarks.lambda_env import LambdaEnv, LambdaPythonMissing, invoke, lambda_env, pinned
from shared.deployment import topology

START = datetime(2026, 11, 2, 8, tzinfo=UTC)  # a Monday: a Monday-morning campaign and the daily scoring
# Installed in .venv for the CLI, tests or training, never in Lambda: the functions must not need them.
NOT_IN_LAMBDA = ("yaml", "typer", "rich", "moto", "numpy", "scipy", "aws_cdk", "pytest")
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@pytest.fixture(scope="module")
def env() -> LambdaEnv:
    started = time.perf_counter()
    try:
        built = lambda_env()
    except LambdaPythonMissing as missing:
        pytest.fail(str(missing), pytrace=False)
    how = "built" if built.built else "from cache"
    print(f"\nLambda environment {how} in {time.perf_counter() - started:.1f} s")
    return built


@pytest.fixture(scope="module")
def moto_server() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def test_the_lambda_environment_holds_exactly_the_pinned_versions(env: LambdaEnv) -> None:
    installed, pins = env.installed(), pinned()
    assert {name: installed[name] for name in pins} == pins
    assert set(installed) <= set(pins), (
        f"unpinned packages in the Lambda environment: {set(installed) - set(pins)}"
    )


def test_the_code_asset_is_what_the_template_deploys(synthesized: Synthesized) -> None:
    assets = {key: synthesized.code_asset(spec.key) for key, spec in topology.FUNCTIONS_BY_KEY.items()}
    assert len(set(assets.values())) == 1, "every function deploys the one code asset"
    asset = next(iter(assets.values()))
    assert (asset / "functions").is_dir() and (asset / "shared").is_dir() and (asset / "jinja2").is_dir()
    assert not (asset / "yaml").exists() and not (asset / "nudge").exists()


class _Resolver:
    """The template's environment values (Ref, Fn::GetAtt, Fn::Join) as the moto resources of the
    local runtime built from the same topology."""

    def __init__(self, synthesized: Synthesized, runtime: Any) -> None:
        from nudge.local.account import API_URL, DEFERRAL_ROLE_ARN, FEED_BUCKET_NAME, NAMES

        stack = synthesized.stack
        self.refs: dict[str, str] = dict(PSEUDO)
        self.attributes: dict[tuple[str, str], str] = {}
        for spec in topology.TABLES:
            self.refs[synthesized.table_id(spec.key)] = runtime.table_names[spec.key]
        for key in stack.queues:
            self.refs[synthesized.queue_id(key)] = runtime.queue_urls[key]
            self.attributes[(synthesized.queue_id(key), "Arn")] = runtime.queue_arn(key)
        self.refs[synthesized.logical_id(stack.signing_secret)] = runtime.signing_secret_arn
        self.refs[synthesized.logical_id(stack.privacy_key)] = runtime.privacy_key_arn
        self.refs[synthesized.logical_id(stack.catalog_key)] = runtime.catalog_key_arn
        self.refs[synthesized.logical_id(stack.feed_bucket)] = FEED_BUCKET_NAME
        self.attributes[(synthesized.logical_id(stack.deferral_role), "Arn")] = DEFERRAL_ROLE_ARN
        self.attributes[(synthesized.logical_id(stack.api), "ApiEndpoint")] = API_URL
        self.refs[synthesized.logical_id(stack.bus)] = NAMES.bus

    def __call__(self, function_key: str, name: str, value: Any) -> str:
        if isinstance(value, str):
            return value
        if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in self.refs:
            return self.refs[value["Ref"]]
        if (
            isinstance(value, dict)
            and set(value) == {"Fn::GetAtt"}
            and tuple(value["Fn::GetAtt"]) in self.attributes
        ):
            return self.attributes[tuple(value["Fn::GetAtt"])]
        if isinstance(value, dict) and set(value) == {"Fn::Join"}:
            separator, parts = value["Fn::Join"]
            return str(separator).join(self(function_key, name, part) for part in parts)
        pytest.fail(f"{function_key}: environment {name} = {value!r} has no moto counterpart; map it here")


@pytest.fixture(scope="module")
def runs(env: LambdaEnv, synthesized: Synthesized, moto_server: str) -> Iterator[dict[str, dict[str, Any]]]:
    """Drive the local runtime through a day of the shop against the moto server; the first call of
    each function runs in the Lambda environment. Yields function key -> the runner's reply."""
    from nudge.local import runtime as local
    from nudge.local.demo import default_model_path
    from nudge.local.ses_events import ses_event, tagged_mail
    from shared.core.clock import SimulatedClock

    base = {
        **FAKE_CREDENTIALS,
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_DEFAULT_REGION": local.REGION,
        "AWS_REGION": local.REGION,
    }
    saved = {name: os.environ.get(name) for name in base}
    os.environ.update(base)
    replies: dict[str, dict[str, Any]] = {}
    try:
        runtime = local.LocalRuntime(
            synthesized.catalog, SimulatedClock(START), log_level="CRITICAL", catalog_feed_key=FEED_KEY
        )
        runtime.publish_model(default_model_path().read_text())
        # the catalog feed, for its Tuesday 01:00 load (put quietly: S3's event would load it at once)
        feed = b"product_id\np-1\n"
        runtime.client("s3").put_object(Bucket=local.FEED_BUCKET_NAME, Key=FEED_KEY, Body=feed)
        resolve = _Resolver(synthesized, runtime)
        for key in topology.FUNCTIONS_BY_KEY:  # the stack's own configuration set, which moto lacks
            variables = synthesized.props(synthesized.function_id(key))["Environment"]["Variables"]
            if isinstance(variables.get("SES_CONFIGURATION_SET"), str):
                sesv2 = runtime.client("sesv2")
                if (
                    variables["SES_CONFIGURATION_SET"]
                    not in sesv2.list_configuration_sets()["ConfigurationSets"]
                ):
                    sesv2.create_configuration_set(ConfigurationSetName=variables["SES_CONFIGURATION_SET"])

        def in_lambda(key: str, inner: Any) -> Any:
            spec = topology.FUNCTIONS_BY_KEY[key]
            props = synthesized.props(synthesized.function_id(key))
            variables = props["Environment"]["Variables"]
            environment = {
                **base,
                "PATH": "/usr/bin:/bin",
                "TZ": ":UTC",
                "LAMBDA_TASK_ROOT": str(synthesized.code_asset(key)),
                "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
                "AWS_LAMBDA_FUNCTION_NAME": local.physical_name(key),
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(props["MemorySize"]),
                "_HANDLER": props["Handler"],
                **{name: resolve(key, name, value) for name, value in variables.items()},
            }

            def handler(event: Any, context: Any, ports: Any = None) -> Any:
                if key in replies:
                    return inner(event, context, ports=ports)
                fields = {
                    "function_name": context.function_name,
                    "memory_limit_in_mb": context.memory_limit_in_mb,
                    "invoked_function_arn": context.invoked_function_arn,
                    "aws_request_id": context.aws_request_id,
                    "timeout_s": spec.timeout_s,
                }
                started = time.perf_counter()
                reply = invoke(
                    env,
                    synthesized.code_asset(key),
                    props["Handler"],
                    event,
                    fields,
                    environment,
                    NOT_IN_LAMBDA,
                )
                reply["seconds"] = round(time.perf_counter() - started, 2)
                replies[key] = reply
                if not reply["ok"]:
                    raise RuntimeError(
                        f"{key} failed on Python 3.13:\n{reply['error']}\n{reply['logs'][-3000:]}"
                    )
                return reply["result"]

            return handler

        for key in topology.FUNCTIONS_BY_KEY:
            runtime._handlers[key] = in_lambda(key, runtime._handlers[key])

        day = START.strftime("%Y-%m-%d")
        runtime.publish(
            [
                {
                    "type": "identify",
                    "userId": "u-parity",
                    "messageId": "parity-identify",
                    "timestamp": f"{day}T07:00:00Z",
                    "traits": {"email": "u-parity@example.com", "firstName": "Ayu", "country": "ID"},
                },
                {
                    "type": "track",
                    "event": "Order Completed",
                    "userId": "u-parity",
                    "messageId": "parity-order",
                    "timestamp": f"{day}T07:30:00Z",
                    "properties": {"order_id": "o-1", "revenue": 42.0, "currency": "USD"},
                },
            ]
        )
        runtime.drain()
        runtime.advance_to(START + timedelta(hours=20))  # Monday's campaigns, Tuesday 02:00 scoring
        runtime.drain()
        bounce = ses_event(
            "Bounce", tagged_mail("u-parity", "welcome", "m-1"), bounce={"bounceType": "Permanent"}
        )
        runtime.invoke("feedback", bounce)
        runtime.http("GET", "/inbox", user_id="u-parity")
        runtime.http("GET", topology.UNSUBSCRIBE_PATH, query={"token": "not-a-signed-token"})
        runtime.http("DELETE", "/me", user_id="u-parity")
        yield replies
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def test_every_function_imports_and_runs_once_on_python_3_13(runs: dict[str, dict[str, Any]]) -> None:
    assert sorted(runs) == sorted(topology.FUNCTIONS_BY_KEY), "every function must have run on 3.13"
    for key, reply in runs.items():
        assert reply["ok"], f"{key}:\n{reply.get('error')}"
        assert reply["python"][:2] == [3, 13]
        result = reply["result"]
        if key in {spec.consumer for spec in topology.QUEUES}:
            assert result == {"batchItemFailures": []}, (key, result)
        if isinstance(result, dict) and "statusCode" in result:
            assert result["statusCode"] < 500, (key, result)
    print("\n" + "\n".join(f"{key}: {reply['seconds']} s" for key, reply in sorted(runs.items())))


def test_functions_load_only_the_asset_the_layer_the_runtime_and_the_standard_library(
    runs: dict[str, dict[str, Any]],
) -> None:
    allowed = {"task", "layer", "runtime", "stdlib", "stdlib-ext", "builtin"}
    for key, reply in runs.items():
        strays = {name: place for name, place in reply["origins"].items() if place not in allowed}
        assert strays == {}, f"{key} loaded modules from outside the Lambda module path: {strays}"
        assert reply["absent"] == list(NOT_IN_LAMBDA), (
            f"{key} could import {set(NOT_IN_LAMBDA) - set(reply['absent'])}"
        )
        assert reply["origins"].get("pydantic") == "layer" and reply["origins"].get("boto3") == "runtime"
        assert reply["origins"]["functions"] == "task" and reply["origins"]["shared"] == "task"


def test_functions_compile_none_of_the_code_asset_at_cold_start(runs: dict[str, dict[str, Any]]) -> None:
    """/var/task is read-only: a module shipped as source is compiled again at every cold start."""
    assert {key: reply["compiled"] for key, reply in runs.items() if reply["compiled"]} == {}


def test_the_code_asset_ships_bytecode_the_runtime_uses_without_checking_sources(
    synthesized: Synthesized,
) -> None:
    asset = synthesized.code_asset("ingest")
    sources = sorted(p for p in asset.rglob("*.py"))
    assert len(sources) > 100
    for source in sources:
        compiled = source.parent / "__pycache__" / f"{source.stem}.cpython-313.pyc"
        header = compiled.read_bytes()[:16]
        assert int.from_bytes(header[4:8], "little") == 0b01, f"{compiled}: not unchecked-hash bytecode"


def test_python_313_is_required(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Where python3.13 is missing the check fails with a message saying so, never passes silently."""
    from benchmarks import lambda_env as module

    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("PYENV_ROOT", str(tmp_path))
    monkeypatch.delenv("NUDGE_LAMBDA_PYTHON", raising=False)
    with pytest.raises(LambdaPythonMissing, match=r"python3\.13 is not on PATH"):
        module.find_python()
