"""SnapStart (shared/platform/snapshots.py): what the HTTP functions snapshot, and what a restored
environment must not take from the snapshot — the clients, a secret read before it, the state of
``random``. Lambda's runtime calls the hooks; here ``snapshot()`` and ``restore()`` do, in-process,
with the functions' Lambda wiring (boto3 clients) over moto."""

from __future__ import annotations

import importlib
import random
import sys
import types
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from moto import mock_aws

from nudge.local import ports as local_ports
from nudge.local.runtime import LocalContext, LocalRuntime
from shared.campaigns.loader import Catalog
from shared.core.clock import SimulatedClock
from shared.delivery.links import UnsubscribeRequest
from shared.deployment import topology
from shared.platform import snapshots, wiring

START = datetime(2026, 11, 2, 8, tzinfo=UTC)
LINK = UnsubscribeRequest("u-1", "email", "welcome")


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
            for key in sorted(topology.SNAPSTART_FUNCTIONS)
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
def deployed(monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployed]:
    with mock_aws():
        runtime = LocalRuntime(Catalog([]), SimulatedClock(START), log_level="CRITICAL", gentle=True)
        environment: dict[str, str] = {}
        for key in topology.SNAPSTART_FUNCTIONS:
            environment |= local_ports.environment(runtime, topology.FUNCTIONS_BY_KEY[key])
        environment.pop("POWERTOOLS_SERVICE_NAME")  # one process plays all three functions
        for name, value in environment.items():
            monkeypatch.setenv(name, value)
        functions = Deployed(runtime)
        functions.clear()
        try:
            yield functions
        finally:
            functions.clear()


def created_clients() -> dict[str, Any]:
    return {service: c._client for service, c in wiring._lambda_wiring()._clients.items() if c._client}


def test_the_snapshot_holds_each_functions_ports_and_their_clients(deployed: Deployed) -> None:
    snapshots.snapshot()
    assert all(m.default_ports.cache_info().currsize == 1 for m in deployed.handlers.values())
    assert set(created_clients()) == {"dynamodb", "sqs", "scheduler", "secretsmanager"}
    preferences, privacy = (
        deployed.handlers["preferences"].default_ports(),
        deployed.handlers["privacy"].default_ports(),
    )
    assert preferences.signer._loaded is None  # no secret is read before the snapshot
    assert preferences.erasures.pseudonyms._key is None and privacy.erasures.pseudonyms._key is None


def test_a_restored_environment_uses_no_client_of_the_snapshot(deployed: Deployed) -> None:
    snapshots.snapshot()
    snapped_ports = {key: m.default_ports() for key, m in deployed.handlers.items()}
    snapped = created_clients()

    snapshots.restore()
    assert deployed.call("inbox", http_event("GET", "/inbox", user="u-1"))["statusCode"] == 200
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


def test_every_snapstart_function_prepares_before_the_snapshot_and_renews_after(deployed: Deployed) -> None:
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
