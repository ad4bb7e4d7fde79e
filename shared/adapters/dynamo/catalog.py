"""The product catalog on DynamoDB: one item per product, keyed by its id (the ``catalog`` table)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from shared.adapters import chunks
from shared.adapters.dynamo.codec import BATCH_WRITE_LIMIT, MAX_UNPROCESSED_ROUNDS, batch_get, serialize
from shared.catalog.product import Product
from shared.deployment.topology import CATALOG

_deserializer = TypeDeserializer()


def product_from_item(item: dict[str, Any]) -> Product:
    plain = {k: _deserializer.deserialize(v) for k, v in item.items()}
    if "stock" in plain:
        plain["stock"] = int(plain["stock"])
    return Product.model_validate(plain)


def item_of(product: Product) -> dict[str, Any]:
    return serialize(product.model_dump())


class DynamoProductCatalog:
    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def get_many(self, product_ids: Sequence[str]) -> dict[str, Product]:
        found = batch_get(self._client, self._table, CATALOG, product_ids)
        return {p.product_id: p for p in map(product_from_item, found)}

    def put_many(self, products: Sequence[Product]) -> None:
        for batch in chunks(products, BATCH_WRITE_LIMIT):
            request: dict[str, Any] = {self._table: [{"PutRequest": {"Item": item_of(p)}} for p in batch]}
            # UnprocessedItems is BatchWriteItem's partial result, resent until empty.
            for _ in range(MAX_UNPROCESSED_ROUNDS):
                request = self._client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                if not request:
                    break
            else:
                raise RuntimeError(
                    f"BatchWriteItem left products unwritten after {MAX_UNPROCESSED_ROUNDS} rounds"
                )
