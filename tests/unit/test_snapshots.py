"""SnapStart (shared/platform/snapshots.py): what the HTTP functions (and the event path's, where a
deployment turns it on) snapshot, and what a restored environment must not take from the snapshot — the
clients, a secret read before it, the state of ``random``, the experiments' weights deliver keeps.
Lambda's runtime calls the hooks; here ``snapshot()`` and ``restore()`` do, in-process, with the
functions' Lambda wiring (boto3 clients) over moto."""

from __future__ import annotations

import importlib
import json
import random
import sys
import types
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from moto import mock_aws

from nudge.local import ports as local_ports
from nudge.local.runtime import LocalContext, LocalRuntime
from shared.campaigns.bundle import write_bundle
from shared.campaigns.loader import Catalog, load_campaign_dir
from shared.core.clock import SimulatedClock
from shared.delivery.links import UnsubscribeRequest
from shared.deployment import topology
from shared.platform import snapshots, wiring

START = datetime(2026, 11, 2, 8, tzinfo=UTC)
# Every function whose handler prepares for a snapshot: the HTTP API's, and the event path's.
SNAPSTART_CAPABLE = topology.SNAPSTART_FUNCTIONS | topology.EVENT_PATH_SNAPSTART_FUNCTIONS
LINK = UnsubscribeRequest("u-1", "email", "welcome")
SHIPPED = load_campaign_dir(Path(__file__).resolve().parents[2] / "campaigns")


def http_event(
    method: str, path: str, *, user: str | None = None, query: dict[str, str] | None = None
) -> dict:
    context: dict[str, Any] = {
        "http": {"method": method, "path": path},
        "stage": "$default",
        "requestId": "r",
    }
    if user is not None:
        context["authorizer"] = {"jwt": {"claims": {"sub": user}, "scopes": None}}
    return {"version": "2.0", "rawPath": path, "queryStringParameters": query, "requestContext": context}


def lambda_context(key: str) -> LocalContext:
    return LocalContext(function_name=f"nudge-{key}", memory_limit_in_mb=256, timeout_ms=10_000)


class Deployed:
    """The SnapStart functions' handlers, their environment pointing at a moto account."""

    def __init__(self, runtime: LocalRuntime) -> None:
        self.runtime = runtime
        self.handlers = {
            key: importlib.import_module(topology.FUNCTIONS_BY_KEY[key].handler.rsplit(".", 1)[0])
            for key in sorted(SNAPSTART_CAPABLE)
        }

    def call(self, key: str, event: dict[str, Any]) -> dict[str, Any]:
        response: dict[str, Any] = self.handlers[key].handler(event, lambda_context(key))
        return response

    def unsubscribe_page(self, key: bytes) -> int:
        """The status of ``GET /unsubscribe`` for a link signed with ``key``."""
        from shared.delivery.links import LinkSigner

        query = {
            "u": LINK.user_id,
            "ch": LINK.channel,
            "c": LINK.campaign_id,
            "t": LinkSigner(key).token(LINK),
        }
        return self.call("preferences", http_event("GET", topology.UNSUBSCRIBE_PATH, query=query))[
            "statusCode"
        ]

    def signing_key(self) -> bytes:
        secret = self.runtime.client("secretsmanager").get_secret_value(
            SecretId=self.runtime.signing_secret_arn
        )
        return str(secret["SecretString"]).encode()

    def clear(self) -> None:
        wiring._lambda_wiring.cache_clear()
        for module in self.handlers.values():
            module.default_ports.cache_clear()


@pytest.fixture
def deployed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Deployed]:
    with mock_aws():
        runtime = LocalRuntime(Catalog([]), SimulatedClock(START), log_level="CRITICAL", gentle=True)
        environment: dict[str, str] = {}
        for key in SNAPSTART_CAPABLE:
            environment |= local_ports.environment(runtime, topology.FUNCTIONS_BY_KEY[key])
        environment.pop("POWERTOOLS_SERVICE_NAME")  # one process plays all six functions
        write_bundle(SHIPPED, tmp_path / "campaigns")  # the catalog as the code asset carries it
        environment["CAMPAIGN_CATALOG_DIR"] = str(tmp_path / "campaigns")
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        functions = Deployed(runtime)
        functions.clear()
        try:
            yield functions
        finally:
            functions.clear()


