"""Loading history: ``import``."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from nudge.cli.common import CAMPAIGNS, app, console, load_catalog, parse_since
from nudge.cli.tables.backfill import print_import


@app.command("import")
def import_history(
    path: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="The export: JSON lines (.jsonl, .json, .ndjson; .gz too) of Segment or RudderStack "
            "payloads or warehouse rows, or a CSV of orders (.csv, .csv.gz).",
        ),
    ],
    stack: Annotated[
        str | None, typer.Option(help="Load into the deployed stack's profiles (AWS credentials).")
    ] = None,
    store: Annotated[
        Path, typer.Option(help="Without --stack: where to leave the local store (`nudge why`, `report`).")
    ] = Path("demo-out/store"),
    campaigns: Annotated[
        Path, typer.Option(help="Directory of campaign YAML files (goal events, for attribution).")
    ] = CAMPAIGNS,
    as_of: Annotated[
        str | None,
        typer.Option(help="The import's clock (ISO-8601, UTC; default: now): later events are refused."),
    ] = None,
    score: Annotated[
        bool, typer.Option("--score", help="Without --stack: run the scorer on the profiles afterwards.")
    ] = False,
) -> None:
    """Load a history export into profiles through the same ingest code as live events, with no age
    limit (the backfill policy, docs/events.md): no L4 trigger fires and nothing is sent. Goal events
    are attributed to messages already sent; refunds are netted. Prints what was loaded and the
    rejected records by reason; the scorer can run on the profiles at once.

    Example: nudge import segment-export.jsonl.gz --stack Nudge
    """
    from nudge.backfill.formats import UnreadableExport, count_records, read_history

    catalog = load_catalog(campaigns)
    moment = parse_since(as_of) or datetime.now(UTC)
    try:
        total = count_records(path)
        bodies = read_history(path)
        if stack:
            _into_stack(stack, catalog, moment, bodies, total, path)
        else:
            _into_local_store(store, catalog, moment, bodies, total, path, score)
    except UnreadableExport as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None


def _run(bodies: Any, ports: Any, total: int, title: str) -> Any:
    from nudge.backfill.run import import_history as run

    with Progress(
        TextColumn("[bold]importing[/bold]"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} records"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("", total=total)
        summary = run(bodies, ports, progress=lambda done: bar.update(task, completed=done))
    print_import(title, summary)
    return summary


def _into_stack(stack: str, catalog: Any, moment: datetime, bodies: Any, total: int, path: Path) -> None:
    from nudge.backfill.run import BackfillPorts
    from nudge.cli.operations import read
    from nudge.operations import DeployedStack
    from shared.core.clock import SimulatedClock
    from shared.deployment import topology
    from shared.ingest.conversions import Attributor
    from shared.platform.config import Settings
    from shared.platform.wiring import Wiring

    deployed = read(lambda: DeployedStack(stack))
    settings = read(
        lambda: Settings(
            profiles_table=deployed.table(topology.PROFILES.key),
            messages_table=deployed.table(topology.MESSAGES.key),
            conversions_table=deployed.table(topology.CONVERSIONS.key),
            privacy_table=deployed.table(topology.PRIVACY.key),
            privacy_key_arn=deployed.output(topology.PRIVACY_KEY_OUTPUT),
        )
    )
    wiring = Wiring(settings, deployed.client, SimulatedClock(moment), catalog)
    attributor = Attributor(catalog, wiring.send_log(), wiring.conversions())
    ports = BackfillPorts(wiring.profile_store(), wiring.clock, attributor, wiring.erasures())
    _run(bodies, ports, total, f"Imported {path.name} into {stack}")
    console.print("The daily scoring run scores these profiles; nothing was sent.")


def _into_local_store(
    store: Path, catalog: Any, moment: datetime, bodies: Any, total: int, path: Path, score: bool
) -> None:
    from moto import mock_aws

    from nudge.backfill.run import BackfillPorts
    from nudge.local.runtime import LocalRuntime
    from shared.adapters.dynamo.messages import DynamoConversions
    from shared.core.clock import SimulatedClock
    from shared.deployment import topology
    from shared.ingest.conversions import Attributor

    with mock_aws():
        runtime = LocalRuntime(catalog, SimulatedClock(moment), log_level="ERROR", gentle=True)
        conversions = DynamoConversions(
            runtime.client("dynamodb"), runtime.table_names[topology.CONVERSIONS.key]
        )
        attributor = Attributor(catalog, runtime.send_log, conversions)
        ports = BackfillPorts(runtime.profiles, runtime.clock, attributor, runtime.erasures)
        _run(bodies, ports, total, f"Imported {path.name} into a local store")
        if score:
            with console.status("scoring the imported profiles"):
                runtime.invoke("score_planner", {"run": moment.strftime("%Y-%m-%dT%H:%M:%SZ")})
                runtime.drain()
            scored = [p for p in runtime.all_profiles() if p.scores]
            kinds = sorted({str(p.scores.get("model_kind")) for p in scored})
            console.print(f"scored {len(scored):,} profiles ({', '.join(kinds) or 'none'} models)")
        runtime.snapshot(store)
    console.print(f"local store written to [bold]{store}[/bold] (`nudge why USER --store {store}`)")
