"""`nudge demo`: a synthetic store runs through the whole system on moto, on a simulated clock.

Everything the summary reports is read back from where the system put it — the profiles and
messages tables, the dead-letter queues, and what moto's SES and SNS backends recorded — not from
counters kept beside the code under test.
"""

from __future__ import annotations

import os
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.campaigns.loader import Catalog
from shared.core.clock import SimulatedClock
from shared.core.vocabulary import Channel, DecisionStatus, Level

if TYPE_CHECKING:
    from nudge.report.model import Report

STEP = timedelta(hours=1)
# Statuses that are not a reason a message was not sent (sent, or logged beside the final decision).
NOT_SKIPPED = (
    DecisionStatus.SENT,
    DecisionStatus.DEFERRED_QUIET_HOURS,
    DecisionStatus.DUPLICATE,
    DecisionStatus.CLAIMED,
)
DUPLICATE_SHARE = 0.02
MALFORMED_EVENTS = 5
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class DemoOptions:
    users: int = 2000
    days: int = 14
    seed: int = 7
    audience_segments: int = 4
    store_dir: Path | None = None  # where to leave the tables (JSON lines) for `nudge why`
    scoring_segments: int = 2
    model: Path | None = None  # the trained artefact the scorer uses (default: models/scoring-model.json)
    report_html: Path | None = None  # where to write the measurement report (`nudge report --html`)
    respond: bool = True  # simulate shoppers opening, clicking and buying because of messages
    gentle: bool = False  # the runtime's kind, fixed order instead of the adversary's (debugging)


def run_demo(
    catalog: Catalog,
    options: DemoOptions,
    progress: Progress | None = None,
    reported: Callable[[Report], None] | None = None,
) -> dict[str, Any]:
    """Run the simulation and return the summary (the same dict ``--json`` writes); ``reported``
    receives the measurement report the summary's ``measurement`` was made from."""
    os.environ.update(FAKE_CREDENTIALS)
    from moto import mock_aws

    from nudge.local import machinery
    from nudge.local.responses import Responder
    from nudge.local.runtime import LocalRuntime
    from nudge.shop.store import StoreConfig, SyntheticStore

    started = time.perf_counter()
    store = SyntheticStore(StoreConfig(users=options.users, days=options.days, seed=options.seed))
    start = store.config.start
    with mock_aws():
        clock = SimulatedClock(start)
        runtime = LocalRuntime(
            catalog,
            clock,
            audience_segments=options.audience_segments,
            scoring_segments=options.scoring_segments,
            log_level="ERROR",
            gentle=options.gentle,
            seed=options.seed,
        )
        mode = runtime.mode
        model_version = runtime.publish_model((options.model or default_model_path()).read_text())
        endpoints = {
            s.user_id: runtime.register_push_endpoint(
                s.push_platform, f"device-{s.user_id}", user_id=s.user_id
            )
            for s in store.shoppers
            if s.push_platform
        }
        events = list(store.events(push_endpoints=endpoints))
        rng = random.Random(options.seed)
        duplicates = [e for e in events if rng.random() < DUPLICATE_SHARE]
        malformed = store.malformed_events(MALFORMED_EVENTS)
        hours = options.days * 24
        cursor = 0
        published = failed_publish = 0
        responder = Responder(store, runtime, options.seed) if options.respond else None
        for hour in range(hours):
            window_end = start + STEP * (hour + 1)
            batch: list[dict[str, Any]] = []
            while cursor < len(events) and _timestamp(events[cursor]) < window_end:
                batch.append(events[cursor])
                cursor += 1
            batch += [d for d in duplicates if window_end - STEP <= _timestamp(d) < window_end]
            if hour == hours // 2:
                batch += [{k: v for k, v in m.items() if k != "_why"} for m in malformed]
            if responder is not None:
                batch += responder.due_orders_and_apply(window_end)
            report = runtime.publish(batch)
            published += report.published
            failed_publish += len(report.failed)
            runtime.advance_to(window_end)
            runtime.drain()
            if responder is not None:
                responder.observe()
            if progress:
                sent = machinery.messages_handed_over(runtime.table_names["inbox"])
                progress(
                    hour + 1,
                    hours,
                    f"day {hour // 24 + 1}/{options.days} · {published:,} events · {sent:,} messages · "
                    f"{runtime.requests_made():,} AWS requests",
                )
        summary = _summarize(
            runtime,
            store_events=len(events),
            duplicates=len(duplicates),
            malformed=len(malformed),
            published=published,
            failed_publish=failed_publish,
        )
        responses = dict(responder.counts) if responder is not None else {}
        summary["responses"] = responses
        summary["orders_caused_by_messages"] = responses.get("order", 0)
        measured = _measure(runtime, catalog, options.report_html)
        summary["measurement"] = measured.to_dict()
        if options.report_html is not None:
            summary["measurement"]["html"] = str(options.report_html.resolve())
        if reported is not None:
            reported(measured)
        # one definition everywhere: the report's (sends over the decisions' period, per recipient)
        summary["messages_per_recipient_per_week"] = summary["measurement"]["messages_per_user_week"]["mean"]
        summary["aws_requests"] = _requests(runtime, summary["events_ingested"], summary["messages_sent"])
        if options.store_dir is not None:
            runtime.snapshot(options.store_dir)
    summary["scores"]["published_model"] = model_version
    summary.update(
        users=options.users,
        simulated_days=options.days,
        seed=options.seed,
        mode=mode,
        hostility=dict(sorted(runtime.adversary.seen.items())) if runtime.adversary else {},
        wall_seconds=round(time.perf_counter() - started, 1),
    )
    return summary


