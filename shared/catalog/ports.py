"""Where the catalog is kept (the ``catalog`` table behind :class:`ProductCatalog`) and where its feed
is read from (the feed bucket behind :class:`FeedObjects`)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from shared.catalog.interest import Interest
from shared.catalog.product import Product


class ProductCatalog(Protocol):
    # Whether ``put_many`` keeps the interest index: only where a catalog campaign reads it (the
    # deployment's catalog has one enabled); elsewhere ingest writes no interest at all.
    keeps_interest: bool

    def get_many(self, product_ids: Sequence[str]) -> dict[str, Product]:
        """The stored products of ``product_ids`` by id (absent ones left out): one strongly
        consistent BatchGetItem per 100 ids."""
        ...

    def put_many(self, products: Sequence[Product], interests: Sequence[Interest] = ()) -> None:
        """Store ``products`` (overwrites), and the shoppers' ``interests`` in the same requests (the
        interest index, shared/catalog/interest.py): one BatchWriteItem per 25 items of both."""
        ...


@dataclass(frozen=True)
class FeedObject:
    """An opened feed object: its lines (read as they are iterated) and when it was last put."""

    lines: Iterable[str]
    last_modified: datetime
    version: str | None = None


class FeedObjects(Protocol):
    def open(self, bucket: str, key: str) -> FeedObject:
        """The object, its lines streamed as text; raises ``feed_run.FeedUnreadable`` (naming the
        bucket and key) when it is missing or cannot be read, or when a line is not UTF-8 text."""
        ...
