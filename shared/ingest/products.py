"""Ingest's catalog step: the products a batch's events tell about, folded into the catalog.

It costs one BatchGetItem per 100 distinct products of the batch and one BatchWriteItem per 25 it
changes (shared/catalog/updates.py), whatever the number of events: a batch of 100 product events
adds at most 1 + 4 requests, 0.05 per event, and usually 2 (a batch names fewer than 25 products).
If the catalog cannot be read or written, the records that carried products fail and SQS redelivers
them: their profile folds are duplicates then (events are folded once by message id), their products
are applied again.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.catalog.ports import ProductCatalog
from shared.catalog.product import Product, products_in
from shared.catalog.updates import CatalogChange, apply_updates
from shared.events.contract import SegmentEvent


def product_updates(events: Sequence[tuple[str, SegmentEvent]]) -> list[tuple[str, Product]]:
    """(record id, product) for every product the events (with their records' ids) tell about."""
    return [(record_id, product) for record_id, event in events for product in products_in(event)]


def update_catalog(
    catalog: ProductCatalog, updates: Sequence[tuple[str, Product]]
) -> tuple[list[CatalogChange], str | None]:
    """The changes the updates made, or the error that kept them from the catalog."""
    if not updates:
        return [], None
    try:
        return apply_updates(catalog, [p for _, p in updates]), None
    except Exception as error:
        return [], f"updating the catalog: {type(error).__name__}: {error}"
