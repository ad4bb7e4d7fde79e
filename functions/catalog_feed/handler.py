"""EventBridge Scheduler (daily) or the feed object's "Object Created" event → the catalog feed loaded
into the catalog (``shared.catalog.feed_run``), and the run's record logged, counted and returned.

A feed that cannot be loaded raises: Lambda retries the asynchronous invocation, then parks it in the
planner's dead-letter queue with the error (which names the bucket and key), and the function's
errors alarm fires."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

from aws_lambda_powertools import Logger

from shared.catalog.feed_run import FeedUnreadable, load_feed_object
from shared.catalog.ports import FeedObjects, ProductCatalog
from shared.platform.metrics import CATALOG_FEED_CHANGES, CATALOG_FEED_ROWS, FunctionMetrics
from shared.platform.wiring import Wiring

logger = Logger(service="nudge-catalog_feed")
metrics = FunctionMetrics("catalog_feed")


@dataclass(frozen=True)
class CatalogFeedPorts:
    catalog: ProductCatalog
    objects: FeedObjects
    bucket: str
    key: str


def build_ports(w: Wiring) -> CatalogFeedPorts:
    """This function's ports from the one wiring (Lambda's, or the local runtime's)."""
    w.settings.require("feed_bucket")
    return CatalogFeedPorts(
        w.product_catalog(), w.feed_objects(), str(w.settings.feed_bucket), w.settings.feed_key or ""
    )


@cache
def default_ports() -> CatalogFeedPorts:
    return build_ports(Wiring.for_lambda())


def _trigger(event: dict[str, Any]) -> str:
    """What started the run, for its record: the schedule's time or the object put."""
    if event.get("source") == "aws.s3":
        return f"object created at {event.get('time', '?')}"
    return f"schedule at {event.get('run', '?')}"


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any, ports: CatalogFeedPorts | None = None) -> dict[str, Any]:
    feed = ports or default_ports()
    try:
        run = load_feed_object(feed.catalog, feed.objects, feed.bucket, feed.key)
    except FeedUnreadable as unreadable:
        logger.error("catalog feed not loaded", extra={"trigger": _trigger(event), "reason": str(unreadable)})
        raise
    record = run.record()
    metrics.add(CATALOG_FEED_ROWS, run.loaded, outcome="loaded")
    metrics.add(CATALOG_FEED_ROWS, run.refused_rows, outcome="refused")
    metrics.add(CATALOG_FEED_CHANGES, run.changed)
    logger.info("catalog feed loaded", extra={"trigger": _trigger(event), **record})
    return record
