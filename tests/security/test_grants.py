"""Threat: a compromised function (the internet-facing inbox and unsubscribe routes first) does more
than its code ever does, and the edges AWS services reach us through are wider than they need be.

Each function's DynamoDB grants are the actions its code calls, table by table, and no more: the
handlers run a whole week of a shop on moto (events, delays, campaigns, scoring, SES feedback,
unsubscribe, the inbox, erasure, and a throttled batch read that sends delivery to its fallback)
while every DynamoDB request is recorded against the function that made it. The topology must
declare exactly what was recorded, and the synthesized roles must grant exactly that.
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from fakes import CAMPAIGNS
from moto import mock_aws
from payloads import identify, track

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "tests" / "infra") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests" / "infra"))

from synth import ACCOUNT, Statement, Synthesized, arn_of, synthesized_for  # noqa: E402

from nudge.local.runtime import LocalRuntime  # noqa: E402
from nudge.local.ses_events import ses_event, tagged_mail  # noqa: E402
from shared.campaigns.loader import load_campaign_dir  # noqa: E402
from shared.core.clock import SimulatedClock  # noqa: E402
from shared.delivery.links import UnsubscribeRequest  # noqa: E402
from shared.deployment import topology  # noqa: E402

START = datetime(2026, 11, 2, 8, tzinfo=UTC)  # a Monday
Recorded = dict[str, dict[str, set[str]]]  # function key → table key → DynamoDB actions called
# Grants the week does not reach yet (the hashed suppression kept when an erased shopper's address
# bounces or unsubscribes: shared.privacy.erasure.suppress_unless_erased reads the record, then updates it).
NOT_REACHED: dict[str, dict[str, set[str]]] = {
    "feedback": {"privacy": {"GetItem", "UpdateItem"}},
    "preferences": {"privacy": {"GetItem", "UpdateItem"}},
    # a batch-entered journey's entries (none ships yet; tests/integration/test_journeys.py runs one)
    "audience": {"journeys": {"GetItem", "PutItem"}},
    # the products a message shows (shared/catalog/enrichment.py): the week's campaigns show none
    # (tests/unit/test_catalog_products.py and tests/integration/test_catalog.py read them)
    "deliver": {"catalog": {"BatchGetItem"}},
    # a segment journey entered by an ingest write (the shipped one, at-risk-save, starts matching on new
    # scores, which the scorer writes; tests/integration/test_segment_entry.py runs an ingest-made entry)
    "ingest": {"journeys": {"GetItem", "PutItem"}},
    # a catalog campaign's fan-out: the week's shop changes no price or stock of a product a shopper looked
    # at (tests/integration/test_catalog_triggers.py runs it)
    "trigger": {"interest": {"Query"}},
}


# Paths only a race reaches: ingest re-reads a profile another invocation wrote first (the adversarial
# runtime plays that out in the week, but a change elsewhere may move it), and the erasure marker
# when that profile was erased meanwhile (docs/design.md, "Races the adversarial runtime found").
RACE_PATHS: dict[str, dict[str, set[str]]] = {"ingest": {"profiles": {"GetItem"}, "privacy": {"GetItem"}}}


def _with_unreached(function: str, recorded: Recorded) -> dict[str, set[str]]:
    merged = {table: set(actions) for table, actions in recorded.get(function, {}).items()}
    for table, actions in RACE_PATHS.get(function, {}).items():
        merged.setdefault(table, set()).update(actions)
    return {**merged, **NOT_REACHED.get(function, {})}


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesized_for(tmp_path_factory)


class FailNextBatchRead:
    """Throttles the next ``BatchGetItem`` the deliver function makes (as one the SDK's retries did
    not absorb), so the run also takes delivery's per-job fallback reads."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime, self.armed = runtime, False

    def __call__(self, model: Any, **_: Any) -> None:
        if self.armed and model.name == "BatchGetItem" and self.runtime.running == "deliver":
            self.armed = False
            client = self.runtime.client("dynamodb")
            error = {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded (injected)"}}
            raise client.exceptions.from_code("ThrottlingException")(error, model.name)


def week_of_a_shop(runtime: LocalRuntime) -> None:
    """Every function, on every path that reads or writes a table."""
    failing = FailNextBatchRead(runtime)
    runtime.client("dynamodb").meta.events.register("before-call.dynamodb", failing)
    runtime.publish_model((ROOT / "models" / "scoring-model.json").read_text())
    # the catalog feed put (loaded at once, and again by each day's schedule, changing nothing then)
    assert runtime.put_catalog_feed(b"product_id,name,price\nfeed-1,Runner,40\nfeed-2,Knit,30\n") == 1
    endpoint = runtime.register_push_endpoint("GCM", "device-ann", user_id="ann")
    consent = {"email": True, "push": True, "in_app": True}
    traits = {"email": "ann@example.com", "firstName": "Ann", "timezone": "UTC", "consent": consent}
    runtime.publish(
        [
            identify("ann", "i-ann", "2026-11-02T07:00:00Z", push_endpoint=endpoint, **traits),
            identify("bob", "i-bob", "2026-11-02T07:00:00Z", **{**traits, "email": "bob@example.com"}),
            identify("cy", "i-cy", "2026-11-02T07:00:00Z", timezone="UTC", consent={"in_app": True}),
            track(
                "ann", "Product Viewed", "v-ann", "2026-11-02T07:10:00Z", product_id="p1", category="shoes"
            ),
            track("ann", "Product Added", "a-ann", "2026-11-02T07:20:00Z", product_id="p1", price=40),
        ]
    )
    runtime.drain()
    failing.armed = True  # the order's thank-you reads profiles and ledgers one by one
    runtime.publish(
        [
            track(
                "ann", "Order Completed", "o-ann", "2026-11-02T07:40:00Z", order_id="o1", revenue=40, total=40
            )
        ]
    )
    runtime.drain()
    assert not failing.armed, "the injected throttle never fired"
    runtime.advance_to(START + timedelta(hours=1))  # a second order, after the messages: a conversion
    runtime.publish(
        [
            track(
                "ann",
                "Order Completed",
                "o2-ann",
                "2026-11-02T09:00:00Z",
                order_id="o2",
                revenue=60,
                total=60,
            )
        ]
    )
    runtime.drain()
    runtime.advance_to(START + timedelta(days=6, hours=4))  # delays, Thursday and Saturday campaigns, scoring
    emails = [m for m in runtime.sent if m.channel == "email" and m.user_id == "ann"]
    assert emails, "no email went out to measure"
    mail = tagged_mail("ann", emails[0].campaign_id, emails[0].provider_id)
    runtime.publish_aws_event(ses_event("Delivery", mail, delivery={"timestamp": "2026-11-02T09:00:00Z"}))
    # Tagged with its send key, as Nudge's mail is; the log has no outcome with SES's id for it, so
    # feedback looks for the claim in the ledger to reconcile (shared/delivery/feedback.py).
    bounced = tagged_mail("bob", "welcome", "m-bob", "welcome#once#bob")
    runtime.publish_aws_event(ses_event("Bounce", bounced, bounce={"bounceType": "Permanent"}))
    unread = runtime.http("GET", "/inbox", user_id="cy")
    assert unread["statusCode"] == 200 and '"message_key"' in unread["body"], unread
    key = json.loads(unread["body"])["messages"][0]["message_key"]
    assert runtime.http("POST", f"/inbox/{key}/read", user_id="cy")["statusCode"] == 200
    link = runtime.signer.url(
        "https://x/unsubscribe",
        UnsubscribeRequest(user_id="ann", channel="email", campaign_id="order-thank-you"),
    )
    query = dict(parse_qsl(urlsplit(link).query))
    assert runtime.http("POST", topology.UNSUBSCRIBE_PATH, query=query, body="List-Unsubscribe=One-Click")[
        "statusCode"
    ] in (200, 204)
    # dee's cart email is a variant of cart-recovery's experiment and her order after it converts for it:
    # deliver adds the batch's sends per variant, ingest the conversion, to the experiment's counts
    now = runtime.clock.now()

    def at(minutes: int) -> str:
        return (now + timedelta(minutes=minutes)).strftime("%Y-%m-%dT%H:%M:%SZ")

    dee = {**traits, "email": "dee@example.com", "firstName": "Dee"}
    runtime.publish([identify("dee", "i-dee", at(0), **dee)])
    runtime.publish([track("dee", "Product Added", "a-dee", at(1), product_id="p2", price=30)])
    runtime.drain()
    runtime.advance_to(now + timedelta(hours=2))  # the cart email at an hour
    runtime.publish([track("dee", "Order Completed", "o-dee", at(120), order_id="o3", revenue=30, total=30)])
    runtime.drain()
    for shopper in ("ann", "cy"):  # cy's inbox, ann's conversions, both their send logs and ledgers
        assert runtime.http("DELETE", "/me", user_id=shopper)["statusCode"] == 200


@pytest.fixture(scope="module")
def recorded() -> Recorded:
    calls: Recorded = defaultdict(lambda: defaultdict(set))
    with mock_aws():
        runtime = LocalRuntime(
            load_campaign_dir(CAMPAIGNS),
            SimulatedClock(START),
            audience_segments=None,
            log_level="CRITICAL",
            catalog_feed_key="catalog/products.csv",
        )
        tables = {name: key for key, name in runtime.table_names.items()}

        def record(params: dict[str, Any], model: Any, **_: Any) -> None:
            if runtime.running is None:
                return  # the test's own set-up and inspection
            names = [params["TableName"]] if "TableName" in params else list(params.get("RequestItems", {}))
            for name in names:
                calls[runtime.running][tables[name]].add(model.name)

        runtime.client("dynamodb").meta.events.register("before-parameter-build.dynamodb", record)
        week_of_a_shop(runtime)
        assert runtime.parked() == [], [p.reason for p in runtime.parked()]
    return {function: dict(by_table) for function, by_table in calls.items()}


def test_the_week_runs_every_function_that_has_a_table(recorded: Recorded) -> None:
    assert sorted(recorded) == sorted(f.key for f in topology.FUNCTIONS if f.tables)


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda s: s.key)
def test_the_topology_declares_exactly_the_dynamodb_actions_the_code_calls(
    spec: topology.FunctionSpec, recorded: Recorded
) -> None:
    declared = {table: set(actions) for table, actions in spec.tables.items()}
    assert declared == _with_unreached(spec.key, recorded)


