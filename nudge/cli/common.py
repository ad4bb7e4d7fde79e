"""What every command group shares: the Typer app, the console, common options, catalog and stack lookups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

app = typer.Typer(
    help="Nudge — serverless customer engagement for e-commerce, run and checked locally.",
    no_args_is_help=True,
    add_completion=False,
)


console = Console()


CAMPAIGNS = Path(__file__).resolve().parents[2] / "campaigns"


GentleOption = typer.Option(
    "--gentle",
    help="Run the local runtime in its kind, fixed order (ingest before delivery, one invocation at a "
    "time) instead of the adversarial one seeded by --seed: for debugging.",
)


ProfilesOption = Annotated[
    Path | None,
    typer.Option(
        "--profiles",
        help="A profile snapshot (JSONL, one profile per line, as 'nudge snapshot' writes) or one "
        "profile as JSON. Default: the local store (the demo's synthetic shoppers).",
    ),
]


UsersOption = Annotated[int, typer.Option(min=10, help="Shoppers in the local store.")]


DaysOption = Annotated[int, typer.Option(min=1, max=120, help="Days of shopping in the local store.")]


SeedOption = Annotated[int, typer.Option(help="The local store's seed (the demo's is 7).")]


CampaignsOption = Annotated[Path, typer.Option(help="Directory of campaign YAML files.")]


def load_catalog(campaigns: Path) -> Any:
    from shared.campaigns.loader import load_campaign_dir
    from shared.campaigns.yaml_lines import CampaignFileError

    try:
        return load_campaign_dir(campaigns)
    except CampaignFileError as error:
        for problem in error.problems:
            typer.echo(problem, err=True)
        raise typer.Exit(1) from None


def find_campaign(catalog: Any, campaign_id: str) -> Any:
    import difflib

    campaign = catalog.get(campaign_id)
    if campaign is None:
        ids = [c.id for c in catalog]
        close = difflib.get_close_matches(campaign_id, ids, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else f" Known: {', '.join(ids)}."
        typer.echo(f"no campaign {campaign_id!r}.{hint}", err=True)
        raise typer.Exit(1)
    return campaign


def profile_source(profiles: Path | None, users: int, days: int, seed: int) -> Any:
    from nudge.local.snapshot import local_store, read_profiles

    if profiles is not None:
        try:
            return read_profiles(profiles)
        except (OSError, ValueError) as error:
            typer.echo(f"cannot read profiles: {error}", err=True)
            raise typer.Exit(1) from None
    with console.status(f"building the local store ({users} shoppers, {days} days)"):
        return local_store(users, days, seed)


DEMO_MODEL = Path(__file__).resolve().parents[2] / "models" / "scoring-model.json"


PREDICTIONS_DOC = Path(__file__).resolve().parents[2] / "docs" / "predictions.md"


def end_of_day(value: str) -> Any:
    from datetime import UTC, datetime, time

    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a YYYY-MM-DD date") from None
    return datetime.combine(day, time(23, 59, 59), tzinfo=UTC)


def say(message: str) -> None:
    console.print(f"[dim]·[/dim] {message}")


def parse_since(since: str | None) -> Any:
    from datetime import UTC, datetime

    if since is None:
        return None
    try:
        moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
    except ValueError:
        raise typer.BadParameter(
            f"{since!r} is not a date (YYYY-MM-DD) or ISO-8601 time", param_hint="--since"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
