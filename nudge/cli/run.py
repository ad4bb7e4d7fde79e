"""Run the whole system locally: ``demo``, ``bench``, ``soak``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from nudge.cli.common import (
    CAMPAIGNS,
    GentleOption,
    app,
    console,
    load_catalog,
)
from nudge.cli.tables import (
    print_report,
    print_summary,
)
from shared.core.vocabulary import Channel


@app.command()
def demo(
    users: Annotated[int, typer.Option(min=10, help="Shoppers in the synthetic store.")] = 2000,
    days: Annotated[int, typer.Option(min=1, max=90, help="Simulated days of shopping.")] = 14,
    seed: Annotated[
        int, typer.Option(help="Random seed: the same store, and the same adversarial runtime.")
    ] = 7,
    campaigns: Annotated[Path, typer.Option(help="Directory of campaign YAML files.")] = CAMPAIGNS,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the summary as JSON here.")
    ] = None,
    store: Annotated[
        Path, typer.Option(help="Leave the final tables here (JSON lines) for `nudge why`.")
    ] = Path("demo-out/store"),
    report_html: Annotated[
        Path, typer.Option("--report", help="Write the measurement report (HTML) here.")
    ] = Path("demo-out/report.html"),
    gentle: Annotated[bool, GentleOption] = False,
) -> None:
    """Run a synthetic store through the whole system on moto and print what happened.

    Example: nudge demo --users 500 --days 7 --json demo.json
    """
    from nudge.local.demo import DemoOptions, run_demo
    from shared.campaigns.loader import load_campaign_dir
    from shared.campaigns.yaml_lines import CampaignFileError

    try:
        catalog = load_campaign_dir(campaigns)
    except CampaignFileError as error:
        typer.echo(f"campaign files are invalid:\n{error}", err=True)
        raise typer.Exit(1) from None
    with Progress(
        TextColumn("[bold]simulating[/bold] {task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} h"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("", total=days * 24)

        def progress(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, description=label)

        options = DemoOptions(
            users=users, days=days, seed=seed, store_dir=store, report_html=report_html, gentle=gentle
        )
        reports: list[Any] = []
        summary = run_demo(catalog, options, progress, reported=reports.append)
    print_summary(summary)
    print_report(reports[0])
    console.print(f"HTML report: [bold]{summary['measurement']['html']}[/bold] (open it in a browser)")
    if json_path:
        json_path.write_text(json.dumps(summary, indent=2, sort_keys=True))
        console.print(f"summary written to {json_path}")
    if (
        summary["messages_sent"]
        != summary["provider_recorded"]["ses"]
        + summary["provider_recorded"]["sns"]
        + summary["messages_by_channel"][Channel.IN_APP]
    ):
        console.print("[red]sends and provider records disagree[/red]")
        raise typer.Exit(2)


@app.command()
def bench(
    campaigns: Annotated[Path, typer.Option(help="Directory of campaign YAML files.")] = CAMPAIGNS,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the results as JSON here.")
    ] = None,
) -> None:
    """Measure requests, CPU, cold imports and cost per event and per message (a few minutes).

    Example: nudge bench --json bench.json
    """
    from nudge.bench import TARGETS, meets, run_bench, write_json
    from shared.campaigns.loader import load_campaign_dir

    catalog = load_campaign_dir(campaigns)
    with Progress(
        TextColumn("[bold]measuring[/bold] {task.description}"), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("", total=None)
        results = run_bench(catalog, lambda label: bar.update(task, description=label))
    table = Table(title="Nudge benchmark (moto for request counts; CPU excludes time in AWS calls)")
    for column in ("metric", "value", "target", "meets"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    for key, value in results.items():
        if isinstance(value, dict):
            continue
        target = TARGETS.get(key)
        verdict = meets(key, value) if isinstance(value, int | float) else None
        table.add_row(
            key,
            f"{value:,}" if isinstance(value, int | float) else str(value),
            f"{target[0]} {target[1]:,}" if target else "",
            "" if verdict is None else ("yes" if verdict else "no"),
        )
    console.print(table)
    imports = Table(title="Cold start per handler (ms, median of 5 fresh interpreters)")
    imports.add_column("handler")
    imports.add_column("import", justify="right")
    imports.add_column("import + clients + catalog", justify="right")
    for name, ms in results["import_ms"].items():
        imports.add_row(name, f"{ms:.0f}", f"{results['cold_start_ms'][name]:.0f}")
    console.print(imports)
    costs = Table(title="Cost per million (USD, list prices in benchmarks/prices.py)")
    for column in ("what", "eventbridge", "sqs", "lambda", "dynamodb", "total"):
        costs.add_column(column, justify="left" if column == "what" else "right")
    for what, key in (("events", "events"), ("messages (before channel fees)", "messages")):
        part = results[f"cost_per_million_{key}_breakdown"]
        costs.add_row(
            what,
            *(f"{part.get(c, 0):.3f}" for c in ("eventbridge", "sqs", "lambda", "dynamodb")),
            f"{results[f'cost_usd_per_million_{key}']:.3f}",
        )
    console.print(costs)
    fees = results["channel_fees_usd_per_million"]
    console.print(
        f"channel fees per million: email ${fees[Channel.EMAIL]:,}, push ${fees[Channel.PUSH]:,}, "
        f"in-app ${fees[Channel.IN_APP]}"
    )
    if json_path:
        write_json(results, json_path)
        console.print(f"results written to {json_path}")


@app.command()
def soak(
    events: Annotated[int, typer.Option(min=100, help="Synthetic events to put on the bus.")] = 10_000,
    fault_rate: Annotated[
        float, typer.Option(min=0.0, max=0.9, help="Share of DynamoDB, SES and SNS calls that fail.")
    ] = 0.2,
    seed: Annotated[
        int, typer.Option(help="Seeds the store, the duplicates, the faults and the adversarial runtime.")
    ] = 9,
    campaigns: Annotated[Path, typer.Option(help="Directory of campaign YAML files.")] = CAMPAIGNS,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the figures as JSON here.")
    ] = None,
    gentle: Annotated[bool, GentleOption] = False,
) -> None:
    """Duplicates and throttling through ingest, L4 triggers and delivery; check nothing is lost or doubled.

    Every event is delivered 1-3 times and --fault-rate of the DynamoDB, SES and SNS calls fail with
    throttling errors. Exits with status 2 if a promise is broken (the problems are printed).

    Example: nudge soak --events 2000 --fault-rate 0.2 --json soak.json
    """
    from nudge.local.soak import SoakOptions, run_soak

    catalog = load_catalog(campaigns)
    with Progress(
        TextColumn("[bold]soaking[/bold] {task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total} h"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("", total=None)

        def progress(done: int, total: int, label: str) -> None:
            bar.update(task, completed=done, total=total, description=label)

        options = SoakOptions(events=events, fault_rate=fault_rate, seed=seed, gentle=gentle)
        report = run_soak(catalog, options, progress)
    f = report.figures
    table = Table(
        title=f"Nudge soak — {f['events']:,} events, {f['fault_rate']:.0%} faults, {f['mode']} runtime "
        f"({f['wall_seconds']} s)"
    )
    table.add_column("what")
    table.add_column("count", justify="right")
    rows: list[tuple[str, Any]] = [
        ("events (synthetic store)", f["events"]),
        ("  deliveries to the bus's targets (each event 1-3 times)", f["deliveries"]),
        ("  duplicates injected", f["duplicates_injected"]),
        ("calls to DynamoDB, SES and SNS", f["calls_to_faulty_services"]),
        ("  failed with a throttling error (injected)", f["faults_injected"]),
        *((f"    {service}", n) for service, n in sorted(f["faults_by_service"].items())),
        *((f"SQS records redelivered ({queue})", n) for queue, n in sorted(f["sqs_redeliveries"].items())),
        *((f"async invocations retried ({fn})", n) for fn, n in sorted(f["async_retries"].items())),
        ("profiles", f["profiles"]),
        ("  aggregates exact (fault-free fold), before redrive", f["profiles_exact_before_redrive"]),
        ("  events parked in ingest-dlq, then redriven", f["ingest_redriven"]),
        ("  aggregates exact after the redrive", f["profiles_exact_after_redrive"]),
        ("  traits or cart not as an in-order fold (state, not asserted)", f["profiles_state_differs"]),
        ("trigger invocations parked in trigger-dlq", f["trigger_parked"]),
        ("delivery jobs (distinct send keys)", f["jobs"]),
        *((f"  {outcome}", n) for outcome, n in f["outcomes"].items()),
        ("  = sum of the outcomes", sum(f["outcomes"].values())),
        *((f"provider records: {channel}", n) for channel, n in sorted(f["provider_records"].items())),
        ("  with no 'sent' outcome (all parked as possible sends)", f["provider_records_unaccounted"]),
        ("jobs parked as possible sends (never sent again)", f["possible_sends_parked"]),
        ("send keys a channel accepted twice", f["send_keys_sent_twice"]),
        *((f"adversary: {what.replace('_', ' ')}", n) for what, n in f["hostility"].items()),
    ]
    for label, value in rows:
        table.add_row(label, f"{value:,}")
    console.print(table)
    parked = Table(title="Parked, by reason")
    parked.add_column("dead-letter queue: reason")
    parked.add_column("count", justify="right")
    for reason, count in report.parked.items():
        parked.add_row(reason, f"{count:,}")
    console.print(parked)
    if json_path:
        json_path.write_text(
            json.dumps({**f, "parked": report.parked, "problems": report.problems}, indent=2)
        )
        console.print(f"figures written to {json_path}")
    if report.problems:
        for problem in report.problems:
            console.print(f"[red]{problem}[/red]")
        raise typer.Exit(2)
    console.print(
        "[green]no event lost, no message sent twice, every job decided or parked with a reason[/green]"
    )
