"""Make moto fast enough for a two-week simulation, without changing what it does.

moto's SQS backend builds the full attribute map of a queue — including approximate message
counts, each a pass over every message in the queue — whenever it needs one attribute, on every
message sent and received; and it converts each attribute name from CamelCase with a
character-by-character loop. Sending or receiving a batch therefore costs O(queue length), and
draining a queue O(length²). Here the map is computed lazily (an attribute's value is computed
when it is read, by the same code), the name conversion is memoized (a pure function of a few
constant names), and the retention check reads the one attribute it needs. Applied once, by the
local runtime; the integration tests run redrive, visibility and retention through it.

moto's DynamoDB ``Query`` on a table (not an index) sorts every item of the table to pick out one
partition: O(table) per query. Here it is handed that partition only; moto then filters and
sorts it exactly as before.

Every request also paid for moto's routing: the request URL is tried against ~150 service
patterns, then the service's own URL patterns are rebuilt and tried, and the response class's
method names are listed with ``inspect.getmembers``. The URL a boto3 client calls and the
handler moto picks for it, and a class's method names, do not change while a process runs: both
are computed once and remembered. A scan segment's membership (an md5 of the hash key) is
likewise remembered per key.

moto's ``TransactWriteItems`` deep-copies every table it touches, whole, before it starts, to put
them back if the transaction is cancelled: O(table) per transaction (the identity merges made that
a tenth of a demo). Here only the items the transaction names are copied and, on cancellation, put
back (or removed, if they did not exist); a transaction changes nothing else of a table (a table
with a stream, whose records a rollback would also take back, keeps moto's own full copy).
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import Any

_applied = False


def apply() -> None:
    global _applied
    if _applied:
        return
    import moto.core.responses
    import moto.core.utils
    import moto.sqs.models

    cached = lru_cache(maxsize=4096)(moto.core.utils.camelcase_to_underscores)
    moto.sqs.models.camelcase_to_underscores = cached
    moto.core.responses.camelcase_to_underscores = cached

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention_s = int(self.get_queue(queue_name).message_retention_period)
        return bool(retention_s + message.sent_timestamp / 1000 > moto.core.utils.unix_time())

    moto.sqs.models.SQSBackend.is_message_valid_based_on_retention_period = (  # type: ignore[method-assign]
        is_message_valid_based_on_retention_period
    )
    moto.sqs.models.Queue.attributes = property(_LazyQueueAttributes)  # type: ignore[assignment]
    _fast_dynamo_items()
    _partition_queries()
    _remembered_routes()
    _remembered_segments()
    _transactions_copy_their_items()
    _applied = True


class _LazyQueueAttributes(Mapping[str, Any]):
    """The same keys and values as moto's ``Queue.attributes``, each computed only when read."""

    def __init__(self, queue: Any) -> None:
        self._queue = queue
        names = list(queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            names += queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:
            names += queue.KMS_ATTRIBUTES
        self._names = list(dict.fromkeys(names))

    def __getitem__(self, name: str) -> Any:
        if name not in self._names:
            raise KeyError(name)
        import moto.sqs.models

        queue = self._queue
        if name == "Policy" and queue.policy:
            value = queue.policy
        elif name == "RedrivePolicy" and queue.redrive_policy:
            value = json.dumps(queue.redrive_policy)
        else:
            value = getattr(queue, moto.sqs.models.camelcase_to_underscores(name))
        return str(value).lower() if isinstance(value, bool) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


# DynamoDB results whose payload is already DynamoDB-JSON attribute values (moto keeps items in
# that form); walking them through the botocore-shape serializer costs ~1 ms per item.
_ITEM_PAYLOAD_KEYS = ("Item", "Items", "Responses", "Attributes")


def _wire(value: Any) -> Any:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _wire(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_wire(v) for v in value]
    return value


def _fast_dynamo_items() -> None:
    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import DynamoResult

    shape_serialize = ActionResult.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        result = self.result
        if not isinstance(result, dict) or not any(k in result for k in _ITEM_PAYLOAD_KEYS):
            return shape_serialize(self, context)
        light = ActionResult({k: v for k, v in result.items() if k not in _ITEM_PAYLOAD_KEYS})
        status, headers, body = shape_serialize(light, context)
        payload = json.loads(body) if body else {}
        payload.update({k: _wire(result[k]) for k in _ITEM_PAYLOAD_KEYS if k in result})
        body = json.dumps(payload)
        headers = {k: v for k, v in headers.items() if k.lower() not in {"content-length", "x-amz-crc32"}}
        return status, headers, body

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]


_query_scope = threading.local()


def _partition_queries() -> None:
    from moto.dynamodb.models.table import Table

    all_items, query = Table.all_items, Table.query

    def scoped_all_items(self: Any) -> Any:
        scope = getattr(_query_scope, "partition", None)
        if scope is not None and scope[0] is self:
            return scope[1]
        return all_items(self)

    def partition_query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        index_name = args[6] if len(args) > 6 else kwargs.get("index_name")  # moto passes it 8th
        if index_name or hash_key is None:
            return query(self, hash_key, *args, **kwargs)
        partition = self.items.get(hash_key)
        if partition is None:
            items: list[Any] = []
        elif self.range_key_attr:
            items = list(partition.values())
        else:
            items = [partition]
        _query_scope.partition = (self, items)
        try:
            return query(self, hash_key, *args, **kwargs)
        finally:
            _query_scope.partition = None

    Table.all_items = scoped_all_items  # type: ignore[method-assign]
    Table.query = partition_query  # type: ignore[method-assign]