def _granted_on(statements: list[Statement], resource: Any) -> set[str]:
    return {
        a.removeprefix("dynamodb:")
        for s in statements
        if s.effect == "Allow" and resource in s.resources
        for a in s.actions
        if a.startswith("dynamodb:")
    }


@pytest.mark.parametrize("spec", topology.FUNCTIONS, ids=lambda s: s.key)
def test_each_role_grants_exactly_the_dynamodb_actions_the_code_calls(
    spec: topology.FunctionSpec, recorded: Recorded, synthesized: Synthesized
) -> None:
    statements = synthesized.function_statements(spec.key)
    granted = {
        table.key: actions
        for table in topology.TABLES
        if (actions := _granted_on(statements, arn_of(synthesized.table_id(table.key))))
    }
    assert granted == _with_unreached(spec.key, recorded)


# -- the edges AWS services reach us through -----------------------------------------------------------


def test_cloudwatch_may_use_the_alarm_key_only_for_this_account(synthesized: Synthesized) -> None:
    [key] = synthesized.of_type("AWS::KMS::Key").values()
    statements = [Statement.of(s) for s in key["KeyPolicy"]["Statement"]]
    for statement in statements:
        principal = statement.raw["Principal"]
        if principal == {"Service": "cloudwatch.amazonaws.com"}:
            assert sorted(statement.actions) == ["kms:Decrypt", "kms:GenerateDataKey"]
            assert statement.raw["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    assert any(s.raw["Principal"] == {"Service": "cloudwatch.amazonaws.com"} for s in statements)


def test_the_http_api_stage_is_throttled_by_default(synthesized: Synthesized) -> None:
    from infra.throttling import API_THROTTLE_DEFAULTS

    [stage] = synthesized.of_type("AWS::ApiGatewayV2::Stage").values()
    assert stage["DefaultRouteSettings"] == {
        "ThrottlingBurstLimit": API_THROTTLE_DEFAULTS.burst,
        "ThrottlingRateLimit": API_THROTTLE_DEFAULTS.rate,
    }
    assert (API_THROTTLE_DEFAULTS.burst, API_THROTTLE_DEFAULTS.rate) == (200, 100)


@pytest.mark.parametrize(
    ("context", "expected"),
    [({}, (200, 100.0)), ({"api_throttle_burst": "50", "api_throttle_rate": 12.5}, (50, 12.5))],
)
def test_stage_throttling_reads_its_context_values(
    context: dict[str, Any], expected: tuple[int, float]
) -> None:
    import aws_cdk as cdk

    from infra.throttling import api_throttling

    throttle = api_throttling(cdk.App(context=context))
    assert (throttle.burst, throttle.rate) == expected


@pytest.mark.parametrize("context", [{"api_throttle_burst": "0"}, {"api_throttle_rate": "fast"}])
def test_stage_throttling_refuses_a_value_that_is_not_a_positive_number(context: dict[str, Any]) -> None:
    import aws_cdk as cdk

    from infra.throttling import api_throttling

    with pytest.raises(ValueError, match="api_throttle_"):
        api_throttling(cdk.App(context=context))
