"""The scheduled catalog feed on moto: the object in the feed bucket, loaded by the catalog_feed function
when its daily schedule fires and when the object is put; bad rows refused with their line and field,
the same object loaded twice changing nothing, an unreadable object failing with its bucket and key."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from botocore.response import StreamingBody
from moto import mock_aws

from nudge.local.account import FEED_BUCKET_NAME
from nudge.local.runtime import LocalRuntime
from shared.adapters.dynamo.catalog import DynamoProductCatalog
from shared.adapters.feed_objects import S3FeedObjects
from shared.campaigns.loader import Catalog
from shared.catalog.feed_run import FeedUnreadable
from shared.core.clock import SimulatedClock
from shared.deployment import topology

START = datetime(2026, 11, 2, 8, tzinfo=UTC)  # a Monday
FEED_KEY = "catalog/products.csv"
WHERE = f"s3://{FEED_BUCKET_NAME}/{FEED_KEY}"
SCHEDULED = {"run": "2026-11-03T01:00:00Z"}
CSV = (
    "product_id,name,price,currency,stock\n"
    "p-1,Aero,59.99,USD,12\n"
    "p-2,Flex,-3,USD,\n"
    "p-3,Trail,20,usd,0\n"
    ",Nameless,5,USD,1\n"
)


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(START)


@pytest.fixture
def catalog() -> Catalog:
    return Catalog([])  # no campaign: the runs here are the feed's only


def runtime_with(catalog: Catalog, clock: SimulatedClock, feed_key: str | None) -> LocalRuntime:
    return LocalRuntime(catalog, clock, log_level="CRITICAL", catalog_feed_key=feed_key)


@pytest.fixture
def runtime(catalog: Catalog, clock: SimulatedClock) -> Iterator[LocalRuntime]:
    with mock_aws():
        yield runtime_with(catalog, clock, FEED_KEY)


def products(runtime: LocalRuntime, *ids: str) -> dict[str, Any]:
    return DynamoProductCatalog(runtime.client("dynamodb"), runtime.table_names["catalog"]).get_many(ids)


def put_quietly(runtime: LocalRuntime, body: str, key: str = FEED_KEY) -> datetime:
    """The object put without S3's event (as if its rule were not there); its LastModified."""
    s3 = runtime.client("s3")
    s3.put_object(Bucket=FEED_BUCKET_NAME, Key=key, Body=body.encode())
    modified: datetime = s3.head_object(Bucket=FEED_BUCKET_NAME, Key=key)["LastModified"]
    return modified


def test_the_daily_schedule_loads_the_feed_object_with_its_last_modified_as_the_rows_time(
    runtime: LocalRuntime,
) -> None:
    modified = put_quietly(runtime, CSV)

    runtime.advance_to(datetime(2026, 11, 3, 0, 59, tzinfo=UTC))
    assert runtime.invocations.get("catalog_feed", 0) == 0
    runtime.advance_to(datetime(2026, 11, 3, 1, 30, tzinfo=UTC))

    assert runtime.invocations["catalog_feed"] == 1
    found = products(runtime, "p-1", "p-2", "p-3")
    assert sorted(found) == ["p-1", "p-3"]
    assert (found["p-1"].price, found["p-1"].stock, found["p-1"].in_stock) == (Decimal("59.99"), 12, True)
    assert (found["p-3"].currency, found["p-3"].in_stock) == ("USD", False)
    assert found["p-1"].updated_at == found["p-3"].updated_at == modified


def test_putting_the_object_loads_it_and_loading_the_same_object_again_changes_nothing(
    runtime: LocalRuntime,
) -> None:
    matched = runtime.put_catalog_feed(CSV.encode())

    assert matched == 1
    assert runtime.invocations["catalog_feed"] == 1
    found = products(runtime, "p-1", "p-3")
    assert sorted(found) == ["p-1", "p-3"]
    assert found["p-1"].updated_at == START  # S3 stamps the put with the (simulated) time of the put
    writes_before = runtime.requests["catalog_feed", "dynamodb.BatchWriteItem"]

    again = runtime.invoke("catalog_feed", SCHEDULED)

    assert (again["rows"], again["loaded"], again["changed"], again["refused_rows"]) == (4, 2, 0, 2)
    assert runtime.requests["catalog_feed", "dynamodb.BatchWriteItem"] == writes_before


