"""Experiments through the deliver function on moto: the variant a shopper draws is logged with the
decision and its content is what SES receives; the global control group is withheld and logged as
its own decision, while a transactional campaign still reaches it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from factory import sent_emails
from fakes import catalog_without, identify_shopper
from moto import mock_aws

from nudge.local.runtime import LocalRuntime
from shared.campaigns.jobs import DeliveryJob
from shared.campaigns.loader import Catalog
from shared.core.clock import SimulatedClock
from shared.delivery.guards import in_holdout
from shared.experiments.assignment import assign_variant, in_global_control

SALE = "weekend-sale-sea"
VARIANTS = {"forty": 1.0, "free-shipping": 1.0}


def experiment_catalog() -> Catalog:
    """The shipped catalog with a 5% global control and the weekend sale as two subjects."""
    shipped = catalog_without("welcome")
    sale = shipped.get(SALE)
    assert sale is not None and sale.channels.email is not None
    email = sale.channels.email
    free = email.model_copy(update={"subject": "Free shipping all weekend"})
    tested = sale.model_validate(
        {
            **sale.model_dump(exclude_none=True),
            "variants": [
                {"id": "forty", "weight": 1},
                {
                    "id": "free-shipping",
                    "weight": 1,
                    "channels": {"email": free.model_dump(exclude_none=True)},
                },
            ],
            "experiment": {"mode": "winner"},
        }
    )
    policy = shipped.policy.model_copy(update={"global_control_percent": 5.0})
    return Catalog([*(c for c in shipped if c.id != SALE), tested], policy, shipped.custom)


@pytest.fixture
def runtime() -> Iterator[LocalRuntime]:
    with mock_aws():
        clock = SimulatedClock(datetime(2026, 11, 7, 3, tzinfo=UTC))
        yield LocalRuntime(
            experiment_catalog(), clock, audience_segments=1, log_level="CRITICAL", gentle=True
        )


def sale_job(user_id: str) -> DeliveryJob:
    return DeliveryJob.for_occurrence(SALE, "2026-11-07T03:00:00Z", user_id)


def treated(count: int) -> list[str]:
    users = (f"u{i}" for i in range(500))
    return [u for u in users if not in_holdout(SALE, u, 10) and not in_global_control(u, 5)][:count]


def test_each_shopper_gets_and_is_logged_with_the_variant_they_draw(runtime: LocalRuntime) -> None:
    users = treated(6)
    for user in users:
        identify_shopper(runtime, user, at="2026-11-07T02:00:00Z", timezone="Asia/Jakarta")
    runtime.invoke("deliver", runtime.sqs_event("delivery", (sale_job(u).model_dump_json() for u in users)))
    logged = {
        e["user_id"]: e for u in users for e in runtime.send_log.entries_for(u) if e["campaign_id"] == SALE
    }
    expected = {u: assign_variant(f"{SALE}:send", u, VARIANTS) for u in users}
    assert {u: (e["status"], e.get("variant")) for u, e in logged.items()} == {
        u: ("sent", v) for u, v in expected.items()
    }
    assert sorted(set(expected.values())) == ["forty", "free-shipping"]  # both drawn among six
    subjects = {str(m["To"]).split("@")[0]: str(m["Subject"]) for m in sent_emails()}
    for user, variant in expected.items():
        assert (subjects[user] == "Free shipping all weekend") is (variant == "free-shipping")


def test_the_global_control_gets_no_marketing_but_its_transactional_message(runtime: LocalRuntime) -> None:
    control = next(f"u{i}" for i in range(500) if in_global_control(f"u{i}", 5))
    identify_shopper(runtime, control, at="2026-11-07T02:00:00Z", timezone="Asia/Jakarta")
    runtime.invoke("deliver", runtime.sqs_event("delivery", [sale_job(control).model_dump_json()]))
    entries = [e for e in runtime.send_log.entries_for(control) if e["campaign_id"] == SALE]
    assert [(e["status"], e.get("reason"), e.get("group"), e.get("variant")) for e in entries] == [
        ("withheld_global_control", "global control 5%", "global_control", None)
    ]
    assert sent_emails() == []