def ingest_event(runtime: LocalRuntime, user: str) -> dict[str, Any]:
    """The ingest queue's batch of one shopper's product view."""
    detail = {
        "type": "track",
        "event": "Product Viewed",
        "userId": user,
        "messageId": f"view-{user}",
        "timestamp": START.isoformat(),
        "properties": {"product_id": "p-1", "category": "shoes", "price": 59.9},
    }
    return runtime.sqs_event("ingest", [json.dumps({"id": detail["messageId"], "detail": detail})])


def created_clients() -> dict[str, Any]:
    return {service: c._client for service, c in wiring._lambda_wiring()._clients.items() if c._client}


def test_the_snapshot_holds_each_functions_ports_and_their_clients(deployed: Deployed) -> None:
    snapshots.snapshot()
    assert all(m.default_ports.cache_info().currsize == 1 for m in deployed.handlers.values())
    # deliver's channels too: SES (v2) and SNS; the bus the catalog's changes are announced on (ingest)
    assert set(created_clients()) == {
        "dynamodb",
        "sqs",
        "scheduler",
        "secretsmanager",
        "sesv2",
        "sns",
        "events",
    }
    preferences, privacy = (
        deployed.handlers["preferences"].default_ports(),
        deployed.handlers["privacy"].default_ports(),
    )
    assert not preferences.signer.key.loaded  # no secret is read before the snapshot
    assert not preferences.erasures.pseudonyms.key.loaded and not privacy.erasures.pseudonyms.key.loaded


def test_a_restored_environment_uses_no_client_of_the_snapshot(deployed: Deployed) -> None:
    snapshots.snapshot()
    snapped_ports = {key: m.default_ports() for key, m in deployed.handlers.items()}
    snapped = created_clients()

    snapshots.restore()
    assert deployed.call("inbox", http_event("GET", "/inbox", user="u-1"))["statusCode"] == 200
    assert deployed.call("ingest", ingest_event(deployed.runtime, "u-1")) == {"batchItemFailures": []}
    assert deployed.call("privacy", http_event("DELETE", "/me", user="u-1"))["statusCode"] == 200
    assert deployed.unsubscribe_page(deployed.signing_key()) == 200

    assert all(m.default_ports() is not snapped_ports[key] for key, m in deployed.handlers.items())
    used = created_clients()
    assert {"dynamodb", "sqs", "scheduler", "secretsmanager"} <= set(used)
    assert {id(c) for c in used.values()}.isdisjoint(id(c) for c in snapped.values())


def test_a_secret_read_before_the_snapshot_is_read_again_after_a_restore(deployed: Deployed) -> None:
    snapshots.snapshot()
    old_key = deployed.signing_key()
    assert deployed.unsubscribe_page(old_key) == 200  # the key is now in the process, as in a snapshot
    new_key = (uuid.uuid4().hex + uuid.uuid4().hex).encode()
    deployed.runtime.client("secretsmanager").put_secret_value(
        SecretId=deployed.runtime.signing_secret_arn, SecretString=new_key.decode()
    )
    assert deployed.unsubscribe_page(new_key) == 403  # the trap: the rotated key is not seen

    snapshots.restore()
    assert deployed.unsubscribe_page(new_key) == 200
    assert deployed.unsubscribe_page(old_key) == 403


def test_each_restored_environment_draws_its_own_random_numbers(deployed: Deployed) -> None:
    snapshots.snapshot()
    snapped = random.getstate()

    def draws() -> list[float]:
        return [random.random() for _ in range(4)]

    random.setstate(snapped)
    first_copy = draws()
    random.setstate(snapped)
    assert draws() == first_copy  # the trap: two environments from one snapshot draw the same

    restored = []
    for _ in range(2):
        random.setstate(snapped)
        snapshots.restore()
        restored.append(draws())
    assert restored[0] != restored[1]
    assert first_copy not in restored


