"""The product catalog on DynamoDB: one item per product, keyed by its id (the ``catalog`` table); the
interest index beside it (the ``interest`` table: per shopper and product, the latest interest's time,
read by product through its ``by-product`` index), written in the catalog's BatchWriteItem requests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from boto3.dynamodb.types import TypeDeserializer

from shared.adapters import chunks
from shared.adapters.dynamo.codec import BATCH_WRITE_LIMIT, MAX_UNPROCESSED_ROUNDS, batch_get, serialize
from shared.catalog.announcements import Announcements
from shared.catalog.interest import Interest
from shared.catalog.product import Product
from shared.catalog.updates import CatalogChange
from shared.deployment.topology import CATALOG, INTEREST, INTEREST_BY_PRODUCT

_deserializer = TypeDeserializer()


def product_from_item(item: dict[str, Any]) -> Product:
    plain = {k: _deserializer.deserialize(v) for k, v in item.items()}
    if "stock" in plain:
        plain["stock"] = int(plain["stock"])
    return Product.model_validate(plain)


def item_of(product: Product) -> dict[str, Any]:
    return serialize(product.model_dump())


def _millis(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def interest_item(interest: Interest) -> dict[str, Any]:
    return {
        INTEREST.partition_key: {"S": interest.user_id},
        str(INTEREST.sort_key): {"S": interest.product_id},
        INTEREST_BY_PRODUCT.sort_key: {"N": str(_millis(interest.at))},
        str(INTEREST.ttl_attribute): {"N": str(int(interest.expires_at.timestamp()))},
    }


class DynamoProductCatalog:
    """The catalog; with ``interest_table``, the interest index written with it; with ``announcements``,
    the changes the catalog campaigns want put on the bus before they are written."""

    def __init__(
        self,
        client: Any,
        table_name: str,
        interest_table: str | None = None,
        announcements: Announcements | None = None,
    ) -> None:
        self._client = client
        self._table = table_name
        self._interest_table = interest_table
        self._announcements = announcements
        self.keeps_interest = interest_table is not None

    def get_many(self, product_ids: Sequence[str]) -> dict[str, Product]:
        found = batch_get(self._client, self._table, CATALOG, product_ids)
        return {p.product_id: p for p in map(product_from_item, found)}

    def announce(self, changes: Sequence[CatalogChange]) -> None:
        if self._announcements is not None:
            self._announcements.announce(changes)

    def put_many(self, products: Sequence[Product], interests: Sequence[Interest] = ()) -> None:
        if interests and self._interest_table is None:
            raise RuntimeError("interest to write, and no interest table")
        items = [(self._table, item_of(p)) for p in products]
        items += [(str(self._interest_table), interest_item(i)) for i in interests]
        for batch in chunks(items, BATCH_WRITE_LIMIT):
            request: dict[str, Any] = {}
            for table, item in batch:
                request.setdefault(table, []).append({"PutRequest": {"Item": item}})
            # UnprocessedItems is BatchWriteItem's partial result, resent until empty.
            for _ in range(MAX_UNPROCESSED_ROUNDS):
                request = self._client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}
                if not request:
                    break
            else:
                raise RuntimeError(
                    f"BatchWriteItem left products unwritten after {MAX_UNPROCESSED_ROUNDS} rounds"
                )


class DynamoInterestIndex:
    """Who is interested in a product: one Query of the ``by-product`` index, newest first."""

    def __init__(self, client: Any, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def interested(self, product_id: str, since: datetime, until: datetime, limit: int) -> list[Interest]:
        response = self._client.query(
            TableName=self._table,
            IndexName=INTEREST_BY_PRODUCT.name,
            KeyConditionExpression="#p = :p AND #t BETWEEN :since AND :until",
            ExpressionAttributeNames={
                "#p": INTEREST_BY_PRODUCT.partition_key,
                "#t": INTEREST_BY_PRODUCT.sort_key,
            },
            ExpressionAttributeValues={
                ":p": {"S": product_id},
                ":since": {"N": str(_millis(since))},
                ":until": {"N": str(_millis(until) - 1)},
            },
            ScanIndexForward=False,
            Limit=limit,
        )
        return [
            Interest(
                item[INTEREST.partition_key]["S"],
                product_id,
                datetime.fromtimestamp(int(item[INTEREST_BY_PRODUCT.sort_key]["N"]) / 1000, UTC),
            )
            for item in response.get("Items", [])
        ]
