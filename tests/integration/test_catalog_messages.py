"""A message that shows catalog products on moto: it reads the catalog once at send time, shows the
current price (not the one the shopper saw), and its send-log entry names the products it carried,
which `nudge why` prints."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from fakes import CAMPAIGNS, identify_shopper, triggered
from typer.testing import CliRunner

from nudge.cli import app
from nudge.local.runtime import LocalRuntime
from shared.adapters.dynamo.catalog import DynamoProductCatalog
from shared.campaigns.jobs import DeliveryJob, TriggerContext
from shared.campaigns.loader import Catalog, load_campaign_dir
from shared.catalog.product import Product

FED_AT = datetime(2026, 11, 2, 7, tzinfo=UTC)
BODY = "now {{ event.current_price }} (you saw {{ event.price }}); also {{ product('p-9').name }}"


@pytest.fixture
def catalog() -> Catalog:
    shipped = load_campaign_dir(CAMPAIGNS)
    shows = triggered("price-now", {"in_app": {"title": "Still there", "body": BODY}}, event="Product Viewed")
    return Catalog([shows], shipped.policy, shipped.custom)


def deliver(runtime: LocalRuntime, job: DeliveryJob) -> Any:
    return runtime.invoke("deliver", runtime.sqs_event("delivery", [job.model_dump_json()]))


def test_a_message_shows_the_current_price_and_why_names_its_products(
    runtime: LocalRuntime, stack: str
) -> None:
    identify_shopper(runtime, "u1", consent={"email": False, "push": False, "in_app": True})
    DynamoProductCatalog(runtime.client("dynamodb"), runtime.table_names["catalog"]).put_many(
        [
            Product(
                product_id="p-17", price=Decimal("39.90"), updated_at=datetime(2026, 11, 2, 7, tzinfo=UTC)
            ),
            Product(product_id="p-9", name="Trail Sock", updated_at=datetime(2026, 11, 2, 7, tzinfo=UTC)),
        ]
    )
    viewed = TriggerContext(
        event="Product Viewed",
        message_id="v-1",
        timestamp=runtime.clock.now(),
        properties={"product_id": "p-17", "price": 49.9},
    )
    catalog_reads: list[list[str]] = []

    def note(params: dict[str, Any], **_: Any) -> None:
        keys = params["RequestItems"].get(runtime.table_names["catalog"], {}).get("Keys", [])
        if keys:
            catalog_reads.append(sorted(k["product_id"]["S"] for k in keys))

    runtime.client("dynamodb").meta.events.register("provide-client-params.dynamodb.BatchGetItem", note)

    assert deliver(runtime, DeliveryJob.for_trigger("price-now", "u1", viewed)) == {"batchItemFailures": []}

    assert catalog_reads == [["p-17", "p-9"]]  # one read, at send time
    [item] = runtime.scan("inbox")
    assert item["body"] == "now 39.90 (you saw 49.9); also Trail Sock"
    [entry] = runtime.send_log.entries_for("u1")
    assert (entry["status"], entry["products"]) == ("sent", ["p-9", "p-17"])
    result = CliRunner().invoke(app, ["why", "u1", "--stack", stack], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "products: p-9, p-17" in result.output
