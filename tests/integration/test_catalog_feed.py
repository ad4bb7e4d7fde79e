"""`nudge catalog load` on moto: a feed's good rows are loaded, each bad row is reported with its line
number and field, and a feed row older than the catalog's product changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from nudge.cli import app
from nudge.local.runtime import LocalRuntime
from shared.adapters.dynamo.catalog import DynamoProductCatalog
from shared.catalog.feed import load_feed
from shared.catalog.product import Product

WIDE = {"COLUMNS": "250"}
FED_AT = datetime(2026, 11, 2, 9, tzinfo=UTC)


def catalog_of(runtime: LocalRuntime) -> DynamoProductCatalog:
    return DynamoProductCatalog(runtime.client("dynamodb"), runtime.table_names["catalog"])


CSV = (
    "product_id,name,price,currency,stock,in_stock,image_url\n"
    "p-1,Aero,59.99,usd,12,,https://cdn.example.com/1.jpg\n"
    "p-2,Flex,-3,USD,,,\n"
    "p-3,Trail,20,USD,,no,javascript:alert(1)\n"
    "p-4,Cloud,35,USD,0,,\n"
    "p-5,Extra,1,USD,1,,,surplus\n"
    "p-6,Knit,15,USD,, No ,\n"
)


def test_a_csv_feed_loads_its_good_rows_and_names_each_bad_rows_line_and_field(
    runtime: LocalRuntime, stack: str, tmp_path: Path
) -> None:
    feed = tmp_path / "products.csv"
    feed.write_text(CSV)

    result = CliRunner().invoke(app, ["catalog", "load", str(feed), "--stack", stack], env=WIDE)

    assert result.exit_code == 1, result.output
    assert "products.csv: line 3: price: Input should be greater than or equal to 0" in result.output
    assert "products.csv: line 4: image_url: Value error, an http(s) URL" in result.output
    assert "products.csv: line 6: row: more values than the header's 7" in result.output
    assert (
        "3 of 6 rows loaded into Nudge: 3 products changed (0 cheaper, 0 back in stock), 3 rows refused"
        in result.output
    )
    found = catalog_of(runtime).get_many(["p-1", "p-2", "p-3", "p-4", "p-5", "p-6"])
    assert sorted(found) == ["p-1", "p-4", "p-6"]
    assert (found["p-1"].price, found["p-1"].currency, found["p-1"].stock, found["p-1"].in_stock) == (
        Decimal("59.99"),
        "USD",
        12,
        True,
    )
    assert (found["p-4"].stock, found["p-4"].in_stock) == (0, False)
    assert (found["p-6"].stock, found["p-6"].in_stock) == (None, False)


def test_a_json_lines_feed_with_a_broken_line_keeps_the_others_and_an_older_row_changes_nothing(
    runtime: LocalRuntime,
) -> None:
    catalog = catalog_of(runtime)
    newer = datetime(2026, 11, 2, 8, 30, tzinfo=UTC)  # than the row's own time, not than the feed's
    catalog.put_many([Product(product_id="p-1", price=Decimal(50), updated_at=newer)])
    lines = [
        json.dumps({"product_id": "p-1", "price": 40, "updated_at": "2026-11-02T08:00:00Z"}) + "\n",
        "\n",
        '{"product_id": "p-2", "price": \n',
        json.dumps(["p-3"]) + "\n",
        json.dumps({"product_id": "p-4", "price": "12.5", "in_stock": True}) + "\n",
    ]
    seen: list[int] = []

    report = load_feed(catalog, lines, "jsonl", FED_AT, lambda r: seen.append(r.rows))

    assert [str(r) for r in report.refused] == [
        "line 3: row: not JSON (Expecting value)",
        "line 4: row: not a JSON object",
    ]
    assert (report.rows, report.loaded, seen) == (4, 2, [4])
    assert [c.after.product_id for c in report.changes] == ["p-4"]
    found = catalog.get_many(["p-1", "p-4"])
    assert found["p-1"].price == Decimal(50)  # the feed's row was older than the catalog's product
    assert found["p-4"] == Product(product_id="p-4", price=Decimal("12.5"), in_stock=True, updated_at=FED_AT)


def test_a_long_feed_is_loaded_a_hundred_rows_a_read(runtime: LocalRuntime, aws_calls: object) -> None:
    lines = [json.dumps({"product_id": f"p-{i}", "price": i}) + "\n" for i in range(250)]
    seen: list[int] = []

    report = load_feed(catalog_of(runtime), lines, "jsonl", FED_AT, lambda r: seen.append(r.rows))

    assert (report.loaded, len(report.changes), seen) == (250, 250, [100, 200, 250])
    counts = aws_calls.counts  # type: ignore[attr-defined]
    assert (counts["dynamodb.BatchGetItem"], counts["dynamodb.BatchWriteItem"]) == (3, 10)


def test_the_load_commands_help_shows_an_example() -> None:
    result = CliRunner().invoke(app, ["catalog", "load", "--help"], env=WIDE)
    assert result.exit_code == 0
    assert "Example: nudge catalog load products.csv --stack Nudge" in result.output


def test_a_second_feed_counts_the_products_it_made_cheaper_and_brought_back_in_stock(
    runtime: LocalRuntime, stack: str, tmp_path: Path
) -> None:
    catalog_of(runtime).put_many(
        [
            Product(
                product_id="p-1", price=Decimal(100), stock=3, updated_at=datetime(2026, 11, 1, tzinfo=UTC)
            ),
            Product(
                product_id="p-2", price=Decimal(20), stock=0, updated_at=datetime(2026, 11, 1, tzinfo=UTC)
            ),
        ]
    )
    feed = tmp_path / "products.jsonl"
    feed.write_text(
        '{"product_id": "p-1", "price": 85}\n{"product_id": "p-2", "price": 20, "stock": 4}\n'
        '{"product_id": "p-3", "price": 5}\n'
    )

    result = CliRunner().invoke(app, ["catalog", "load", str(feed), "--stack", stack], env=WIDE)

    assert result.exit_code == 0, result.output
    assert (
        "3 of 3 rows loaded into Nudge: 3 products changed (1 cheaper, 1 back in stock), 0 rows refused"
        in (result.output)
    )