def _remembered_routes() -> None:
    import moto.core.responses
    import moto.core.utils
    from moto.core import botocore_stubber

    method_names = lru_cache(maxsize=None)(moto.core.utils.method_names_from_class)
    moto.core.responses.method_names_from_class = method_names

    plain = botocore_stubber.BotocoreStubber.process_request
    routes: dict[tuple[str, bool], tuple[str, Any] | None] = {}

    def route(clean_url: str) -> tuple[str, Any] | None:
        """moto's choice for this URL: the first service pattern, then that service's first URL."""
        import re

        import moto.backends as backends
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.core.base_backend import BackendDict

        for service, pattern in botocore_stubber.backend_index.backend_url_patterns:
            if pattern.match(clean_url):
                backend_dict = backends.get_backend(service)  # type: ignore[call-overload]
                if isinstance(backend_dict, BackendDict):
                    accounts = backend_dict[DEFAULT_ACCOUNT_ID]
                    backend = accounts["us-east-1"] if "us-east-1" in accounts else accounts["aws"]
                else:
                    backend = backend_dict["global"]
                for url, handler in backend.urls.items():
                    if re.compile(url).match(clean_url):
                        return service, handler
                return service, None
        return None

    def process_request(self: Any, request: Any) -> Any:
        from moto.core.config import passthrough_service, passthrough_url, service_whitelisted
        from moto.core.exceptions import HTTPException, ServiceNotWhitelisted
        from moto.core.request import normalize_request
        from moto.core.utils import get_equivalent_url_in_aws_domain
        from moto.moto_api import recorder
        from moto.settings import enable_iso_regions

        parsed_url, _ = get_equivalent_url_in_aws_domain(request.url)
        clean_url = f"{parsed_url.scheme}://{parsed_url.netloc}{parsed_url.path}"
        if passthrough_url(clean_url):
            return None
        key = (clean_url, enable_iso_regions())
        if key not in routes:
            routes[key] = route(clean_url)
        found = routes[key]
        if found is None or found[1] is None:
            return plain(self, request)  # moto's own path: no route, or its own error
        service, handler = found
        if passthrough_service(service):
            return None
        if not service_whitelisted(service):
            raise ServiceNotWhitelisted(service)
        normalized_request = normalize_request(request)
        try:
            recorder._record_request(normalized_request)
            return handler(normalized_request, normalized_request.raw_url, normalized_request.headers)
        except HTTPException as e:
            return e.code, e.get_headers(), e.get_body()

    botocore_stubber.BotocoreStubber.process_request = process_request  # type: ignore[method-assign]


def _remembered_segments() -> None:
    from moto.dynamodb.models.dynamo_type import Item

    @lru_cache(maxsize=1 << 20)
    def first_md5_byte(hash_key: str) -> int:
        from moto.utilities.utils import md5_hash

        return int(md5_hash(hash_key.encode("utf8")).digest()[0])

    def is_within_segment(self: Any, segments: tuple[Any, Any]) -> bool:
        if segments == (None, None):
            return True
        segment, total_segments = segments
        return bool(segment == first_md5_byte(self.hash_key.value) % total_segments)

    Item.is_within_segment = is_within_segment  # type: ignore[method-assign]


def _transactions_copy_their_items() -> None:
    import copy

    import moto.dynamodb.models
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    transact = DynamoDBBackend.transact_write_items
    copying = threading.local()

    class _CopyUnlessTable:
        """moto's ``copy`` inside ``transact_write_items``: a table is not copied there (its touched
        items were, by :func:`transact_write_items` below); anything else is, as before."""

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if isinstance(value, Table) and getattr(copying, "items_only", False):
                return value
            return copy.deepcopy(value, memo)

    def touched(backend: Any, transact_items: list[dict[str, Any]]) -> list[tuple[Any, Any, Any]] | None:
        """(table, hash key, range key) of every item the transaction names; None if any is odd
        (moto's own checks then answer, with its own full copy)."""
        found = []
        for entry in transact_items:
            if len(entry) != 1:
                return None
            _, op = next(iter(entry.items()))
            table = backend.tables.get(op.get("TableName")) if isinstance(op, dict) else None
            if table is None:
                continue
            if table.stream_shard is not None:
                return None
            key = op.get("Key") or op.get("Item")
            names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
            if not isinstance(key, dict) or any(not isinstance(key.get(n), dict) for n in names):
                return None
            found.append(
                (table, DynamoType(key[names[0]]), DynamoType(key[names[1]]) if len(names) > 1 else None)
            )
        return found

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        items = touched(self, transact_items) if isinstance(transact_items, list) else None
        if items is None:
            return transact(self, transact_items)
        before = [(table, h, r, copy.deepcopy(table.get_item(h, r))) for table, h, r in items]
        copying.items_only = True
        try:
            return transact(self, transact_items)
        except Exception:
            for table, hash_key, range_key, item in reversed(before):
                _put_back(table, hash_key, range_key, item)
            raise
        finally:
            copying.items_only = False

    # moto's module `copy` replaced by a class with its deepcopy: a monkeypatch no type can say
    moto.dynamodb.models.copy = _CopyUnlessTable  # type: ignore[assignment]
    DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]


def _put_back(table: Any, hash_key: Any, range_key: Any, item: Any) -> None:
    """An item as it was before a cancelled transaction (``None``: it did not exist)."""
    if range_key is not None:
        if item is None:
            table.items[hash_key].pop(range_key, None)
        else:
            table.items[hash_key][range_key] = item
    elif item is None:
        table.items.pop(hash_key, None)
    else:
        table.items[hash_key] = item
