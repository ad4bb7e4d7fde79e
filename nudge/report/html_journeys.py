"""The HTML report's journeys: each journey drawn as a funnel (shoppers entered, reaching each step, sent each
send step's message, ending on the goal) and its uplift against the holdout, for the journey and per branch
and split path. Nothing is drawn for a report without journeys."""

from __future__ import annotations

from html import escape

from nudge.report.funnels import JourneyFunnel
from nudge.report.model import Report
from nudge.report.uplift import Uplift

WIDTH, TOP, ROW = 720, 8, 24
LABEL_W, RIGHT = 220, 110
REACHED, SENT, GOAL = "#93c5fd", "#2563eb", "#16a34a"


def funnel_chart(chart: str, journey: str, funnel: JourneyFunnel) -> str:
    """One bar per line, as wide as its count against the entered: reached (light), sent (dark)."""
    lines: list[tuple[str, int, int | None, str]] = [("entered", funnel.entered, None, REACHED)]
    lines += [(f"{s.step} ({s.type})", s.reached, s.sent, REACHED) for s in funnel.steps]
    lines.append(("ended on the goal", funnel.exited_by_goal, None, GOAL))
    top = max([funnel.entered, *(n for _, n, _, _ in lines), 1])
    plot_w = WIDTH - LABEL_W - RIGHT
    height = TOP * 2 + ROW * len(lines)
    parts = []
    for i, (label, count, sent, colour) in enumerate(lines):
        y = TOP + i * ROW
        width = max(plot_w * count / top, 1.0)
        parts.append(
            f'<text x="{LABEL_W - 8}" y="{y + 15}" text-anchor="end">{escape(label)}</text>'
            f'<rect data-mark x="{LABEL_W}" y="{y + 3}" width="{width:.1f}" height="{ROW - 6}" '
            f'fill="{colour}"/>'
        )
        label_right = f"{count:,}"
        if sent is not None:
            parts.append(
                f'<rect x="{LABEL_W}" y="{y + 8}" width="{plot_w * sent / top:.1f}" height="{ROW - 16}" '
                f'fill="{SENT}"/>'
            )
            label_right += f" · sent {sent:,}"
        parts.append(f'<text x="{LABEL_W + width + 6:.1f}" y="{y + 15}">{label_right}</text>')
    return (
        f'<svg data-chart="{chart}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="funnel of journey {escape(journey)}">{"".join(parts)}</svg>'
    )


def _uplift_row(label: str, up: Uplift) -> str:
    cls = "good" if up.verdict == "significant gain" else "bad" if up.verdict == "significant loss" else "na"
    return (
        f"<tr><td>{escape(label)}</td><td>{up.treated:,}</td><td>{up.treated_rate * 100:.1f}%</td>"
        f"<td>{up.withheld:,}</td><td>{up.withheld_rate * 100:.1f}%</td>"
        f'<td class="{cls}">{up.difference * 100:+.1f} pp <small>[{up.low * 100:+.1f}, {up.high * 100:+.1f}]'
        f"</small></td><td>{escape(up.verdict)}</td></tr>"
    )


def journeys_section(report: Report) -> str:
    if not report.journeys:
        return ""
    blocks = []
    for i, (journey, funnel) in enumerate(report.journeys.items()):
        rows = [_uplift_row("the whole journey", funnel.uplift)] if funnel.uplift else []
        rows += [
            _uplift_row(f"{step}: {path}", up)
            for step, paths in funnel.path_uplift.items()
            for path, up in paths.items()
        ]
        name = escape(report.campaign_names.get(journey, journey))
        blocks.append(
            f"<h3>{name} <span class='muted'>({escape(journey)})</span></h3>"
            f"{funnel_chart(f'journey-{i}', journey, funnel)}"
            '<div class="scroll"><table><tr><th>shoppers</th><th>treated</th><th>conv.</th><th>withheld</th>'
            f"<th>conv.</th><th>uplift (95% CI)</th><th>verdict</th></tr>{''.join(rows)}</table></div>"
        )
    return (
        "<h2>Journeys</h2><div class='muted'>Shoppers entered, reaching each step (light) and sent "
        "its message (dark), ending on the goal; the uplift of the journey and of each branch or split "
        "path against the journey's holdout (a split path's comparison is causal, a branch path's is not: "
        "a rule chose its shoppers). Each shopper counts once, on their last instance.</div>"
        + "".join(blocks)
    )
