"""`nudge dlq` on moto: list what is parked and why, and redrive it to its work queue after a fix.

The command finds the queues in the stack's outputs (CloudFormation DescribeStacks), which the
runtime answers with the outputs the stack declares (``LocalRuntime.answer_describe_stacks``); every
SQS call is a real one on moto.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError
from payloads import track
from typer.testing import CliRunner

from nudge.cli import app
from nudge.local.runtime import LocalRuntime

WIDE = {"COLUMNS": "250"}


def park_throttled_events(runtime: LocalRuntime, *user_ids: str) -> Any:
    """Events of ``user_ids`` whose profile writes are throttled on every receive, then parked."""

    def refuse(params: dict[str, Any], **_: Any) -> None:
        if params.get("Item", {}).get("user_id", {}).get("S") in user_ids:
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow"}}, "PutItem")

    runtime.client("dynamodb").meta.events.register("provide-client-params.dynamodb.PutItem", refuse)
    runtime.publish([track(u, "Product Viewed", f"view-{u}") for u in user_ids])
    runtime.drain()
    return refuse


def run(*args: str) -> Any:
    return CliRunner().invoke(app, ["dlq", *args], env=WIDE)


def test_list_shows_each_dead_letter_queue_its_count_and_each_reason(
    runtime: LocalRuntime, stack: str
) -> None:
    park_throttled_events(runtime, "u1")
    runtime.invoke("ingest", runtime.sqs_event("ingest", ["not json"]))

    result = run("list", "--stack", stack)

    assert result.exit_code == 0, result.output
    summary = {line.split("│")[1].strip(): line for line in result.output.splitlines() if "│" in line}
    assert summary["ingest-dlq"].rstrip(" │").endswith("2")
    assert summary["delivery-dlq"].rstrip(" │").endswith("0")
    assert "gave up after 5 attempts: writing a profile or its conversions: ClientError" in result.output
    assert "body: not JSON" in result.output
    assert "event view-u1" in result.output
    assert (
        runtime.client("sqs").get_queue_attributes(
            QueueUrl=runtime.queue_urls["ingest-dlq"], AttributeNames=["ApproximateNumberOfMessages"]
        )["Attributes"]["ApproximateNumberOfMessages"]
        == "2"
    ), "listing must leave the messages where they are"


def test_redrive_moves_parked_events_back_and_they_are_ingested_after_the_fix(
    runtime: LocalRuntime, stack: str
) -> None:
    refuse = park_throttled_events(runtime, "u1", "u2", "u3")
    assert runtime.profiles.get("u1") is None
    runtime.client("dynamodb").meta.events.unregister("provide-client-params.dynamodb.PutItem", refuse)

    first = run("redrive", "ingest-dlq", "--stack", stack, "--limit", "2")
    assert first.exit_code == 0, first.output
    assert "moved 2 message(s) from ingest-dlq back to ingest" in first.output
    rest = run("redrive", "ingest-dlq", "--stack", stack)
    assert "moved 1 message(s)" in rest.output
    runtime.drain()

    assert runtime.parked() == []
    for user in ("u1", "u2", "u3"):
        profile = runtime.profiles.get(user)
        assert profile is not None and sum(profile.counts["Product Viewed"].values()) == 1


def test_redrive_refuses_the_dead_letter_queue_of_an_async_function(
    runtime: LocalRuntime, stack: str
) -> None:
    result = CliRunner().invoke(app, ["dlq", "redrive", "trigger-dlq", "--stack", stack])
    assert result.exit_code == 1
    assert "not queue work" in result.output
    unknown = CliRunner().invoke(app, ["dlq", "redrive", "nope", "--stack", stack])
    assert unknown.exit_code == 1 and "choose from ingest-dlq" in unknown.output


def test_list_reads_the_dead_letters_a_local_run_left(runtime: LocalRuntime, tmp_path: Path) -> None:
    runtime.invoke("ingest", runtime.sqs_event("ingest", ["not json"]))
    runtime.snapshot(tmp_path)

    result = run("list", "--store", str(tmp_path))

    assert result.exit_code == 0, result.output
    assert "ingest-dlq: 1 message(s)" in result.output
    assert "body: not JSON" in result.output
    missing = run("list", "--store", str(tmp_path / "nothing"))
    assert missing.exit_code == 1 and "run `nudge demo` first" in missing.output
