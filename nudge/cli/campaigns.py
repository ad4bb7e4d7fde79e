"""Campaigns as code: ``validate``, ``schema``, ``audience``, ``preview``, ``simulate``, ``snapshot``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from nudge.cli.common import (
    CAMPAIGNS,
    CampaignsOption,
    DaysOption,
    ProfilesOption,
    SeedOption,
    UsersOption,
    app,
    console,
    find_campaign,
    load_catalog,
    profile_source,
)
from nudge.cli.tables.campaigns import (
    print_funnel,
    print_preview,
    print_reach,
    print_sample,
    print_simulation,
    print_validation,
)


@app.command()
def validate(
    path: Annotated[Path, typer.Argument(help="A campaign file or a directory of them.")] = CAMPAIGNS,
    now: Annotated[
        str | None,
        typer.Option(help="Judge expiry as of this instant (ISO-8601 with a zone) instead of now."),
    ] = None,
) -> None:
    """Validate campaign files and their templates; print `file:line: message` for each problem
    and exit 1 if any. A campaign whose schedule fires no more or whose end has passed is valid but
    not deployed: it gets a `file:line: ... expired, not deployed` warning and the exit code stays 0.

    Example: nudge validate campaigns/
    """
    from datetime import UTC, datetime

    from shared.campaigns.expiry import expiry_warnings
    from shared.campaigns.loader import Catalog, load_campaign_dir, load_campaign_file, load_vocabulary
    from shared.campaigns.yaml_lines import CampaignFileError

    moment = datetime.now(UTC)
    if now is not None:
        try:
            moment = datetime.fromisoformat(now.replace("Z", "+00:00"))
        except ValueError:
            raise typer.BadParameter(f"{now!r} is not an ISO-8601 instant", param_hint="--now") from None
        if moment.utcoffset() is None:
            raise typer.BadParameter(f"{now!r} has no zone; add Z or an offset", param_hint="--now")

    if not path.exists():
        typer.echo(f"{path}: no such file or directory", err=True)
        raise typer.Exit(1)
    try:
        if path.is_dir():
            catalog = load_campaign_dir(path)
        else:  # one file, read with the vocabulary of the folder it sits in
            custom = load_vocabulary(path.parent)
            campaign = load_campaign_file(path, custom.vocabulary())
            catalog = Catalog([campaign], custom=custom, origins={campaign.id: path})
    except CampaignFileError as error:
        for problem in error.problems:
            typer.echo(problem)
        raise typer.Exit(1) from None
    for warning in expiry_warnings(catalog, moment):
        typer.echo(warning)
    print_validation(catalog, path)


@app.command()
def schema(
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
    campaign: Annotated[
        bool, typer.Option("--campaign", help="The campaign file schema (for editors) instead.")
    ] = False,
) -> None:
    """Print (or write) the JSON Schema of the event contract for app teams, or of campaign files.

    Example: nudge schema --campaign --out docs/campaign.schema.json
    """
    from shared.events.contract import event_json_schema

    if campaign:
        from shared.campaigns.model import campaign_json_schema

        document = campaign_json_schema()
    else:
        document = event_json_schema()
    text = json.dumps(document, indent=2, sort_keys=True) + "\n"
    if out:
        out.write_text(text)
        console.print(f"wrote {out}")
    else:
        sys.stdout.write(text)


@app.command()
def audience(
    campaign_id: Annotated[str, typer.Argument(metavar="CAMPAIGN", help="The campaign's id.")],
    profiles: ProfilesOption = None,
    sample: Annotated[int, typer.Option(min=0, help="How many matching shoppers to list.")] = 10,
    users: UsersOption = 2000,
    days: DaysOption = 14,
    seed: SeedOption = 7,
    campaigns: CampaignsOption = CAMPAIGNS,
) -> None:
    """How many shoppers a campaign's audience selects, rule by rule, with a sample of them.

    Example: nudge audience win-back-lapsed --sample 5
    """
    from shared.campaigns.audience.rules import ShopperFacts
    from shared.delivery.deliverer import choose_channel
    from shared.delivery.guards import in_holdout

    catalog = load_catalog(campaigns)
    campaign = find_campaign(catalog, campaign_id)
    source = profile_source(profiles, users, days, seed)
    shoppers = source.shoppers()
    now = source.taken_at
    facts = {p.user_id: ShopperFacts(p, now) for p in shoppers}
    remaining = shoppers
    funnel: list[tuple[str, int]] = []
    for rule in campaign.parsed_audience.rules:
        remaining = [p for p in remaining if rule.holds_for(facts[p.user_id])]
        funnel.append((rule.source, len(remaining)))
    print_funnel(campaign, now, len(shoppers), funnel, source.description)

    channels: dict[str, int] = {}
    held_out = 0
    for profile in remaining:
        if in_holdout(campaign.id, profile.user_id, campaign.holdout_percent):
            held_out += 1
            continue
        channel = choose_channel(campaign, profile)[0] or "unreachable"
        channels[channel] = channels.get(channel, 0) + 1
    print_reach(campaign, len(remaining), len(shoppers), channels, held_out)

    if sample and remaining:
        print_sample([(p.user_id, facts[p.user_id].view) for p in remaining[:sample]], len(remaining))


@app.command()
def preview(
    campaign_id: Annotated[str, typer.Argument(metavar="CAMPAIGN", help="The campaign's id.")],
    user: Annotated[str, typer.Option("--user", help="The shopper's user id, e.g. u-000042.")],
    profiles: ProfilesOption = None,
    channel: Annotated[
        str | None, typer.Option(help="Render this channel instead of the one the shopper would get.")
    ] = None,
    variant: Annotated[
        str | None,
        typer.Option(
            help="Render this variant of the campaign's experiment instead of the one the shopper draws."
        ),
    ] = None,
    event: Annotated[
        Path | None,
        typer.Option(
            help="For L4 campaigns: a JSON file of the triggering event's properties "
            "(default: the shopper's latest matching event in the local store)."
        ),
    ] = None,
    users: UsersOption = 2000,
    days: DaysOption = 14,
    seed: SeedOption = 7,
    campaigns: CampaignsOption = CAMPAIGNS,
) -> None:
    """Render a campaign's message for one shopper, showing which fallbacks were used.

    Example: nudge preview weekend-sale-sea --user u-000042 [--variant free-shipping]
    """
    from nudge.cli.recommended import recommended_for, recommended_names, with_recommendations
    from nudge.cli.shown_products import EventCatalog, described
    from shared.campaigns.jobs import DeliveryJob
    from shared.campaigns.render import render_message
    from shared.core.errors import TemplateProblem
    from shared.delivery.deliverer import choose_channel
    from shared.delivery.guards import in_holdout
    from shared.delivery.message_context import products_for, template_context

    catalog = load_catalog(campaigns)
    campaign = find_campaign(catalog, campaign_id)
    source = profile_source(profiles, users, days, seed)
    profile = source.profiles.get(user)
    if profile is None:
        known = ", ".join(sorted(p.user_id for p in source.shoppers())[:3])
        typer.echo(f"no shopper {user!r} in the {source.description} (e.g. {known})", err=True)
        raise typer.Exit(1)
    now = source.taken_at
    campaign, chosen_variant, variant_fact = _variant_of(
        campaign, user, variant, catalog.policy.global_control_percent
    )
    failing = campaign.parsed_audience.failing_rule(profile, now)
    chosen, (_decision, blocked_by) = choose_channel(campaign, profile)
    render_as = channel or chosen
    facts = [
        ("shopper", f"{user} ({source.description}, as of {now:%Y-%m-%d %H:%M} UTC)"),
        ("in the audience", "yes" if failing is None else f"no — fails: {failing.source}"),
        (
            "holdout",
            "yes: would get nothing" if in_holdout(campaign.id, user, campaign.holdout_percent) else "no",
        ),
        *variant_fact,
        (
            "channel",
            chosen or f"none reachable ({blocked_by}; tried {', '.join(campaign.channel_order())})",
        ),
    ]
    if render_as is None:
        render_as = campaign.channel_order()[0]
        facts.append(("rendering", f"{render_as} (the campaign's first channel), to show the content"))
    elif channel and channel != chosen:
        facts.append(("rendering", f"{channel} (asked for with --channel)"))
    if render_as not in campaign.channel_order():
        typer.echo(
            f"{campaign.id} has no {render_as!r} content; it has {', '.join(campaign.channel_order())}",
            err=True,
        )
        raise typer.Exit(1)
    trigger = None
    if campaign.trigger is not None:
        trigger, found = _trigger_for(campaign, user, source, event)
        facts.append(("triggering event", found))
    job = (
        DeliveryJob.for_trigger(campaign.id, user, trigger)
        if trigger
        else DeliveryJob.for_occurrence(campaign.id, now.strftime("%Y-%m-%dT%H:%M:%SZ"), user)
    )
    if chosen_variant is not None:
        planned = _planned_send(campaign, chosen_variant, job, profile, catalog.policy, now)
        facts.append(("send time", planned))
    recommended, whose = recommended_for(profile, source.profiles.values())
    store_catalog = EventCatalog(source.events)
    named = recommended_names(recommended, store_catalog.get_many(recommended))
    facts.append(("recommended products", f"{named} ({whose})"))
    profile = with_recommendations(profile, recommended)
    shown = products_for(campaign, profile, job, store_catalog)
    facts.append(("catalog products shown", described(shown.values()) if shown else "none"))
    try:
        message = render_message(
            campaign, render_as, job.send_key, template_context(campaign, profile, job, now, None, shown)
        )
    except TemplateProblem as error:
        typer.echo(f"cannot render: {error}", err=True)
        raise typer.Exit(1) from None
    print_preview(f"{campaign.id} ({campaign.level}) for {user}", facts, render_as, message)


def _variant_of(
    campaign: Any, user: str, asked: str | None, control: float
) -> tuple[Any, str | None, list[tuple[str, str]]]:
    """The campaign with the variant asked for (or the one the shopper draws by the file's weights), that
    variant, and the facts to print: the variant, the global control."""
    from shared.experiments.assignment import assign_variant, in_global_control

    facts: list[tuple[str, str]] = []
    if in_global_control(user, control) and not campaign.transactional:
        facts.append(("global control", f"yes ({control:g}% of shoppers): would get no marketing message"))
    if not campaign.variants:
        if asked is not None:
            typer.echo(f"{campaign.id} has no variants", err=True)
            raise typer.Exit(1)
        return campaign, None, facts
    weights = {v.id: v.weight for v in campaign.variants}
    drawn = assign_variant(campaign.experiment_id(None), user, weights)
    chosen = asked or drawn
    try:
        campaign = campaign.variant_campaign(chosen)
    except ValueError as error:
        typer.echo(str(error), err=True)
        raise typer.Exit(1) from None
    how = "asked for with --variant" if asked else "drawn by the file's weights"
    facts.append(("variant", f"{chosen} ({how}; the shopper draws {drawn})"))
    return campaign, chosen, facts


def _planned_send(campaign: Any, variant: str, job: Any, profile: Any, policy: Any, now: Any) -> str:
    """When the variant's message would go out for this job, as delivery plans it."""
    from shared.delivery.decision import variant_send_time

    planned = variant_send_time(campaign, variant, job, profile, policy, now)
    if planned is None:
        return "at the step's moment (the variant has no send time of its own)"
    return f"{planned.at:%Y-%m-%d %H:%M} UTC ({planned.how})"


def _trigger_for(campaign: Any, user: str, source: Any, event_file: Path | None) -> tuple[Any, str]:
    from shared.campaigns.jobs import TriggerContext
    from shared.events.patterns import matches

    if event_file is not None:
        properties = json.loads(event_file.read_text())
        context = TriggerContext(
            event=campaign.trigger.event,
            message_id="preview",
            timestamp=source.taken_at,  # the preview's one clock: the profiles' "as of", never today
            properties=properties,
        )
        return context, f"{campaign.trigger.event} from {event_file}"
    pattern = campaign.trigger.event_pattern()
    for event in reversed(source.events):
        if event.profile_id != user or event.type != "track":
            continue
        if matches(pattern, {"detail": event.model_dump(mode="json", by_alias=True, exclude_none=True)}):
            context = TriggerContext(
                event=str(event.event),
                message_id=event.message_id,
                timestamp=event.timestamp,
                properties=event.properties,
            )
            return context, f"{event.event} at {event.timestamp:%Y-%m-%d %H:%M} UTC ({event.message_id})"
    return None, "none found for this shopper; event.* falls back (use --event FILE.json)"


@app.command()
def simulate(
    weeks: Annotated[int, typer.Option(min=1, max=12, help="Simulated weeks to measure.")] = 4,
    users: UsersOption = 2000,
    seed: SeedOption = 7,
    top: Annotated[int, typer.Option(min=0, help="How many over-cap shoppers to list.")] = 10,
    campaigns: CampaignsOption = CAMPAIGNS,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="Also write the report as JSON here.")
    ] = None,
) -> None:
    """Run every enabled campaign over simulated weeks of the local store: messages per shopper per
    week, per campaign and level, and who would exceed the frequency caps.

    Example: nudge simulate --weeks 4 --users 2000
    """
    from nudge.simulate import SimulationOptions
    from nudge.simulate import simulate as run_simulation

    catalog = load_catalog(campaigns)
    with Progress(
        TextColumn("[bold]simulating[/bold] {task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        task = bar.add_task("", total=1)

        def progress(label: str, done: int, total: int) -> None:
            bar.update(task, description=label, completed=done, total=max(total, 1))

        report = run_simulation(catalog, SimulationOptions(users=users, weeks=weeks, seed=seed), progress)
    print_simulation(report, top)
    if json_path:
        json_path.write_text(json.dumps(report.as_dict(), indent=2, sort_keys=True) + "\n")
        console.print(f"report written to {json_path}")


@app.command()
def snapshot(
    out: Annotated[Path, typer.Option(help="The JSONL file to write.")] = Path("profiles.jsonl"),
    users: UsersOption = 2000,
    days: DaysOption = 14,
    seed: SeedOption = 7,
) -> None:
    """Write the local store's profiles as a JSONL snapshot (for --profiles, or to edit by hand).

    Example: nudge snapshot --out profiles.jsonl --users 500
    """
    from nudge.local.snapshot import write_profiles

    source = profile_source(None, users, days, seed)
    count = write_profiles(source.profiles.values(), out)
    console.print(f"wrote {count:,} profiles to {out} ({source.description})")
