"""``nudge catalog load``: a product feed (JSON lines or CSV) into a deployed stack's catalog."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress, TextColumn, TimeElapsedColumn

from nudge.cli.common import app, console
from nudge.operations import DeployedStack, SourceMissing
from shared.adapters.eventbus import internal_publisher
from shared.catalog.announcements import Announcements
from shared.catalog.feed import FeedReport, feed_format, load_feed
from shared.core.keys import HmacKey
from shared.deployment import topology

MAX_SHOWN_PROBLEMS = 50

catalog_app = typer.Typer(help="The product catalog (docs/catalog.md).", no_args_is_help=True)
app.add_typer(catalog_app, name="catalog")


# The CLI does not know the deployed campaigns' thresholds: it announces every price drop and restock
# (PutEvents, $1 a million), and each catalog campaign's rule takes the ones it wants.
ANNOUNCED_DROP_PERCENT = Decimal("0.01")


def _announcements(deployed: DeployedStack) -> Announcements | None:
    """The feed's price drops and restocks, put on the stack's bus and sealed with its catalog key, read
    on the first announcement (docs/catalog.md, triggers; docs/security.md)."""
    bus = deployed.outputs.get(topology.BUS_OUTPUT)
    if not bus:
        return None
    publish = internal_publisher(deployed.client("events"), bus)
    key_arn, secrets = deployed.output(topology.CATALOG_KEY_OUTPUT), deployed.client("secretsmanager")
    key = HmacKey(lambda: str(secrets.get_secret_value(SecretId=key_arn)["SecretString"]).encode())
    return Announcements(publish, ANNOUNCED_DROP_PERCENT, True, key)


@catalog_app.command("load")
def catalog_load(
    file: Annotated[
        Path,
        typer.Argument(metavar="FILE", exists=True, dir_okay=False, help="products.jsonl or products.csv"),
    ],
    stack: Annotated[str, typer.Option(help="The deployed stack (AWS credentials needed).")],
    csv: Annotated[
        bool | None, typer.Option("--csv/--jsonl", help="The format (default: from the name).")
    ] = None,
) -> None:
    """Load a product feed into the stack's catalog: one product a row (JSON lines, or CSV with a
    header), fields product_id, sku, name, price, currency, category, image_url, url, stock or
    in_stock, updated_at (default: now). A row older than what the catalog has changes nothing.

    A bad row is reported with its line number and field, and every good row is loaded; the exit
    code is 1 when a row was refused.

    Scheduled instead: deploy with -c catalog_feed_key=KEY and put the feed in the stack's feed bucket
    (output FeedBucket) at that key; the catalog_feed function loads it daily (-c catalog_feed_schedule)
    and whenever the object is replaced, with the same rules (docs/catalog.md).

    Example: nudge catalog load products.csv --stack Nudge

        product_id,sku,name,price,currency,category,stock,image_url,url
        p-17,SKU-17,Aero Runner,59.99,USD,shoes,12,https://cdn.example.com/p-17.jpg,https://shop.example.com/p-17
    """
    from shared.adapters.dynamo.catalog import DynamoProductCatalog

    try:
        deployed = DeployedStack(stack)
        catalog = DynamoProductCatalog(
            deployed.client("dynamodb"),
            deployed.table(topology.CATALOG.key),
            announcements=_announcements(deployed),
        )
    except SourceMissing as missing:
        console.print(f"[red]{missing}[/red]")
        raise typer.Exit(1) from None
    kind = ("csv" if csv else "jsonl") if csv is not None else feed_format(file.name)
    with Progress(TextColumn("{task.description}"), TimeElapsedColumn(), console=console) as bar:
        task = bar.add_task("loading", total=None)

        def progress(report: FeedReport) -> None:
            bar.update(
                task, description=f"{report.rows:,} rows read, {len(report.changes):,} products changed"
            )

        with file.open(newline="", encoding="utf-8") as lines:
            report = load_feed(catalog, lines, kind, datetime.now(UTC), progress)
    for refused in report.refused[:MAX_SHOWN_PROBLEMS]:
        console.print(f"[red]{file.name}: {refused}[/red]", soft_wrap=True)
    if len(report.refused) > MAX_SHOWN_PROBLEMS:
        console.print(f"[red]… and {len(report.refused) - MAX_SHOWN_PROBLEMS} more problems[/red]")
    drops = sum(1 for c in report.changes if c.price_drop_percent is not None)
    restocks = sum(1 for c in report.changes if c.restocked)
    console.print(
        f"{report.loaded:,} of {report.rows:,} rows loaded into {stack}: {len(report.changes):,} products "
        f"changed ({drops:,} cheaper, {restocks:,} back in stock), "
        f"{len({r.line for r in report.refused}):,} rows refused",
        soft_wrap=True,
    )
    if report.refused:
        raise typer.Exit(1)
