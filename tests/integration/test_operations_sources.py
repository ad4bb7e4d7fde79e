"""`why`, `report` and `dlq list` read through one interface (nudge/operations.py): a deployed stack
and a local run's dump answer the same questions with the same answers.

The runtime stands in for the deployed stack (its DescribeStacks is answered with the outputs
``infra/stack.py`` declares, every other call is real on moto); its snapshot is the local dump.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from fakes import START
from payloads import identify, track
from typer.testing import CliRunner

from nudge.cli import app
from nudge.local.runtime import LocalRuntime
from nudge.operations import DeployedStack, LocalDump, SourceMissing, open_source
from nudge.report.build import build_report
from shared.adapters.dynamo.experiments import DynamoExperimentStore
from shared.campaigns.variants import Variant
from shared.deployment import topology
from shared.experiments.review import ExperimentState

WIDE = {"COLUMNS": "250"}


@pytest.fixture
def stack(runtime: LocalRuntime) -> Iterator[str]:
    boto3.setup_default_session(region_name="us-east-1")
    assert boto3.DEFAULT_SESSION is not None
    runtime.answer_describe_stacks(boto3.DEFAULT_SESSION, "Nudge")
    yield "Nudge"
    boto3.DEFAULT_SESSION = None


@pytest.fixture
def dump(runtime: LocalRuntime, tmp_path: Path) -> Path:
    """A store with sends, a conversion and a parked event, left on disk as `nudge demo` leaves it."""
    runtime.publish(
        [identify(f"u{i}", f"id-{i}", email=f"u{i}@example.com", first_name=f"U{i}") for i in range(6)]
    )
    runtime.drain()
    runtime.clock.advance(timedelta(hours=2))
    runtime.publish([track("u1", "Order Completed", "order-1", at="2026-11-02T09:30:00Z", revenue=40.0)])
    runtime.invoke("ingest", runtime.sqs_event("ingest", ["not json"]))
    runtime.drain()
    experiments = DynamoExperimentStore(runtime.client("dynamodb"), runtime.table_names["models"])
    experiments.add("sale:send", "sent", {"a": 40, "b": 41})
    experiments.save(ExperimentState.start("sale:send", [Variant(id="a"), Variant(id="b")], START), "run-1")
    runtime.snapshot(tmp_path)
    return tmp_path


@pytest.mark.gentle("the sends must happen before the snapshot is compared, in a known order")
def test_the_stack_and_the_dump_give_the_same_answers(runtime: LocalRuntime, stack: str, dump: Path) -> None:
    deployed, local = DeployedStack(stack), LocalDump(dump)

    assert local.decisions("u1") == deployed.decisions("u1")
    assert [(e["campaign_id"], e["status"]) for e in local.decisions("u1")] == [
        ("welcome", "sent"),
        ("order-thank-you", "sent"),
    ]
    key = lambda e: e["send_key"]  # noqa: E731
    assert sorted(local.send_log(), key=key) == sorted(deployed.send_log(), key=key)
    assert len(local.send_log()) == 7  # six welcomes, one thank-you
    assert local.conversions() == deployed.conversions()
    assert (
        build_report(local.send_log(), local.conversions()).to_dict()
        == build_report(deployed.send_log(), deployed.conversions()).to_dict()
    )
    assert local.experiments() == deployed.experiments()
    [stored] = local.experiments()
    assert (stored.experiment_id, stored.sent, stored.run) == ("sale:send", {"a": 40, "b": 41}, "run-1")
    assert local.dead_letters(10) == deployed.dead_letters(10)
    parked = local.dead_letters(10)
    assert set(parked) == set(topology.DEAD_LETTER_QUEUES)
    assert parked["ingest-dlq"].count == 1 and parked["ingest-dlq"].messages[0].body == "not json"
    assert (
        local.dead_letters(0)["ingest-dlq"].messages == [] and local.dead_letters(0)["ingest-dlq"].count == 1
    )


@pytest.mark.gentle("one known send to show")
def test_why_prints_the_same_table_from_either_source(runtime: LocalRuntime, stack: str, dump: Path) -> None:
    from_stack = CliRunner().invoke(app, ["why", "u1", "--stack", stack], env=WIDE)
    from_dump = CliRunner().invoke(app, ["why", "u1", "--store", str(dump)], env=WIDE)

    assert from_stack.exit_code == from_dump.exit_code == 0, from_stack.output + from_dump.output
    assert from_stack.output == from_dump.output
    assert "welcome" in from_dump.output and "sent" in from_dump.output


def test_a_missing_dump_or_stack_output_is_one_clear_line(runtime: LocalRuntime, tmp_path: Path) -> None:
    with pytest.raises(SourceMissing, match="run `nudge demo` first"):
        open_source(None, tmp_path / "nothing").send_log()
    for command in (["why", "u1"], ["report"], ["dlq", "list"]):
        result = CliRunner().invoke(app, [*command, "--store", str(tmp_path / "nothing")], env=WIDE)
        assert result.exit_code == 1 and "not found: run `nudge demo` first" in result.output, command


def test_a_stack_that_is_not_nudge_is_named(runtime: LocalRuntime) -> None:
    session: Any = boto3.session.Session(region_name="us-east-1")
    session.events.register(
        "before-call.cloudformation.DescribeStacks",
        lambda **_: (
            AWSResponse("https://cf", 200, {}, None),
            {"Stacks": [{"StackName": "Other", "Outputs": []}]},
        ),
    )
    with pytest.raises(SourceMissing, match="stack Other has no output TableMessages: is it a Nudge stack"):
        DeployedStack("Other", session).send_log()


@pytest.mark.gentle("the visitor's reminder is decided before they log in")
def test_why_shows_the_decisions_made_for_the_shopper_before_they_logged_in(
    runtime: LocalRuntime, stack: str, tmp_path: Path
) -> None:
    cart = track("", "Product Added", "add-1", at="2026-11-02T07:50:00Z", product_id="p-1", price=60)
    del cart["userId"]
    runtime.publish([{**cart, "anonymousId": "phone-1"}])
    runtime.drain()
    runtime.advance_to(runtime.clock.now() + timedelta(hours=1))  # the reminder, for a visitor: not sent
    login = identify("u7", "login-7", at="2026-11-02T09:00:00Z", email="u7@example.com")
    runtime.publish([{**login, "anonymousId": "phone-1"}])
    runtime.drain()
    runtime.snapshot(tmp_path)

    local, deployed = LocalDump(tmp_path), DeployedStack(stack)

    assert local.decisions("u7") == deployed.decisions("u7")
    assert [
        (e["user_id"], e["campaign_id"], e["status"], e.get("reason")) for e in local.decisions("u7")
    ] == [
        ("anon:phone-1", "abandoned-cart", "skipped", "anonymous"),
        ("u7", "welcome", "sent", None),
    ]
    printed = CliRunner().invoke(app, ["why", "u7", "--store", str(tmp_path)], env=WIDE)
    assert printed.exit_code == 0 and "anonymous (before login, as anon:phone-1)" in printed.output
