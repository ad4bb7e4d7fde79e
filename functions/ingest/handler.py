"""SQS (ingest queue) → profiles. Reports partial batch failures so only failed users are retried."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from shared.catalog.ports import ProductCatalog
from shared.core.clock import Clock
from shared.core.queues import DeadLetters
from shared.deployment.topology import INGEST_QUEUE
from shared.events.traits import TraitPolicy
from shared.ingest.conversions import Attributor
from shared.ingest.ingest import QueueRecord, ingest_batch
from shared.platform.metrics import FunctionMetrics, record_conversions, record_ingest
from shared.platform.wiring import Wiring, snapstart
from shared.privacy.erasure import ERASED, Erasures
from shared.profiles.ports import ProfileStore

if TYPE_CHECKING:  # built by the wiring only when the catalog has segment journeys
    from shared.journeys.segments import SegmentEntries

logger = Logger(service="nudge-ingest")
metrics = FunctionMetrics("ingest")


@dataclass(frozen=True)
class IngestPorts:
    profiles: ProfileStore
    dead_letters: DeadLetters
    clock: Clock
    attributor: Attributor | None = None
    traits: TraitPolicy = field(default_factory=TraitPolicy)
    erasures: Erasures | None = None
    products: ProductCatalog | None = None
    segments: SegmentEntries | None = None


def build_ports(w: Wiring) -> IngestPorts:
    """This function's ports from the one wiring (Lambda's, or the local runtime's)."""
    attributor = Attributor(w.catalog(), w.send_log(), w.conversions(), w.experiment_store())
    traits = TraitPolicy(frozenset(w.settings.trusted_event_sources))
    return IngestPorts(
        w.profile_store(),
        w.dead_letters(),
        w.clock,
        attributor,
        traits,
        w.erasures(),
        w.product_catalog(),
        w.segment_entries(),
    )


@cache
def default_ports() -> IngestPorts:
    return build_ports(Wiring.for_lambda())


# With -c event_path_snapstart=true (infra/settings.py): built before the snapshot, built again after each
# restore (its clients, the catalog, the segment journeys' engine).
snapstart(default_ports)


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any, ports: IngestPorts | None = None) -> dict[str, Any]:
    ports = ports or default_ports()
    records = [
        QueueRecord(r["messageId"], r["body"], int(r.get("attributes", {}).get("ApproximateReceiveCount", 1)))
        for r in event.get("Records", [])
    ]
    outcome = ingest_batch(
        records,
        ports.profiles,
        metrics.counting(ports.dead_letters),
        ports.clock,
        ports.attributor,
        max_receives=INGEST_QUEUE.max_receive_count,
        traits=ports.traits,
        erasures=ports.erasures,
        products=ports.products,
        segments=ports.segments,
    )
    record_ingest(metrics, outcome)
    record_conversions(metrics, outcome.conversions)
    for error in outcome.errors:
        logger.error("ingest step failed; its records will be retried", extra={"error": error})
    for record_id, reason in outcome.rejected:
        logger.warning("event rejected", extra={"record_id": record_id, "reason": reason})
    for record_id, reason in outcome.dropped_traits:
        logger.warning("trait dropped", extra={"record_id": record_id, "reason": reason})
    if outcome.erased:
        logger.info("events dropped", extra={"reason": ERASED, "dropped": outcome.erased})
    for record_id, reason in outcome.gave_up:
        logger.error("event parked after its last attempt", extra={"record_id": record_id, "reason": reason})
    logger.info(
        "batch ingested",
        extra={
            "records": len(records),
            "applied": outcome.events_applied,
            "duplicates": outcome.duplicates,
            "rejected": len(outcome.rejected),
            "failed": len(outcome.failed_record_ids),
            "profiles_written": outcome.profiles_written,
            "conversions": len(outcome.conversions),
            "products_changed": len(outcome.catalog_changes),
            # what the catalog triggers will fan out (docs/catalog.md): cheaper, and back in stock
            "price_drops": sum(1 for c in outcome.catalog_changes if c.price_drop_percent is not None),
            "restocks": sum(1 for c in outcome.catalog_changes if c.restocked),
            "erased": outcome.erased,
            "visitors_merged": outcome.merged,  # anonymous histories folded into the shopper at login
            "followed_login": outcome.followed,  # logged-out events of a linked device, on its shopper
            "timestamp_from": dict(outcome.timed_by),  # timestamp, originalTimestamp or bus time
            "segment_entries": dict(outcome.journey_entries),  # segment journeys entered, by transition
        },
    )
    return {"batchItemFailures": [{"itemIdentifier": i} for i in outcome.failed_record_ids]}
