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

from nudge.local.identity_figures import identity_figures
from nudge.local.shards import Progress, ShardRun, Tick, tick_label
from shared.campaigns.loader import Catalog
from shared.core.clock import SimulatedClock
from shared.core.vocabulary import Channel, DecisionStatus, Level

if TYPE_CHECKING:
    from nudge.local.responses import ResponseModel
    from nudge.report.model import Report

STEP = timedelta(hours=1)
# Statuses that are not a reason a message was not sent (sent, or logged beside the final decision).
NOT_SKIPPED = (
    DecisionStatus.SENT,
    DecisionStatus.DEFERRED_QUIET_HOURS,
    DecisionStatus.DEFERRED_SEND_TIME,
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
    # Processes: each runs every n-th shopper through a whole system of its own on moto (shoppers
    # never share state, so the runs add up; see nudge/local/shards.py).
    shards: int = 1
    responses: ResponseModel | None = None  # the shoppers' true response probabilities (default: the shop's)


def run_demo(
    catalog: Catalog,
    options: DemoOptions,
    progress: Progress | None = None,
    reported: Callable[[Report], None] | None = None,
) -> dict[str, Any]:
    """Run the simulation and return the summary (the same dict ``--json`` writes); ``reported``
    receives the measurement report the summary's ``measurement`` was made from."""
    started = time.perf_counter()
    if options.shards > 1:
        from nudge.local.shards import run_shards

        runs = run_shards(run_shard, catalog, options, progress)
    else:
        runs = [run_shard(catalog, options, 0, _ticker(progress, options.days))]
    summary = _summarize(runs, catalog, options, reported)
    summary["wall_seconds"] = round(time.perf_counter() - started, 1)
    return summary


def _ticker(progress: Progress | None, days: int) -> Callable[[Tick], None] | None:
    if progress is None:
        return None
    return lambda tick: progress(tick.hour, tick.hours, tick_label(tick, days))


def shard_seed(seed: int, shard: int) -> int:
    """Shard 0 keeps the run's seed (one shard is the unsharded run); the others draw their own."""
    return seed + 7919 * shard


def run_shard(
    catalog: Catalog, options: DemoOptions, shard: int, tick: Callable[[Tick], None] | None = None
) -> ShardRun:
    """Every ``options.shards``-th shopper from the ``shard``-th on, through a whole system on moto."""
    os.environ.update(FAKE_CREDENTIALS)
    from moto import mock_aws

    from nudge.local import machinery
    from nudge.local.responses import Responder
    from nudge.local.runtime import LocalRuntime
    from nudge.shop.store import StoreConfig, SyntheticStore

    seed = shard_seed(options.seed, shard)
    store = SyntheticStore(
        StoreConfig(users=options.users, days=options.days, seed=options.seed, shard=(shard, options.shards))
    )
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
            seed=seed,
        )
        model_version = runtime.publish_model((options.model or default_model_path()).read_text())
        endpoints = {
            s.user_id: runtime.register_push_endpoint(
                s.push_platform, f"device-{s.user_id}", user_id=s.user_id
            )
            for s in store.shoppers
            if s.push_platform
        }
        events = list(store.events(push_endpoints=endpoints))
        rng = random.Random(seed)
        duplicates = [e for e in events if rng.random() < DUPLICATE_SHARE]
        malformed = store.malformed_events(MALFORMED_EVENTS) if shard == 0 else []
        hours = options.days * 24
        cursor = 0
        published = failed_publish = 0
        responder = Responder(store, runtime, seed, options.responses) if options.respond else None
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
            if tick is not None:
                sent = machinery.messages_handed_over(runtime.table_names["inbox"])
                tick(Tick(hour + 1, hours, published, sent, runtime.requests_made()))
        return _read_back(
            runtime,
            options,
            store_events=len(events),
            duplicates=len(duplicates),
            malformed=len(malformed),
            published=published,
            failed_publish=failed_publish,
            responses=Counter(responder.counts) if responder is not None else Counter(),
            model_version=model_version,
        )


def _read_back(runtime: Any, options: DemoOptions, **counts: Any) -> ShardRun:
    from nudge.local import machinery
    from shared.deployment import topology

    keys = (
        [t.key for t in topology.TABLES]
        if options.store_dir
        else ["messages", "conversions", "inbox", topology.JOURNEYS.key]
    )
    return ShardRun(
        profiles=runtime.all_profiles(),
        tables={key: runtime.scan(key) for key in keys},
        parked=runtime.parked(),
        ses_recorded=int(runtime.client("ses").get_send_quota()["SentLast24Hours"]),
        sns_recorded=machinery.push_deliveries(),
        invocations=Counter(runtime.invocations),
        hostility=Counter(runtime.adversary.seen) if runtime.adversary else Counter(),
        requests=Counter(runtime.requests),
        mode=runtime.mode,
        **counts,
    )