def _measure(runtime: Any, catalog: Catalog, html: Path | None) -> Report:
    """`nudge report` on what the run left in the send log and the conversions table."""
    from nudge.report.build import build_report

    result = build_report(runtime.scan("messages"), runtime.scan("conversions"), catalog)
    if html is not None:
        from nudge.report.html import render_html

        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(render_html(result))
    return result


def _requests(runtime: Any, events: int, messages: int) -> dict[str, Any]:
    """The AWS requests of the run: the functions' (what production pays for) per ingested event and
    per sent message, and the runtime's own (playing EventBridge, the pollers, Scheduler)."""
    by_functions = runtime.requests_made()
    by_function: Counter[str] = Counter()
    for (who, _), n in runtime.requests.items():
        by_function[who] += n
    return {
        "by_functions": by_functions,
        "by_runtime": runtime.requests_made(by_functions=False),
        "per_event": round(by_functions / max(events, 1), 2),
        "per_message": round(by_functions / max(messages, 1), 2),
        "by_function": dict(sorted(by_function.items())),
    }


def _timestamp(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00"))


def _summarize(
    runtime: Any, *, store_events: int, duplicates: int, malformed: int, published: int, failed_publish: int
) -> dict[str, Any]:
    from moto.sns.models import sns_backends

    from nudge.local.account import ACCOUNT, REGION

    profiles = runtime.all_profiles()
    messages = runtime.scan("messages")
    inbox = runtime.scan("inbox")
    events_ingested = sum(n for p in profiles for days in p.counts.values() for n in days.values())
    sent = [m for m in messages if m["status"] == DecisionStatus.SENT]
    by_campaign: dict[str, dict[str, Any]] = {}
    for m in messages:
        row = by_campaign.setdefault(
            m["campaign_id"],
            {
                "level": m["level"],
                DecisionStatus.SENT: 0,
                DecisionStatus.SKIPPED: 0,
                "deferred": 0,
                DecisionStatus.CANCELLED: 0,
                **dict.fromkeys(Channel, 0),
            },
        )
        if m["status"] == DecisionStatus.SENT:
            row[DecisionStatus.SENT] += 1
            row[m["channel"]] += 1
        elif m["status"] == DecisionStatus.DEFERRED_QUIET_HOURS:
            row["deferred"] += 1
        elif m["status"] == DecisionStatus.CANCELLED:
            row[DecisionStatus.CANCELLED] += 1
        elif m["status"] not in (DecisionStatus.DUPLICATE, DecisionStatus.CLAIMED):
            row[DecisionStatus.SKIPPED] += 1
    parked = runtime.parked()
    ses_recorded = int(runtime.client("ses").get_send_quota()["SentLast24Hours"])
    sns_recorded = sum(len(e.messages) for e in sns_backends[ACCOUNT][REGION].platform_endpoints.values())
    return {
        "events_generated": store_events,
        "events_published": published,
        "events_publish_failed": failed_publish,
        "duplicates_injected": duplicates,
        "malformed_injected": malformed,
        "events_ingested": events_ingested,
        "profiles": len(profiles),
        "messages_sent": len(sent),
        "messages_by_channel": {c: sum(1 for m in sent if m["channel"] == c) for c in Channel},
        "messages_by_level": {lvl: sum(1 for m in sent if m["level"] == lvl) for lvl in Level},
        "messages_by_campaign": dict(sorted(by_campaign.items())),
        "skipped_by_reason": dict(
            Counter(
                m["status"] if m["status"] != DecisionStatus.SKIPPED else m.get("reason", "?")
                for m in messages
                if m["status"] not in NOT_SKIPPED
            ).most_common()
        ),
        DecisionStatus.DEFERRED_QUIET_HOURS: sum(
            1 for m in messages if m["status"] == DecisionStatus.DEFERRED_QUIET_HOURS
        ),
        "capped_by_cap": dict(
            Counter(m.get("reason") for m in messages if m["status"] == DecisionStatus.CAPPED).most_common()
        ),
        "inbox_messages": len(inbox),
        "provider_recorded": {"ses": ses_recorded, "sns": sns_recorded, "inbox": len(inbox)},
        "dead_letters": dict(Counter(f"{p.queue}: {p.reason}" for p in parked)),
        "invocations": dict(sorted(runtime.invocations.items())),
        "scores": _score_summary(profiles),
    }


def _score_summary(profiles: list[Any]) -> dict[str, Any]:
    """What the daily scorer left in the profiles: RFM segments and the spread of each score."""
    scored = [p.scores for p in profiles if p.scores]
    last_run = max((s.get("scored_at", "") for s in scored), default="")
    unscored_new = sum(
        1 for p in profiles if not p.scores and p.first_seen and p.first_seen.isoformat() > last_run
    )
    propensities = sorted(s["purchase_propensity"] for s in scored if "purchase_propensity" in s)
    churn = [s["churn_risk"] for s in scored if "churn_risk" in s]
    latest = Counter(
        (s.get("model_kind", "trained"), s.get("model_version"))
        for s in scored
        if s.get("scored_at") == last_run
    ).most_common(1)
    return {
        "profiles_scored": len(scored),
        "scored_at": last_run or None,
        # the model the runs used: a short history scores with the label-free fallback, whatever is published
        "model_kind": latest[0][0][0] if latest else None,
        "model_version": latest[0][0][1] if latest else None,
        "model_kinds": dict(Counter(s.get("model_kind", "trained") for s in scored)),
        "profiles_new_since_last_run": unscored_new,
        "rfm_segments": dict(Counter(s["rfm"]["segment"] for s in scored if "rfm" in s).most_common()),
        "purchase_propensity_median": propensities[len(propensities) // 2] if propensities else None,
        "purchase_propensity_over_0_5": sum(1 for p in propensities if p >= 0.5),
        "churn_risk_mean": round(sum(churn) / len(churn), 3) if churn else None,
        "best_send_hours": dict(
            Counter(s["best_send_hour"] for s in scored if "best_send_hour" in s).most_common(3)
        ),
        "favourite_categories": dict(
            Counter(s["favourite_category"] for s in scored if "favourite_category" in s).most_common(3)
        ),
    }


def default_model_path() -> Path:
    return Path(__file__).resolve().parents[2] / "models" / "scoring-model.json"


def default_campaigns_dir() -> Path:
    return Path(__file__).resolve().parents[2] / "campaigns"
