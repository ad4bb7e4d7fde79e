"""Finding 12: ``anon:`` is the key space of anonymous visitors' profiles, not a user id.

An event with ``userId: "anon:visitor-7"`` used to fold into that visitor's anonymous profile, and a
JWT whose subject was ``anon:visitor-7`` could read its inbox or erase it. The reserved prefix is
refused wherever a user id enters: the event parser, the HTTP API's ``sub`` and ``nudge erase``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fakes import CAMPAIGNS
from moto import mock_aws
from payloads import identify
from typer.testing import CliRunner

from nudge.cli import app
from nudge.local.runtime import LocalRuntime
from shared.campaigns.loader import load_campaign_dir
from shared.core.clock import SimulatedClock
from shared.events.contract import EventRejected, parse_detail

START = datetime(2026, 11, 2, 8, tzinfo=UTC)


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    with mock_aws():
        yield LocalRuntime(load_campaign_dir(CAMPAIGNS), SimulatedClock(START), log_level="CRITICAL")


def visit(anonymous_id: str, message_id: str) -> dict[str, Any]:
    return {
        "type": "track",
        "event": "Product Viewed",
        "anonymousId": anonymous_id,
        "messageId": message_id,
        "timestamp": "2026-11-02T07:00:00Z",
        "properties": {"product_id": "p1", "category": "shoes"},
    }


def test_the_parser_refuses_a_user_id_in_the_anonymous_key_space() -> None:
    detail = {**visit("x", "m1"), "userId": "anon:visitor-7"}
    with pytest.raises(EventRejected) as refused:
        parse_detail(detail)
    assert refused.value.reason.startswith("detail.userId: ")
    assert "'anon:' is reserved" in refused.value.reason
    # the prefix only: an id that merely contains it is a user id like any other
    assert parse_detail({**detail, "userId": "shop-anon:7"}).profile_id == "shop-anon:7"
    assert parse_detail({**detail, "userId": "Anon:7"}).profile_id == "Anon:7"


def test_an_event_claiming_a_visitors_profile_is_parked_and_the_profile_is_untouched(
    runtime: LocalRuntime,
) -> None:
    runtime.publish([visit("visitor-7", "m1")])
    runtime.drain()
    before = runtime.profiles.get("anon:visitor-7")
    assert before is not None and before.traits == {}

    traits = {"email": "attacker@example.net", "consent": {"email": True}}
    forged = identify("anon:visitor-7", "m2", "2026-11-02T07:05:00Z", **traits)
    runtime.publish([forged, visit("visitor-8", "m3")])
    runtime.drain()

    after = runtime.profiles.get("anon:visitor-7")
    assert after is not None and after.traits == {} and after.version == before.version
    assert runtime.profiles.get("anon:visitor-8") is not None  # the batch-mate was stored
    parked = runtime.parked()
    assert "ingest-dlq" in {p.queue for p in parked}  # (the welcome's trigger refuses it too)
    for message in parked:
        assert message.reason.startswith("detail.userId: ") and "reserved" in message.reason, message


@pytest.mark.parametrize(("method", "path"), [("DELETE", "/me"), ("GET", "/inbox")])
def test_a_token_whose_subject_is_an_anonymous_profile_is_refused(
    runtime: LocalRuntime, method: str, path: str
) -> None:
    runtime.publish([visit("visitor-7", "m1")])
    runtime.drain()

    response = runtime.http(method, path, user_id="anon:visitor-7")

    assert response["statusCode"] == 403
    assert "reserved" in json.loads(response["body"])["message"]
    assert runtime.profiles.get("anon:visitor-7") is not None


def test_nudge_erase_refuses_an_anonymous_profile_id_before_touching_the_stack() -> None:
    # No stack and no credentials are needed to be refused: nothing is looked up.
    result = CliRunner().invoke(app, ["erase", "anon:visitor-7", "--stack", "Nowhere", "--yes"])
    assert result.exit_code == 2
    assert "'anon:' is reserved" in result.output
