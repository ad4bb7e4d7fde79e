"""The report as one static HTML file: inline CSS and SVG charts, no scripts or fonts to fetch.

A small inline script only checks, once the page has laid out, that every chart drew its marks
(it writes the counts into ``data-rendered`` attributes); the Chromium test reads them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any

from nudge.report.html_experiments import experiments_section
from nudge.report.html_journeys import journeys_section
from nudge.report.model import Report, Row, day_range
from nudge.report.verdict import OPTIMAL_FREQUENCY
from shared.core.vocabulary import DecisionStatus, Level

COLOURS = {Level.L1: "#94a3b8", Level.L2: "#3b82f6", Level.L3: "#8b5cf6", Level.L4: "#f97316"}
VERDICT_COLOURS = {"Striving": "#dc2626", "Steady": "#d97706", "Stellar": "#16a34a"}
LEVEL_NAMES = {
    Level.L1: "demographic",
    Level.L2: "behavioural",
    Level.L3: "predictive",
    Level.L4: "real-time",
}
WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 36

CSS = """
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#0f172a;background:#f8fafc;margin:0}
main{max-width:1080px;margin:0 auto;padding:28px 24px 60px}
h1{font-size:26px;margin:0 0 4px}h2{font-size:18px;margin:32px 0 10px}
.muted{color:#64748b}.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(150px,1fr));gap:12px;margin:20px 0}
.kpi,.card{background:#fff;border:1px solid #e2e8f0;border-radius:10px;padding:12px 14px}
.kpi b{display:block;font-size:22px}.kpi span{color:#64748b;font-size:13px}
.verdict{border-left:8px solid var(--c);display:grid;gap:6px}.verdict h2{margin:0;color:var(--c)}
.verdict ol{margin:4px 0 0 18px;padding:0}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #e2e8f0;border-radius:10px;font-size:13px}
th,td{padding:6px 8px;text-align:right;border-bottom:1px solid #f1f5f9;white-space:nowrap}
th:first-child,td:first-child{text-align:left;white-space:normal;min-width:160px}th{background:#f1f5f9;font-weight:600}
td small{display:block;color:#64748b;font-size:11px}.scroll{overflow-x:auto}
.pill{display:inline-block;border-radius:999px;padding:0 8px;font-size:12px;color:#fff}
.good{color:#16a34a}.bad{color:#dc2626}.na{color:#94a3b8}
svg{width:100%;height:auto;background:#fff;border:1px solid #e2e8f0;border-radius:10px}
svg text{font:11px system-ui,sans-serif;fill:#475569}.legend span{margin-right:14px;font-size:13px}
.legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:5px}
"""

CHECK = """
(function(){var charts=document.querySelectorAll('svg[data-chart]'),ok=0;
for(var i=0;i<charts.length;i++){var c=charts[i],marks=c.querySelectorAll('[data-mark]'),drawn=0;
for(var j=0;j<marks.length;j++){var b=marks[j].getBBox();if(b.width>0||b.height>0)drawn++;}
var r=c.getBoundingClientRect();c.setAttribute('data-rendered',drawn);
if(drawn>0&&drawn===marks.length&&r.width>200&&r.height>60)ok++;}
document.body.setAttribute('data-charts-rendered',ok+'/'+charts.length);})();
"""


def _pct(value: float, digits: int = 1) -> str:
    return f"{value * 100:.{digits}f}%"


def _pp(value: float) -> str:
    return f"{value * 100:+.2f} pp"


def _money(value: float) -> str:
    return f"{value:,.2f}"


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _axis(top_value: float, fmt: str = "{:g}") -> str:
    plot_h = HEIGHT - TOP - BOTTOM
    parts = []
    for i in range(5):
        value = top_value * i / 4
        y = TOP + plot_h - plot_h * i / 4
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e2e8f0"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{fmt.format(value)}</text>'
        )
    return "".join(parts)


def stacked_bars(chart: str, title: str, series: Mapping[str, Mapping[str, int]], days: Sequence[str]) -> str:
    """Per-day stacked bars by level."""
    totals = [sum(series.get(d, {}).values()) for d in days]
    top = _nice_max(max(totals, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(days), 1)
    bar = max(2.0, slot * 0.72)
    marks = []
    for i, day in enumerate(days):
        y = float(TOP + plot_h)
        x = LEFT + i * slot + (slot - bar) / 2
        for level in Level:
            n = series.get(day, {}).get(level, 0)
            if n <= 0:
                continue
            h = plot_h * n / top
            y -= h
            marks.append(
                f'<rect data-mark x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[level]}"><title>{escape(day)} {level}: {n}</title></rect>'
            )
        if len(days) <= 16 or i % max(1, len(days) // 12) == 0:
            marks.append(
                f'<text x="{x + bar / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{escape(day[5:])}</text>'
            )
    empty = "" if any(totals) else _empty()
    return (
        f'<svg data-chart="{chart}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}">'
        f"{_axis(top)}{''.join(marks)}{empty}</svg>"
    )


def histogram(chart: str, values: Sequence[float]) -> str:
    """Messages per recipient per week: how many recipients got how many."""
    edges = list(range(0, 15))
    counts = [0] * (len(edges) + 1)
    for v in values:
        counts[min(int(v), len(edges))] += 1
    labels = [f"{e}-{e + 1}" for e in edges] + [f"{len(edges)}+"]
    top = _nice_max(max(counts, default=0))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(counts)
    low, high = OPTIMAL_FREQUENCY
    marks = [
        f'<rect x="{LEFT + low * slot:.1f}" y="{TOP}" width="{(high - low) * slot:.1f}" height="{plot_h}" '
        f'fill="#dcfce7" opacity="0.6"><title>optimal band {low:g}-{high:g} a week</title></rect>'
    ]
    for i, n in enumerate(counts):
        x = LEFT + i * slot + slot * 0.12
        h = plot_h * n / top
        if n:
            marks.append(
                f'<rect data-mark x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{slot * 0.76:.1f}" '
                f'height="{h:.1f}" fill="#0ea5e9"><title>{labels[i]} a week: {n} recipients</title></rect>'
            )
        marks.append(
            f'<text x="{x + slot * 0.38:.1f}" y="{HEIGHT - BOTTOM + 16}" text-anchor="middle">{labels[i]}</text>'
        )
    empty = "" if values else _empty()
    return (
        f'<svg data-chart="{chart}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="messages per recipient per week">{_axis(top)}{"".join(marks)}{empty}</svg>'
    )


def uplift_chart(chart: str, report: Report) -> str:
    """Uplift per campaign in percentage points, with its 95% interval as error bars."""
    rows = [(c, r.uplift) for c, r in report.campaigns.items() if r.uplift is not None and r.uplift.withheld]
    row_h, label_w, right = 26, 200, 24
    height = TOP + BOTTOM + row_h * max(len(rows), 1)
    span = max([abs(u.low) for _, u in rows] + [abs(u.high) for _, u in rows] + [0.01])
    span = _nice_max(span * 100) / 100
    plot_w = WIDTH - label_w - right

    def x_of(value: float) -> float:
        return label_w + plot_w * (value + span) / (2 * span)

    parts = []
    for i in range(5):
        value = -span + 2 * span * i / 4
        x = x_of(value)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{height - BOTTOM}" stroke="#e2e8f0"/>'
            f'<text x="{x:.1f}" y="{height - BOTTOM + 16}" text-anchor="middle">{value * 100:+.1f} pp</text>'
        )
    parts.append(
        f'<line x1="{x_of(0):.1f}" x2="{x_of(0):.1f}" y1="{TOP}" y2="{height - BOTTOM}" stroke="#334155"/>'
    )
    for i, (campaign, u) in enumerate(rows):
        y = TOP + row_h * i + row_h / 2
        colour = {"significant gain": "#16a34a", "significant loss": "#dc2626"}.get(u.verdict, "#64748b")
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 4:.1f}" text-anchor="end">{escape(campaign)}</text>'
            f'<line data-mark x1="{x_of(u.low):.1f}" x2="{x_of(u.high):.1f}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="{colour}" stroke-width="2"><title>{escape(campaign)}: {_pp(u.difference)} '
            f"(95% CI {_pp(u.low)} to {_pp(u.high)}), {u.verdict}</title></line>"
            f'<line x1="{x_of(u.low):.1f}" x2="{x_of(u.low):.1f}" y1="{y - 5:.1f}" y2="{y + 5:.1f}" stroke="{colour}"/>'
            f'<line x1="{x_of(u.high):.1f}" x2="{x_of(u.high):.1f}" y1="{y - 5:.1f}" y2="{y + 5:.1f}" '
            f'stroke="{colour}"/>'
            f'<circle data-mark cx="{x_of(u.difference):.1f}" cy="{y:.1f}" r="4.5" fill="{colour}"/>'
        )
    empty = "" if rows else _empty("no campaign has a holdout group yet")
    return (
        f'<svg data-chart="{chart}" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-label="uplift per campaign">{"".join(parts)}{empty}</svg>'
    )


def _empty(text: str = "no data in this period") -> str:
    return f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">{escape(text)}</text>'


def _legend() -> str:
    return (
        '<div class="legend">'
        + "".join(
            f'<span><i style="background:{COLOURS[lv]}"></i>{lv} {LEVEL_NAMES[lv]}</span>' for lv in Level
        )
        + "</div>"
    )


def _uplift_cells(row: Row) -> str:
    u = row.uplift
    if u is None or not u.withheld:
        return '<td class="na">—</td><td class="na">no holdout</td>'
    css = {"significant gain": "good", "significant loss": "bad"}.get(u.verdict, "na")
    return (
        f'<td class="{css}">{_pp(u.difference)} <span class="muted">[{_pp(u.low)}, {_pp(u.high)}]</span>'
        f"<small>{_pct(u.treated_rate)} of {u.treated:,} treated vs {_pct(u.withheld_rate)} of "
        f"{u.withheld:,} withheld</small></td>"
        f'<td class="{css}">{escape(u.verdict)}</td>'
    )


def _table(
    title: str, rows: Mapping[str, Row], names: Mapping[Any, str] | None = None, uplift: bool = True
) -> str:
    head = [
        "",
        DecisionStatus.SENT,
        "withheld",
        "delivered",
        "opened",
        "clicked",
        "converted",
        "revenue",
        "conv. rate",
    ]
    if uplift:
        head += ["uplift (95% CI)", ""]
    body = []
    for key, row in rows.items():
        label = escape(key) + (
            f' <span class="muted">{escape(names[key])}</span>' if names and key in names else ""
        )
        cells = [
            label,
            f"{row.sent:,}",
            f"{row.withheld:,}",
            f"{row.delivered:,}",
            f"{row.opened:,}"
            + (f' <span class="muted">{_pct(row.opened / row.sent, 0)}</span>' if row.sent else ""),
            f"{row.clicked:,}",
            f"{row.conversions:,}",
            _money(row.revenue),
            _pct(row.conversion_rate, 2),
        ]
        body.append(
            "<tr>"
            + "".join(f"<td>{c}</td>" for c in cells)
            + (_uplift_cells(row) if uplift else "")
            + "</tr>"
        )
    return (
        f'<h2>{escape(title)}</h2><div class="scroll"><table><thead><tr>'
        + "".join(f"<th>{h}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(body)
        + "</tbody></table></div>"
    )


def render_html(report: Report, generated_at: datetime | None = None) -> str:
    days = [d.isoformat() for d in day_range(report)]
    verdict = report.verdict
    colour = VERDICT_COLOURS.get(verdict.kind, "#334155")
    total = report.total
    u = total.uplift
    period = (
        f"{report.start:%Y-%m-%d %H:%M} – {report.end:%Y-%m-%d %H:%M} UTC"
        if report.start and report.end
        else "no decisions in this period"
    )
    kpis = [
        (f"{total.sent:,}", "messages sent"),
        (f"{report.recipients:,}", "recipients"),
        (
            f"{report.messages_per_user_week:.1f}",
            f"per recipient per week (p95 {report.messages_per_user_week_p95:.1f})",
        ),
        (f"{total.conversions:,}", "conversions (last touch)"),
        (_money(total.revenue), "attributed revenue"),
        (
            _pp(u.difference) if u and u.withheld else "—",
            "uplift, all campaigns" + (f" ({u.verdict})" if u else ""),
        ),
    ]
    mix = " · ".join(f"{lv} {_pct(report.level_mix[lv], 0)}" for lv in Level)
    recommendations = "".join(f"<li>{escape(r)}</li>" for r in verdict.recommendations)
    stamp = f" · generated {generated_at:%Y-%m-%d %H:%M} UTC" if generated_at else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Nudge report — {escape(verdict.kind)}</title><style>{CSS}</style></head>
<body><main>
<h1>What your messaging earned</h1>
<div class="muted">{escape(period)}{escape(stamp)}</div>
<div class="kpis">{"".join(f'<div class="kpi"><b>{v}</b><span>{escape(k)}</span></div>' for v, k in kpis)}</div>
<div class="card verdict" style="--c:{colour}">
<h2>Verdict: {escape(verdict.kind)}</h2>
<div>{escape(verdict.why)}.</div>
<div class="muted">Level mix: {escape(mix)}. Thresholds: Striving when L1 is at least half of the sends or a recipient
gets more than 10 a week; Stellar when all four levels have at least 5%, L4 at least 30%, and the frequency is
1–7 a week; Steady otherwise (docs/measurement.md).</div>
<div><b>What would move you up</b><ol>{recommendations}</ol></div>
</div>
<h2>Sends per day, by level</h2>{_legend()}
{stacked_bars("sends", "sends per day by level", report.daily_sends, days)}
<h2>Conversions per day, by level (last touch)</h2>{_legend()}
{stacked_bars("conversions", "conversions per day by level", report.daily_conversions, days)}
<h2>Messages per recipient per week</h2>
<div class="muted">mean {report.messages_per_user_week:.2f}, p95 {report.messages_per_user_week_p95:.2f};
the green band is the optimal {OPTIMAL_FREQUENCY[0]:g}–{OPTIMAL_FREQUENCY[1]:g}</div>
{histogram("frequency", report.per_user_week)}
<h2>Uplift per campaign</h2>
<div class="muted">treated minus withheld conversion rate, with the 95% interval (green: a significant gain,
red: a significant loss, grey: not significant yet)</div>
{uplift_chart("uplift", report)}
{_table("By campaign", report.campaigns, report.campaign_names)}
{_table("By level", report.levels, LEVEL_NAMES)}
{_table("By channel", report.channels, uplift=False)}
{journeys_section(report)}
{experiments_section(report)}
<p class="muted">Uplift compares every shopper a campaign chose (treated) with its holdout (withheld), both followed
for the campaign's goal window; "not significant yet" means the interval still contains zero. Revenue and the
conversion rate credit each goal event to the last message sent before it. Push and in-app count as delivered when
SNS accepted them or the inbox stored them; email delivery, opens and clicks come from SES events.</p>
</main><script>{CHECK}</script></body></html>
"""
