"""The measurement report: in the terminal (verdict, advice, tables by campaign, level, channel), as HTML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from nudge.cli.common import console
from shared.core.vocabulary import DecisionStatus, Level


def write_html_report(result: Any, path: Path) -> Path:
    from datetime import UTC, datetime

    from nudge.report.html import render_html

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(result, generated_at=datetime.now(UTC)))
    return path.resolve()


def print_report(result: Any) -> None:
    colours = {"Striving": "red", "Steady": "yellow", "Stellar": "green"}
    verdict = result.verdict
    console.print(f"\n[bold {colours.get(verdict.kind, 'white')}]Verdict: {verdict.kind}[/] — {verdict.why}")
    for number, advice in enumerate(verdict.recommendations, 1):
        console.print(f"  {number}. {advice}")
    console.print(
        f"messages per recipient per week: mean {result.messages_per_user_week:.2f}, "
        f"p95 {result.messages_per_user_week_p95:.2f} · level mix: "
        + ", ".join(f"{lv} {result.level_mix[lv]:.0%}" for lv in Level)
    )

    def table(title: str, rows: Any, first: str, levels: Any = None, uplift: bool = True) -> Table:
        out = Table(title=title)
        columns = (
            [first]
            + (["level"] if levels else [])
            + [
                DecisionStatus.SENT,
                "withheld",
                "delivered",
                "opened",
                "clicked",
                "conv.",
                "revenue",
                "conv. rate",
            ]
        )
        if uplift:
            columns += ["uplift (95% CI)", "verdict"]
        for column in columns:
            out.add_column(column, justify="left" if column in (first, "level", "verdict") else "right")
        for key, row in rows.items():
            cells = (
                [key]
                + ([levels.get(key, "")] if levels else [])
                + [
                    f"{row.sent:,}",
                    f"{row.withheld:,}",
                    f"{row.delivered:,}",
                    f"{row.opened:,}",
                    f"{row.clicked:,}",
                    f"{row.conversions:,}",
                    f"{row.revenue:,.2f}",
                    f"{row.conversion_rate:.2%}",
                ]
            )
            if uplift:
                u = row.uplift
                if u is None or not u.withheld:
                    cells += ["-", "no holdout"]
                else:
                    colour = {"significant gain": "green", "significant loss": "red"}.get(u.verdict, "white")
                    cells += [
                        f"{u.difference * 100:+.2f} pp [{u.low * 100:+.2f}, {u.high * 100:+.2f}]",
                        f"[{colour}]{u.verdict}[/]",
                    ]
            out.add_row(*cells)
        return out

    console.print(table("By campaign", result.campaigns, "campaign", result.campaign_levels))
    console.print(table("By level", result.levels, "level"))
    console.print(table("By channel", result.channels, "channel", uplift=False))
    print_journey_steps(result)
    print_journey_funnels(result)
    print_experiments(result)


def print_journey_steps(result: Any) -> None:
    """Per journey, each send step's decisions (sent, withheld, capped, cancelled, ...)."""
    for journey, steps in result.journey_steps.items():
        statuses = sorted({status for counts in steps.values() for status in counts})
        out = Table(title=f"Journey steps — {journey}")
        out.add_column("step")
        for status in statuses:
            out.add_column(status, justify="right")
        for step, counts in steps.items():
            out.add_row(step, *(f"{counts.get(status, 0):,}" for status in statuses))
        console.print(out)


def print_journey_funnels(result: Any) -> None:
    """Per journey: entered, each step reached (and sent), how instances ended, the uplift against the
    journey's holdout and per branch / split path (docs/journeys.md)."""
    for journey, funnel in result.journeys.items():
        out = Table(title=f"Journey funnel — {journey}")
        for column in ("step", "reached", DecisionStatus.SENT):
            out.add_column(column, justify="left" if column == "step" else "right")
        out.add_row("entered", f"{funnel.entered:,}", "")
        out.add_row("  withheld (holdout)", f"{funnel.withheld:,}", "")
        for step in funnel.steps:
            sent = f"{step.sent:,}" if step.sent is not None else ""
            out.add_row(f"{step.step} ({step.type})", f"{step.reached:,}", sent)
        out.add_row("ended on the goal", f"{funnel.exited_by_goal:,}", "")
        console.print(out)
        rows = [("journey", funnel.uplift)] + [
            (f"{step}: {path}", up)
            for step, paths in funnel.path_uplift.items()
            for path, up in paths.items()
        ]
        uplifts = Table(title=f"Journey uplift — {journey} (against its holdout)")
        for column in ("shoppers", "treated", "conv.", "withheld", "conv.", "uplift (95% CI)", "verdict"):
            uplifts.add_column(column, justify="left" if column == "shoppers" else "right")
        for label, up in rows:
            if up is None:
                continue
            uplifts.add_row(
                label,
                f"{up.treated:,}",
                f"{up.treated_converted:,}",
                f"{up.withheld:,}",
                f"{up.withheld_converted:,}",
                f"{up.difference * 100:+.1f} pp [{up.low * 100:+.1f}, {up.high * 100:+.1f}]",
                up.verdict,
            )
        console.print(uplifts)


def print_experiments(result: Any) -> None:
    """Each experiment's variant table, and the program's uplift against the global control."""
    from nudge.report.experiments import BOUGHT_NOTE

    for campaign, rows in result.variants.items():
        out = Table(title=f"Variants — {campaign}", caption=BOUGHT_NOTE)
        for column in ("variant", DecisionStatus.SENT, "delivered", "opened", "clicked", "bought", "revenue"):
            out.add_column(column, justify="left" if column == "variant" else "right")
        out.add_column("conv. rate (95% CI)", justify="right")
        out.add_column("P(best)", justify="right")
        for variant, row in rows.items():
            low, high = row.interval
            out.add_row(
                variant,
                f"{row.sent:,}",
                f"{row.delivered:,}",
                f"{row.opened:,}",
                f"{row.clicked:,}",
                f"{row.conversions:,}",
                f"{row.revenue:,.2f}",
                f"{row.rate:.2%} [{low:.2%}, {high:.2%}]",
                f"{row.probability_best:.0%}",
            )
        console.print(out)
    print_experiment_decisions(result)
    program = result.program
    if program is not None:
        console.print(
            f"Program against the global control: {program.treated:,} shoppers reached "
            f"{program.treated_rate:.2%} converted, {program.withheld:,} in the control "
            f"{program.withheld_rate:.2%}: "
            f"{program.difference * 100:+.2f} pp [{program.low * 100:+.2f}, {program.high * 100:+.2f}], "
            f"{program.verdict}"
        )


def print_experiment_decisions(result: Any) -> None:
    """Each reviewed experiment's decision history: what each look did, on what evidence."""
    from nudge.report.experiments import (
        CREDITED_NOTE,
        DECISION_EVIDENCE,
        evidence_line,
        standing,
        weights_line,
    )

    for experiment, record in result.experiment_decisions.items():
        out = Table(title=f"Decisions — {experiment} ({standing(record)})", caption=CREDITED_NOTE)
        for column in ("at", "action", "weights after", DECISION_EVIDENCE):
            out.add_column(column)
        out.add_column("p", justify="right")
        for decision in record["history"]:
            p_values = decision["evidence"].get("p_values") or {}
            out.add_row(
                decision["at"][:16].replace("T", " "),
                decision["action"],
                weights_line(decision["weights"]),
                evidence_line(decision["evidence"]),
                ", ".join(f"{p:.3g}" for p in p_values.values()) or "—",
            )
        console.print(out)