def test_a_bad_row_is_named_by_line_and_field_and_every_good_row_is_loaded(runtime: LocalRuntime) -> None:
    modified = put_quietly(runtime, CSV)

    record = runtime.invoke("catalog_feed", SCHEDULED)

    assert record == {
        "object": WHERE,
        "version": record["version"],
        "last_modified": modified.isoformat(),
        "rows": 4,
        "loaded": 2,
        "changed": 2,
        "price_drops": 0,
        "restocks": 0,
        "refused_rows": 2,
        "problems": [
            "line 3: price: Input should be greater than or equal to 0",
            "line 5: product_id: Input should be a valid string",
        ],
    }
    assert record["version"]  # the bucket is versioned: the run names the version it loaded


def test_a_newer_feed_drops_a_price_and_restocks_a_product(runtime: LocalRuntime) -> None:
    # their own times: two objects put within a second have the same LastModified (S3 keeps seconds)
    put_quietly(
        runtime,
        "product_id,name,price,stock,updated_at\np-1,Aero,59.99,12,2026-11-01T00:00Z\n"
        "p-3,Trail,20,0,2026-11-01T00:00Z\n",
    )
    runtime.invoke("catalog_feed", SCHEDULED)
    put_quietly(
        runtime,
        "product_id,price,stock,updated_at\np-1,49.99,12,2026-11-02T00:00Z\np-3,20,4,2026-11-02T00:00Z\n",
    )

    record = runtime.invoke("catalog_feed", SCHEDULED)

    assert (record["changed"], record["price_drops"], record["restocks"]) == (2, 1, 1)
    found = products(runtime, "p-1", "p-3")
    assert (found["p-1"].price, found["p-1"].name, found["p-3"].stock) == (Decimal("49.99"), "Aero", 4)


def test_a_json_lines_feed_reads_one_object_a_line_and_keeps_its_rows_own_time(
    catalog: Catalog, clock: SimulatedClock
) -> None:
    rows = [
        {"product_id": "p-1", "price": 10, "updated_at": "2026-11-01T00:00:00Z"},
        {"product_id": "p-2", "price": "x"},
        {"product_id": "p-3", "price": -1, "currency": "dollars"},
    ]
    with mock_aws():
        runtime = runtime_with(catalog, clock, "feed.jsonl")
        put_quietly(runtime, "".join(json.dumps(r) + "\n" for r in rows), key="feed.jsonl")

        record = runtime.invoke("catalog_feed", SCHEDULED)

        assert (record["loaded"], record["refused_rows"]) == (1, 2)  # rows, however many problems each
        assert record["problems"] == [
            "line 2: price: Input should be a valid decimal",
            "line 3: price: Input should be greater than or equal to 0",
            "line 3: currency: Value error, an ISO 4217 code of three letters, e.g. USD",
        ]
        assert products(runtime, "p-1")["p-1"].updated_at == datetime(2026, 11, 1, tzinfo=UTC)


def test_a_feed_is_read_one_hundred_products_a_read_and_twenty_five_a_write(runtime: LocalRuntime) -> None:
    put_quietly(runtime, "product_id,price\n" + "".join(f"p-{i},{i}\n" for i in range(250)))

    record = runtime.invoke("catalog_feed", SCHEDULED)

    assert (record["loaded"], record["changed"]) == (250, 250)
    assert runtime.requests["catalog_feed", "dynamodb.BatchGetItem"] == 3
    assert runtime.requests["catalog_feed", "dynamodb.BatchWriteItem"] == 10
    assert runtime.requests["catalog_feed", "s3.GetObject"] == 1


def test_a_missing_object_fails_naming_its_bucket_and_key(runtime: LocalRuntime) -> None:
    with pytest.raises(FeedUnreadable, match=f"^{WHERE}: cannot be read \\(NoSuchKey\\)"):
        runtime.invoke("catalog_feed", SCHEDULED)


def test_a_scheduled_run_that_keeps_failing_is_retried_then_parked_with_its_bucket_and_key(
    runtime: LocalRuntime,
) -> None:
    runtime.advance_to(datetime(2026, 11, 3, 1, 30, tzinfo=UTC))

    assert runtime.invocations["catalog_feed"] == 1 + topology.ASYNC_RETRY_ATTEMPTS
    [parked] = runtime.parked()
    assert parked.queue == topology.PLANNER_DLQ_KEY
    assert parked.reason.startswith(f"FeedUnreadable: {WHERE}: cannot be read (NoSuchKey)")