def _summarize(
    runs: list[ShardRun], catalog: Catalog, options: DemoOptions, reported: Callable[[Report], None] | None
) -> dict[str, Any]:
    """The summary of the runs together, read from what they left (one run: exactly as it was)."""
    tables = {key: [item for run in runs for item in run.tables.get(key, [])] for key in runs[0].tables}
    profiles = [p for run in runs for p in run.profiles]
    parked = [p for run in runs for p in run.parked]
    summary = _counts(
        [p for p in profiles if p.linked_to is None],  # a visitor's link holds no history: not a profile
        tables["messages"],
        tables["inbox"],
        parked,
        store_events=sum(r.store_events for r in runs),
        duplicates=sum(r.duplicates for r in runs),
        malformed=sum(r.malformed for r in runs),
        published=sum(r.published for r in runs),
        failed_publish=sum(r.failed_publish for r in runs),
        ses_recorded=sum(r.ses_recorded for r in runs),
        sns_recorded=sum(r.sns_recorded for r in runs),
        invocations=sum((r.invocations for r in runs), Counter()),
    )
    responses = dict(sum((r.responses for r in runs), Counter()))
    summary["responses"] = responses
    summary["orders_caused_by_messages"] = responses.get("order", 0)
    summary["reviews_caused_by_messages"] = responses.get("review", 0)  # post-purchase's review requests
    measured = _measure(tables, catalog, options.report_html)
    summary["measurement"] = measured.to_dict()
    summary["journeys"] = {journey: funnel.summary() for journey, funnel in measured.journeys.items()}
    if options.report_html is not None:
        summary["measurement"]["html"] = str(options.report_html.resolve())
    if reported is not None:
        reported(measured)
    # one definition everywhere: the report's (sends over the decisions' period, per recipient)
    summary["messages_per_recipient_per_week"] = summary["measurement"]["messages_per_user_week"]["mean"]
    requests = sum((r.requests for r in runs), Counter())
    summary["aws_requests"] = _requests(requests, summary["events_ingested"], summary["messages_sent"])
    if options.store_dir is not None:
        from nudge.local.dump import write_tables
        from shared.deployment import topology

        write_tables(options.store_dir, {t.key: tables[t.key] for t in topology.TABLES}, parked)
    summary["scores"]["published_model"] = runs[0].model_version
    summary["identity"] = identity_figures(profiles, tables["messages"], tables["conversions"])
    summary.update(
        users=options.users,
        simulated_days=options.days,
        seed=options.seed,
        mode=runs[0].mode,
        shards=len(runs),
        hostility=dict(sorted(sum((r.hostility for r in runs), Counter()).items())),
    )
    return summary


def _measure(tables: dict[str, list[dict[str, Any]]], catalog: Catalog, html: Path | None) -> Report:
    """`nudge report` on what the run left in the send log, the conversions, the experiments'
    items and the journeys."""
    from nudge.report.build import build_report
    from shared.adapters.dynamo.experiments import experiments_in

    stored = experiments_in(tables.get("models", []))
    result = build_report(
        tables["messages"],
        tables["conversions"],
        catalog,
        experiments_stored=stored,
        journeys=tables.get("journeys", []),
    )
    if html is not None:
        from nudge.report.html import render_html

        html.parent.mkdir(parents=True, exist_ok=True)
        html.write_text(render_html(result))
    return result


def _requests(requests: Counter[tuple[str, str]], events: int, messages: int) -> dict[str, Any]:
    """The AWS requests of the run: the functions' (what production pays for) per ingested event and
    per sent message, and the runtime's own (playing EventBridge, the pollers, Scheduler)."""
    from nudge.local.runtime import RUNTIME_ITSELF

    by_function: Counter[str] = Counter()
    for (who, _), n in requests.items():
        by_function[who] += n
    by_functions = sum(n for who, n in by_function.items() if who != RUNTIME_ITSELF)
    return {
        "by_functions": by_functions,
        "by_runtime": by_function[RUNTIME_ITSELF],
        "per_event": round(by_functions / max(events, 1), 2),
        "per_message": round(by_functions / max(messages, 1), 2),
        "by_function": dict(sorted(by_function.items())),
        "by_operation": {f"{who} {operation}": n for (who, operation), n in sorted(requests.items())},
    }


def _timestamp(event: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(str(event["timestamp"]).replace("Z", "+00:00"))


def _counts(
    profiles: list[Any],
    messages: list[dict[str, Any]],
    inbox: list[dict[str, Any]],
    parked: list[Any],
    *,
    store_events: int,
    duplicates: int,
    malformed: int,
    published: int,
    failed_publish: int,
    ses_recorded: int,
    sns_recorded: int,
    invocations: Counter[str],
) -> dict[str, Any]:
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
        elif m["status"] in (DecisionStatus.DEFERRED_QUIET_HOURS, DecisionStatus.DEFERRED_SEND_TIME):
            row["deferred"] += 1
        elif m["status"] == DecisionStatus.CANCELLED:
            row[DecisionStatus.CANCELLED] += 1
        elif m["status"] not in (DecisionStatus.DUPLICATE, DecisionStatus.CLAIMED):
            row[DecisionStatus.SKIPPED] += 1
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
        "invocations": dict(sorted(invocations.items())),
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
