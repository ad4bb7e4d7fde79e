"""The HTML report's experiments: per campaign with variants, a chart of each variant's conversion rate
with its 95% interval and its probability of being best, and the variant table; the program's uplift
against the global control group. Nothing is drawn for a report without them."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import Any

from nudge.report.experiments import (
    BOUGHT_NOTE,
    CREDITED_NOTE,
    DECISION_EVIDENCE,
    VariantRow,
    evidence_line,
    standing,
    weights_line,
)
from nudge.report.model import Report
from nudge.report.uplift import Uplift
from shared.core.vocabulary import DecisionStatus

WIDTH, TOP, BOTTOM = 720, 12, 36
BEST, OTHER = "#16a34a", "#64748b"


def _pct(value: float) -> str:
    return f"{value * 100:.1f}%"


def variant_chart(chart: str, campaign: str, rows: Mapping[str, VariantRow]) -> str:
    """Each variant's conversion rate (dot) and 95% Wilson interval (bar); the likeliest best in green."""
    row_h, label_w, right = 26, 200, 90
    height = TOP + BOTTOM + row_h * max(len(rows), 1)
    top = max([r.interval[1] for r in rows.values()] + [0.01])
    plot_w = WIDTH - label_w - right
    leader = max(rows, key=lambda v: rows[v].probability_best) if rows else None

    def x_of(value: float) -> float:
        return label_w + plot_w * value / top

    parts = []
    for i in range(5):
        value = top * i / 4
        x = x_of(value)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{height - BOTTOM}" stroke="#e2e8f0"/>'
            f'<text x="{x:.1f}" y="{height - BOTTOM + 16}" text-anchor="middle">{_pct(value)}</text>'
        )
    for i, (variant, row) in enumerate(rows.items()):
        y = TOP + row_h * i + row_h / 2
        low, high = row.interval
        colour = BEST if variant == leader else OTHER
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 4:.1f}" text-anchor="end">{escape(variant)}</text>'
            f'<line data-mark x1="{x_of(low):.1f}" x2="{x_of(high):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{colour}" stroke-width="2"><title>{escape(variant)}: {_pct(row.rate)} of {row.sent:,} '
            f"(95% CI {_pct(low)} to {_pct(high)}), P(best) {row.probability_best:.0%}</title></line>"
            f'<circle data-mark cx="{x_of(row.rate):.1f}" cy="{y:.1f}" r="4.5" fill="{colour}"/>'
            f'<text x="{WIDTH - right + 8}" y="{y + 4:.1f}">P(best) {row.probability_best:.0%}</text>'
        )
    return (
        f'<svg data-chart="{chart}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="conversion rate per variant of {escape(campaign)}">{"".join(parts)}</svg>'
    )


def variant_table(rows: Mapping[str, VariantRow]) -> str:
    head = ["variant", DecisionStatus.SENT, "delivered", "opened", "clicked", "bought", "revenue"]
    head += ["rate (95% CI)", "P(best)"]
    body = "".join(
        f"<tr><td>{escape(v)}</td><td>{r.sent:,}</td><td>{r.delivered:,}</td><td>{r.opened:,}</td>"
        f"<td>{r.clicked:,}</td><td>{r.conversions:,}</td><td>{r.revenue:,.2f}</td>"
        f'<td>{_pct(r.rate)} <span class="muted">[{_pct(r.interval[0])}, {_pct(r.interval[1])}]</span></td>'
        f"<td>{r.probability_best:.0%}</td></tr>"
        for v, r in rows.items()
    )
    return (
        '<div class="scroll"><table><thead><tr>'
        + "".join(f"<th>{escape(h)}</th>" for h in head)
        + f"</tr></thead><tbody>{body}</tbody></table></div>"
    )


def program_line(program: Uplift) -> str:
    return (
        f"<p>{program.treated:,} shoppers the program reached converted {_pct(program.treated_rate)}, the "
        f"{program.withheld:,} in the global control {_pct(program.withheld_rate)}: "
        f"{program.difference * 100:+.2f} pp [{program.low * 100:+.2f}, {program.high * 100:+.2f}], "
        f"{escape(program.verdict)}.</p>"
    )


def decisions_table(experiment: str, record: Mapping[str, Any]) -> str:
    """An experiment's decision history: each look's action, the weights after it and its evidence."""
    body = "".join(
        f"<tr><td>{escape(d['at'][:16].replace('T', ' '))}</td><td>{escape(d['action'])}</td>"
        f"<td>{escape(weights_line(d['weights']))}</td><td>{escape(evidence_line(d['evidence']))}</td>"
        f"<td>{escape(', '.join(f'{p:.3g}' for p in (d['evidence'].get('p_values') or {}).values()) or '—')}"
        "</td></tr>"
        for d in record["history"]
    )
    head = ["at", "action", "weights after", DECISION_EVIDENCE, "p"]
    return (
        f"<h3>Decisions — {escape(experiment)} ({escape(standing(record))})</h3>"
        f'<div class="muted">{escape(CREDITED_NOTE)}</div>'
        '<div class="scroll"><table data-decisions><thead><tr>'
        + "".join(f"<th>{escape(h)}</th>" for h in head)
        + f"</tr></thead><tbody>{body}</tbody></table></div>"
    )


def experiments_section(report: Report) -> str:
    """The experiments' charts and tables, their decision histories, and the program's uplift; empty
    without any of them."""
    parts = []
    if report.program is not None:
        parts.append(f"<h2>The program against the global control</h2>{program_line(report.program)}")
    for n, (campaign, rows) in enumerate(report.variants.items()):
        parts.append(
            f"<h2>Variants — {escape(campaign)}</h2>"
            '<div class="muted">conversion rate of the shoppers sent each variant, with its 95% interval; '
            f"{escape(BOUGHT_NOTE)}; P(best): the posterior probability that it converts best "
            "(docs/experiments.md)</div>"
            f"{variant_chart(f'variants{n}', campaign, rows)}{variant_table(rows)}"
        )
    parts.extend(decisions_table(e, record) for e, record in report.experiment_decisions.items())
    return "".join(parts)
