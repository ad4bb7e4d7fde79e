"""Campaigns as code: what validate, audience, preview and simulate print."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from nudge.cli.common import console
from shared.core.vocabulary import Channel, DecisionStatus


def share(part: int, whole: int) -> str:
    return f"{100 * part / whole:.1f}%" if whole else "-"


def cell(value: Any) -> str:
    return "" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def print_simulation(report: Any, top: int) -> None:
    wanted, sent = report.distribution("wanted"), report.distribution(DecisionStatus.SENT)
    overview = Table(
        title=f"Messages per shopper per week — {report.shoppers:,} shoppers, {report.options.weeks} weeks "
        f"({report.start:%Y-%m-%d} to {report.end:%Y-%m-%d}), {report.events:,} store events, "
        f"{report.wall_seconds} s"
    )
    for column in ("", "mean", "p50", "p95", "max"):
        overview.add_column(column, justify="left" if not column else "right")
    overview.add_row(
        "wanted by the campaigns (no caps)", *(f"{wanted[k]:g}" for k in ("mean", "p50", "p95", "max"))
    )
    overview.add_row("let through by the caps", *(f"{sent[k]:g}" for k in ("mean", "p50", "p95", "max")))
    console.print(overview)

    campaigns = Table(title="By campaign (counts over the whole run; per week = per shopper per week)")
    campaigns.add_column("campaign", no_wrap=True)
    for column in (
        "level",
        "fired",
        "selected",
        "no chan",
        "holdout",
        "wanted",
        "/wk",
        DecisionStatus.SENT,
        "/wk",
        DecisionStatus.CAPPED,
        "quiet",
    ):
        campaigns.add_column(column, justify="right")
    for campaign_id, t in sorted(report.campaigns.items(), key=lambda kv: (kv[1].level, kv[0])):
        campaigns.add_row(
            campaign_id,
            t.level,
            f"{t.fired:,}",
            f"{t.in_audience:,}",
            f"{t.unreachable:,}",
            f"{t.holdout:,}",
            f"{t.wanted:,}",
            f"{report.per_week(t.wanted):.2f}",
            f"{t.sent:,}",
            f"{report.per_week(t.sent):.2f}",
            f"{sum(t.capped.values()):,}",
            f"{t.deferred:,}",
        )
    console.print(campaigns)
    console.print(
        "[dim]fired: schedule occurrences (L1-L3) or matching events (L4); selected: in the audience; "
        "no chan: no consent or address for any of the campaign's channels; /wk: per shopper per week; "
        "quiet: deferred past the shopper's quiet hours, then sent or capped[/dim]"
    )

    levels = Table(title="By level")
    for column in (
        "level",
        "campaigns",
        "wanted",
        "wanted/wk",
        DecisionStatus.SENT,
        "sent/wk",
        "share of sent",
        DecisionStatus.CAPPED,
    ):
        levels.add_column(column, justify="left" if column == "level" else "right")
    total_sent = sum(row[DecisionStatus.SENT] for row in report.by_level().values())
    for level, row in report.by_level().items():
        levels.add_row(
            level,
            str(row["campaigns"]),
            f"{row['wanted']:,}",
            f"{report.per_week(row['wanted']):.2f}",
            f"{row[DecisionStatus.SENT]:,}",
            f"{report.per_week(row[DecisionStatus.SENT]):.2f}",
            share(row[DecisionStatus.SENT], total_sent),
            f"{row[DecisionStatus.CAPPED]:,}",
        )
    console.print(levels)

    reasons: dict[str, int] = {}
    for t in report.campaigns.values():
        for reason, n in t.capped.items():
            reasons[reason] = reasons.get(reason, 0) + n
    if reasons:
        caps = Table(title="Messages the caps would stop, by cap")
        caps.add_column("cap")
        caps.add_column("messages", justify="right")
        for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]):
            caps.add_row(reason, f"{n:,}")
        console.print(caps)
    over = report.capped_users
    console.print(
        f"{len(over):,} of {report.shoppers:,} shoppers ({share(len(over), report.shoppers)}) "
        "would exceed a cap at least once."
    )
    if over and top:
        table = Table(title=f"Shoppers over the caps (top {min(top, len(over))})")
        for column in ("user_id", "wanted/wk (max)", "sent/wk (max)", "stopped", "caps hit"):
            table.add_column(column, justify="left" if column in ("user_id", "caps hit") else "right")
        ranked = sorted(over, key=lambda u: (-sum(over[u].values()), u))[:top]
        for user_id in ranked:
            table.add_row(
                user_id,
                str(max(report.wanted_per_user_week.get(user_id, [0]))),
                str(max(report.sent_per_user_week.get(user_id, [0]))),
                str(sum(over[user_id].values())),
                ", ".join(f"{r} x{n}" for r, n in over[user_id].most_common()),
            )
        console.print(table)


def print_validation(catalog: Any, path: Any) -> None:
    """The valid campaigns: id, level, when each fires, its channels and how many audience rules."""
    table = Table(title=f"{len(catalog)} valid campaign(s) in {path}")
    for column in ("id", "level", "when", "channels", "audience rules"):
        table.add_column(column, no_wrap=column == "id")
    for c in catalog:
        when = (
            f"{c.schedule.expression} {c.schedule.timezone}"
            if c.schedule
            else f"on {c.trigger.event}" + (f" +{c.trigger.delay}" if c.trigger.delay else "")
            if c.trigger
            else f"on starting to match {len(c.entry.segment)} rule(s)"
            if c.entry
            else ""
        )
        table.add_row(c.id, c.level, when, ", ".join(c.channel_order()), str(len(c.audience)))
    console.print(table)


def print_funnel(campaign: Any, now: Any, shoppers: int, funnel: list[tuple[str, int]], source: str) -> None:
    """The shoppers left after each audience rule, out of every shopper, then where they come from."""
    table = Table(title=f"{campaign.id} ({campaign.level}) — audience as of {now:%Y-%m-%d %H:%M} UTC")
    for column in ("rule", "shoppers left", "share"):
        table.add_column(column, justify="left" if column == "rule" else "right")
    table.add_row("(every shopper)", f"{shoppers:,}", "100.0%")
    for rule, left in funnel:
        table.add_row(rule, f"{left:,}", share(left, shoppers))
    console.print(table)
    console.print(f"[dim]{source}[/dim]")


def print_reach(campaign: Any, audience: int, shoppers: int, channels: dict[str, int], held_out: int) -> None:
    """What the audience would get: each channel in the campaign's order, nothing, or the holdout."""
    table = Table(title=f"Audience: {audience:,} shoppers ({share(audience, shoppers)})")
    table.add_column("would get")
    table.add_column("shoppers", justify="right")
    for channel in [*campaign.channel_order(), "unreachable"]:
        if channels.get(channel):
            table.add_row(
                channel if channel != "unreachable" else "nothing (no consent or address)",
                f"{channels[channel]:,}",
            )
    table.add_row(f"nothing: holdout ({campaign.holdout_percent:g}%)", f"{held_out:,}")
    console.print(table)