def test_every_snapstart_capable_function_prepares_before_the_snapshot_and_renews_after(
    deployed: Deployed,
) -> None:
    for module in deployed.handlers.values():
        assert module.default_ports.cache_clear in snapshots._after, module.__name__
    assert snapshots._after.index(wiring._renew_lambda_wiring) < min(
        snapshots._after.index(m.default_ports.cache_clear) for m in deployed.handlers.values()
    )
    assert snapshots._after[0] == random.seed


def test_hooks_register_with_the_lambda_runtime_where_it_has_them(monkeypatch: pytest.MonkeyPatch) -> None:
    registered: list[tuple[str, Any]] = []
    runtime_module = types.ModuleType("snapshot_restore_py")
    runtime_module.register_before_snapshot = lambda hook: registered.append(("before", hook))  # type: ignore[attr-defined]
    runtime_module.register_after_restore = lambda hook: registered.append(("after", hook))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", runtime_module)
    monkeypatch.setattr(snapshots, "_before", [])
    monkeypatch.setattr(snapshots, "_after", [])
    ran: list[str] = []

    def first() -> None:
        ran.append("first")

    def second() -> None:
        ran.append("second")

    for hook in (first, second):
        snapshots.before_snapshot(hook)
        snapshots.after_restore(hook)
    assert registered == [("before", first), ("after", first), ("before", second), ("after", second)]

    snapshots.snapshot()
    snapshots.restore()
    assert ran == ["second", "first", "first", "second"]  # as Lambda: snapshot hooks in reverse


def test_without_the_lambda_runtime_hooks_only_run_when_called(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)  # importing it raises ImportError
    monkeypatch.setattr(snapshots, "_after", [])
    ran: list[str] = []
    snapshots.after_restore(lambda: ran.append("restored"))
    assert ran == []
    snapshots.restore()
    assert ran == ["restored"]


def test_a_restored_deliver_reads_the_experiments_weights_again(deployed: Deployed) -> None:
    """Deliver keeps what it read of an experiment for 5 minutes; a snapshot must not carry that read into
    environments restored days later, after reviews rewrote it."""
    snapshots.snapshot()
    weights = deployed.handlers["deliver"].default_ports().deliverer.experiments
    assert weights.stored("welcome:email", START) is None  # read before the snapshot: nothing yet
    wiring._lambda_wiring().experiment_store().add("welcome:email", "sent", {"a": 3})
    assert weights.stored("welcome:email", START) is None  # the trap: kept, whatever was written since

    snapshots.restore()
    renewed = deployed.handlers["deliver"].default_ports().deliverer.experiments
    stored = renewed.stored("welcome:email", START)
    assert renewed is not weights and stored is not None and stored.sent == {"a": 3}


def test_a_restored_event_path_builds_its_own_journey_engine_and_catalog(deployed: Deployed) -> None:
    snapshots.snapshot()
    engines = {key: deployed.handlers[key].default_ports() for key in ("trigger", "deliver")}
    snapped = {
        key: ports.journeys if key == "deliver" else ports.evaluator.journeys
        for key, ports in engines.items()
    }
    assert all(engine is not None for engine in snapped.values())  # the shipped catalog has journeys
    segments = deployed.handlers["ingest"].default_ports().segments
    assert segments is not None  # at-risk-save: a segment journey

    snapshots.restore()
    trigger, deliver = (
        deployed.handlers["trigger"].default_ports(),
        deployed.handlers["deliver"].default_ports(),
    )
    assert trigger.evaluator.journeys is not snapped["trigger"] and deliver.journeys is not snapped["deliver"]
    assert trigger.evaluator.catalog is not engines["trigger"].evaluator.catalog
    assert deployed.handlers["ingest"].default_ports().segments is not segments  # its journeys' engine too
