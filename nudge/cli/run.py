"""Run the whole system locally: ``demo``, ``bench``, ``soak``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from nudge.cli.common import (
    CAMPAIGNS,
    GentleOption,
    app,
    console,
    load_catalog,
)
from nudge.cli.tables.report import print_report
from nudge.cli.tables.run import print_bench, print_soak, print_summary
from shared.core.vocabulary import Channel


def cpu_cores() -> int:
    """The cores this process may run on (at least one)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@app.command()
def demo(
    users: Annotated[
        int,
        typer.Option(
            min=10,
            help="Shoppers in the synthetic store (500: about 2 minutes on 2 cores, and the report still "
            "finds the L4 uplift significant; 2,000 take about 6.5).",
        ),
    ] = 500,
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
    shards: Annotated[
        int,
        typer.Option(
            min=0,
            help="Processes, each running every n-th shopper through a whole system of its own "
            "(0: one per CPU core; 1: one process).",
        ),
    ] = 0,
) -> None:
    """Run a synthetic store through the whole system on moto and print what happened.

    Example: nudge demo --users 2000 --days 14 --json demo.json
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
            users=users,
            days=days,
            seed=seed,
            store_dir=store,
            report_html=report_html,
            gentle=gentle,
            shards=shards or cpu_cores(),
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
    fan_in: Annotated[
        int, typer.Option(min=0, help="Journey wake-ups fired at once on moto (0: skip that measurement).")
    ] = 100_000,
) -> None:
    """Measure requests, CPU, cold imports and cost per event and per message, and the fan-in of 100,000
    journey wake-ups (the fan-in alone about 9 minutes on moto, docs/journeys.md; --fan-in 0 skips it).

    Example: nudge bench --json bench.json
    """
    from nudge.bench.runner import run_bench, write_json
    from shared.campaigns.loader import load_campaign_dir

    catalog = load_campaign_dir(campaigns)
    with Progress(
        TextColumn("[bold]measuring[/bold] {task.description}"), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task("", total=None)
        results = run_bench(catalog, lambda label: bar.update(task, description=label), fan_in)
    print_bench(results)
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
    print_soak(report)
    if json_path:
        json_path.write_text(
            json.dumps({**report.figures, "parked": report.parked, "problems": report.problems}, indent=2)
        )
        console.print(f"figures written to {json_path}")
    if report.problems:
        for problem in report.problems:
            console.print(f"[red]{problem}[/red]")
        raise typer.Exit(2)
    console.print(
        "[green]no event lost, no message sent twice, every job decided or parked with a reason[/green]"
    )