SAMPLE_COLUMNS = ("first_name", "country", "age", "orders", "days_since_last_order", "top_category")


def print_sample(views: list[tuple[str, Any]], audience: int) -> None:
    """The first shoppers of the audience, with what their audience rules see (``ShopperFacts.view``)."""
    table = Table(title=f"Sample ({len(views)} of {audience:,})")
    for column in ("user_id", *SAMPLE_COLUMNS):
        table.add_column(column)
    for user_id, view in views:
        table.add_row(user_id, *(cell(view.get(c)) for c in SAMPLE_COLUMNS))
    console.print(table)


def print_preview(title: str, facts: list[tuple[str, str]], channel: str, message: Any) -> None:
    """Who the message is for and why (``facts``), the rendered message, then the fallbacks it used."""
    summary = Table(show_header=False, title=title)
    summary.add_column("what", style="bold")
    summary.add_column("value")
    for label, value in facts:
        summary.add_row(label, value)
    console.print(summary)
    rendered = Table(show_header=False, title=f"Rendered {channel} message")
    rendered.add_column("field", style="bold")
    rendered.add_column("content", overflow="fold")
    for field, content in (
        ("subject" if channel == Channel.EMAIL else "title", message.title),
        ("text", message.body_text),
        ("html", message.body_html),
        ("deep link", message.deep_link),
        ("button", f"{message.cta_label} → {message.cta_url}" if message.cta_label else None),
    ):
        if content:
            rendered.add_row(field, content)
    console.print(rendered)
    if message.missing:
        console.print(
            "fallbacks used (the shopper has no value; the template's default or an empty text was used): "
            + ", ".join(sorted(message.missing))
        )
    else:
        console.print("fallbacks used: none — every variable had a value")
