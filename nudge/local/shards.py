"""``nudge demo --shards N``: the store's shoppers split over N processes, each a whole system on moto.

Shoppers never share state in Nudge — profiles, ledgers, caps, holdouts, send keys and conversions
are all per shopper — so N systems each given every N-th shopper do, together, what one system
does with all of them, on N cores instead of one (Python runs one thread at a time; moto is
in-process). Each shard runs its own adversarial runtime, seeded from the run's seed and its
index; what they leave is read back and summarized together (:class:`ShardRun`),
and the dump for ``nudge why`` holds every shard's tables.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from shared.campaigns.loader import Catalog

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class Tick:
    """How far one shard's run is: simulated hours, events published, messages sent, AWS requests."""

    hour: int
    hours: int
    events: int
    messages: int
    requests: int


@dataclass
class ShardRun:
    """What one shard's run left, read back from where the system put it; picklable, so a shard can
    run in a process of its own, and concatenable, so the summary of n shards is the summary of one."""

    store_events: int
    duplicates: int
    malformed: int
    published: int
    failed_publish: int
    profiles: list[Any]
    tables: dict[str, list[dict[str, Any]]]  # messages, conversions, inbox; every table with a store_dir
    parked: list[Any]
    ses_recorded: int
    sns_recorded: int
    invocations: Counter[str]
    hostility: Counter[str]
    requests: Counter[tuple[str, str]]
    responses: Counter[str]
    mode: str
    model_version: str


def tick_label(tick: Tick, days: int) -> str:
    day = max(1, (tick.hour + 23) // 24)
    return (
        f"day {day}/{days} · {tick.events:,} events · {tick.messages:,} messages · "
        f"{tick.requests:,} AWS requests"
    )


# (catalog, the demo's options, shard index, progress) -> what the shard's run left: the demo's
# run_shard, passed in so that this module does not import the demo (which imports it).
ShardRunner = Callable[[Catalog, Any, int, Callable[[Tick], None] | None], ShardRun]


def run_shards(
    run_shard: ShardRunner, catalog: Catalog, options: Any, progress: Progress | None
) -> list[ShardRun]:
    """Run the shards in processes of their own; their progress is shown as one (the slowest shard's
    hour, everyone's events, messages and requests)."""
    context = multiprocessing.get_context("spawn")  # no fork of a process with threads running
    with context.Manager() as manager:
        ticks = manager.Queue()
        latest: dict[int, Tick] = {}
        watcher = threading.Thread(target=_watch, args=(ticks, latest, options, progress), daemon=True)
        watcher.start()
        with ProcessPoolExecutor(max_workers=options.shards, mp_context=context) as pool:
            catalog_json = catalog.to_json()
            futures = [
                pool.submit(_shard, run_shard, catalog_json, options, shard, ticks)
                for shard in range(options.shards)
            ]
            runs = [future.result() for future in futures]
        ticks.put(None)
        watcher.join()
    return runs


def _shard(run_shard: ShardRunner, catalog_json: str, options: Any, shard: int, ticks: Any) -> ShardRun:
    return run_shard(Catalog.from_json(catalog_json), options, shard, lambda tick: ticks.put((shard, tick)))


def _watch(ticks: Any, latest: dict[int, Tick], options: Any, progress: Progress | None) -> None:
    while (item := ticks.get()) is not None:
        shard, tick = item
        latest[shard] = tick
        if progress is not None and len(latest) == options.shards:
            together = Tick(
                hour=min(t.hour for t in latest.values()),
                hours=tick.hours,
                events=sum(t.events for t in latest.values()),
                messages=sum(t.messages for t in latest.values()),
                requests=sum(t.requests for t in latest.values()),
            )
            progress(together.hour, together.hours, tick_label(together, options.days))
