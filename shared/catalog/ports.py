"""Where the catalog is kept (the ``catalog`` table behind :class:`ProductCatalog`)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from shared.catalog.product import Product


class ProductCatalog(Protocol):
    def get_many(self, product_ids: Sequence[str]) -> dict[str, Product]:
        """The stored products of ``product_ids`` by id (absent ones left out): one strongly
        consistent BatchGetItem per 100 ids."""
        ...

    def put_many(self, products: Sequence[Product]) -> None:
        """Store ``products`` (overwrites): one BatchWriteItem per 25."""
        ...
