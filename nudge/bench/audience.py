"""Audiences: rule evaluations per second over synthetic profiles; the audience worker's CPU per profile."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from nudge.bench.measuring import START, metered
from shared.campaigns.loader import Catalog
from shared.core.vocabulary import EMAIL_TRAIT, Channel

AUDIENCE_PROFILES = 20_000


def measure_audience(catalog: Catalog) -> dict[str, Any]:
    from shared.profiles.profile import Cart, CartItem, Profile

    now = START + timedelta(days=7)
    countries = ["ID", "MY", "SG", "PH", "IN", "US", "GB", "AU"]
    profiles = [
        Profile(
            user_id=f"a-{i}",
            traits={
                "age": 16 + i % 50,
                "country": countries[i % len(countries)],
                EMAIL_TRAIT: f"a{i}@example.com",
                "consent": {Channel.EMAIL: i % 3 != 0, Channel.PUSH: i % 2 == 0},
                "first_name": "Sam",
            },
            orders=i % 4,
            last_order_at=now - timedelta(days=i % 30) if i % 4 else None,
            last_seen=now - timedelta(hours=i % 200),
            category_views={"shoes": i % 7, "bags": i % 5},
            cart=Cart(items=[CartItem(product_id="p1", price=20)], updated_at=now) if i % 5 == 0 else None,
        )
        for i in range(AUDIENCE_PROFILES)
    ]
    audiences = [c.parsed_audience for c in catalog if c.audience]
    started = time.process_time()
    matched = sum(1 for p in profiles for a in audiences if a.includes(p, now))
    elapsed = time.process_time() - started
    evaluations = len(profiles) * len(audiences)
    return {
        "audience_profiles_per_second": round(evaluations / elapsed),
        "audience_rules_evaluated": sum(len(a.rules) for a in audiences),
        "audience_match_share": round(matched / evaluations, 3),
    }


def measure_worker_cpu(runtime: Any) -> float:
    """Our CPU per profile in the audience worker (decode, evaluate, build the job), AWS excluded."""
    from shared.batch.batch_campaigns import AudienceWorker, SegmentTask

    campaign = next(c for c in runtime.catalog if c.schedule is not None)
    profiles = runtime.all_profiles()
    worker = AudienceWorker(runtime.catalog, runtime.profiles, _Discard(), _Discard(), runtime.clock)
    with metered(runtime) as meter:
        started = time.process_time()
        result = worker.work(
            SegmentTask(
                campaign_id=campaign.id, occurrence="2026-11-07T03:00:00Z", segment=0, total_segments=1
            ),
            remaining_ms=lambda: 900_000,
        )
        cpu_s = time.process_time() - started - meter.botocore_cpu_s
    assert result.scanned == len(profiles)
    return cpu_s * 1000 / max(result.scanned, 1)


class _Discard:
    def send_many(self, bodies: Any) -> None:
        list(bodies)