def test_an_object_in_another_format_than_its_name_says_fails_naming_it(
    catalog: Catalog, clock: SimulatedClock
) -> None:
    with mock_aws():
        runtime = runtime_with(catalog, clock, "products.jsonl")
        put_quietly(runtime, CSV, key="products.jsonl")

        with pytest.raises(FeedUnreadable) as failed:
            runtime.invoke("catalog_feed", SCHEDULED)

        assert str(failed.value) == (
            f"s3://{FEED_BUCKET_NAME}/products.jsonl: none of its 5 rows is a product (read as JSON lines, "
            "from the key's name); the first: line 1: row: not JSON (Expecting value)"
        )
        assert products(runtime, "p-1") == {}


def test_an_object_that_is_not_utf8_text_fails_naming_the_line(runtime: LocalRuntime) -> None:
    runtime.client("s3").put_object(
        Bucket=FEED_BUCKET_NAME, Key=FEED_KEY, Body=b"product_id,price\np-1,1\np-\xe9,2\n"
    )

    with pytest.raises(FeedUnreadable, match=f"^{WHERE}: line 3 is not UTF-8 text$"):
        runtime.invoke("catalog_feed", SCHEDULED)


def test_without_a_feed_key_the_schedule_is_off_and_no_put_loads_anything(
    catalog: Catalog, clock: SimulatedClock
) -> None:
    with mock_aws():
        runtime = runtime_with(catalog, clock, None)
        matched = runtime.put_catalog_feed(CSV.encode(), key=FEED_KEY)
        runtime.advance_to(datetime(2026, 11, 4, 8, tzinfo=UTC))

        assert matched == 0
        assert runtime.invocations.get("catalog_feed", 0) == 0
        with pytest.raises(FeedUnreadable, match="no feed object is configured"):
            runtime.invoke("catalog_feed", SCHEDULED)


def test_the_object_is_streamed_line_by_line_not_read_whole() -> None:
    text = "product_id,price\n" + "".join(f"p-{i},{i}\n" for i in range(20_000))
    raw = io.BytesIO(("\ufeff" + text).encode())
    body = StreamingBody(raw, len(raw.getvalue()))

    class Client:
        def get_object(self, **_: Any) -> dict[str, Any]:
            return {"Body": body, "LastModified": START}

    lines = iter(S3FeedObjects(Client()).open("bucket", "feed.csv").lines)

    assert next(lines) == "product_id,price\n"  # the spreadsheet's byte-order mark dropped
    assert next(lines) == "p-0,0\n"
    assert raw.tell() < len(raw.getvalue()) / 3
    assert sum(1 for _ in lines) == 19_999


def test_a_run_is_counted_in_the_stacks_metrics(
    runtime: LocalRuntime, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "false")  # the local runtime turns them off
    put_quietly(runtime, CSV)
    capsys.readouterr()

    runtime.invoke("catalog_feed", SCHEDULED)

    found: dict[tuple[str, str], float] = {}
    for line in capsys.readouterr().out.splitlines():
        if line.startswith('{"_aws"'):
            document = json.loads(line)
            assert document["service"] == "nudge-catalog_feed"
            for metric in document["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
                found[metric["Name"], document.get("outcome", "")] = sum(document[metric["Name"]])
    assert found == {
        ("CatalogFeedRows", "loaded"): 2,
        ("CatalogFeedRows", "refused"): 2,
        ("CatalogFeedChanges", ""): 2,
    }


def test_a_run_records_its_first_twenty_problems_and_counts_every_refused_row(runtime: LocalRuntime) -> None:
    put_quietly(runtime, "product_id,price\np-ok,1\n" + "".join(f"p-{i},-{i + 1}\n" for i in range(30)))

    record = runtime.invoke("catalog_feed", SCHEDULED)

    assert (record["loaded"], record["refused_rows"], len(record["problems"])) == (1, 30, 20)
    assert record["problems"][-1] == "line 22: price: Input should be greater than or equal to 0"
