"""Cold starts where they happen: each handler in a fresh Lambda-shaped Python 3.13, timed.

The interpreter and module path are the Lambda parity test's (``benchmarks/lambda_env.py``: the runtime's
boto3 and the Powertools layer's packages at the pinned versions, the code asset as
``infra/packaging.py`` builds it). Each run of a function is a new process (``benchmarks/cold_runner.py``)
that imports the handler, builds its ports and answers one representative first request against a
moto server holding the stack's resources; a second process per HTTP and event-path function plays a
SnapStart restore (see ``shared/platform/snapshots.py``): the snapshot's hooks, the restore's hooks, then
the first request. Phases are process CPU milliseconds — on an idle core the same as wall time, and not
inflated when other processes share the machine — the median of ``runs`` fresh processes.

Without python3.13 the same runner runs on ``sys.executable`` (the dev venv's packages); the result
names the interpreter it measured (``cold_start_python``).
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from nudge.local.ses_events import ses_event, tagged_mail
from shared.campaigns.loader import Catalog
from shared.core.vocabulary import EMAIL_TRAIT, Channel
from shared.delivery.links import UnsubscribeRequest
from shared.deployment import topology

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "benchmarks" / "cold_runner.py"
EVENT_PATH = ("ingest", "trigger", "deliver")
HTTP_FUNCTIONS = tuple(sorted({route.function for route in topology.HTTP_ROUTES}))
FIRST_REQUEST = (*EVENT_PATH, "feedback", *HTTP_FUNCTIONS)
# Measured restored too: the HTTP functions (SnapStart) and the event path (SnapStart where a deployment
# turns it on: -c event_path_snapstart=true).
RESTORED = topology.SNAPSTART_FUNCTIONS | topology.EVENT_PATH_SNAPSTART_FUNCTIONS
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}
# Shoppers' zones to pick from: one where it is daytime now, so no first delivery waits for quiet hours.
ZONES = ("UTC", "Asia/Tokyo", "Asia/Kolkata", "Europe/Berlin", "America/New_York", "America/Los_Angeles")
INGEST_EVENTS = 10


@dataclass(frozen=True)
class Interpreter:
    python: str
    task_root: Path
    layer: Path
    runtime: Path
    lambda_shaped: bool

    def command(self, handler: str) -> list[str]:
        # -B: /var/task is read-only on Lambda, so nothing the asset lacks is ever cached as bytecode.
        flags = ["-I", "-S", "-B"] if self.lambda_shaped else ["-I"]
        paths = [self.task_root, self.layer, self.runtime]
        return [self.python, *flags, str(RUNNER), *map(str, paths), handler]


@contextmanager
def interpreter(catalog: Catalog, workdir: Path) -> Iterator[Interpreter]:
    """The Lambda-shaped python3.13 over a freshly built code asset, else this interpreter over the
    repository (its own site-packages)."""
    from benchmarks.lambda_env import LambdaPythonMissing, lambda_env

    try:
        env = lambda_env()
    except LambdaPythonMissing:
        yield Interpreter(sys.executable, ROOT, ROOT, ROOT, lambda_shaped=False)
        return
    from infra.packaging import build_lambda_asset

    for directory in (env.layer, env.runtime):  # the published layer and the runtime ship bytecode
        subprocess.run(
            [env.python, "-m", "compileall", "-q", str(directory)], check=True, capture_output=True
        )
    asset = build_lambda_asset(catalog, workdir / "asset")
    yield Interpreter(env.python, asset, env.layer, env.runtime, lambda_shaped=True)


def _daytime_zone(now: datetime) -> str:
    return next((z for z in ZONES if 10 <= now.astimezone(ZoneInfo(z)).hour < 18), "UTC")


class Requests:
    """A representative first request per function, each run for its own shopper (a first request
    that found the previous run's claim or erasure would take a shorter path), in the local runtime
    the moto server holds."""

    def __init__(self, runtime: Any, runs: int, now: datetime) -> None:
        from shared.delivery.guards import in_holdout

        self.runtime, self.now = runtime, now
        self.thank_you = next(
            c for c in runtime.catalog if c.trigger is not None and c.trigger.event == "Order Completed"
        )
        candidates = (f"cold-{n:03d}" for n in range(10_000))
        self.users = [
            u for u in candidates if not in_holdout(self.thank_you.id, u, self.thank_you.holdout_percent)
        ][: 2 * runs]
        zone = _daytime_zone(now)
        runtime.publish(
            [
                {
                    "type": "identify",
                    "userId": user,
                    "messageId": f"identify-{user}",
                    "timestamp": (now - timedelta(days=2)).isoformat(),
                    "traits": {
                        EMAIL_TRAIT: f"{user}@example.com",
                        "firstName": "Ayu",
                        "timezone": zone,
                        "consent": {Channel.EMAIL: True},
                    },
                    "context": {"timezone": zone},
                }
                for user in self.users
            ]
        )
        runtime.drain()
        runtime.clock.advance_to(now)  # the clock only: no schedule fires in between

    def _captured(self, function_key: str, call: Callable[[], Any]) -> dict[str, Any]:
        """The event the runtime hands ``function_key`` during ``call`` (not run here)."""
        caught: list[dict[str, Any]] = []
        original = self.runtime._handlers[function_key]

        def capture(event: dict[str, Any], context: Any, ports: Any = None) -> dict[str, Any]:
            caught.append(event)
            return {"statusCode": 200}

        self.runtime._handlers[function_key] = capture
        try:
            call()
        finally:
            self.runtime._handlers[function_key] = original
        return caught[0]

    def events(self, run: int) -> dict[str, dict[str, Any] | None]:
        """Each function's first request for run ``run`` (the deliver job comes later: from trigger, if it
        queued one)."""
        user, at = self.users[run], self.now.isoformat()
        visit = [
            {
                "type": "track",
                "event": "Product Viewed",
                "userId": user,
                "messageId": f"view-{user}-{n}",
                "timestamp": at,
                "properties": {"product_id": f"p-{n}", "category": "shoes", "price": 59.9},
                "context": {"timezone": "Asia/Jakarta"},
            }
            for n in range(INGEST_EVENTS)
        ]
        order = {
            "type": "track",
            "event": "Order Completed",
            "userId": user,
            "messageId": f"order-{user}",
            "timestamp": at,
            "properties": {
                "order_id": f"o-{user}",
                "revenue": 59.9,
                "currency": "USD",
                "products": [{"product_id": "p-1", "name": "Trail runner", "price": 59.9, "quantity": 1}],
            },
        }
        envelope = {"id": f"env-{user}", "source": "shop", "detail-type": "Segment Event", "detail": order}
        link = UnsubscribeRequest(user, Channel.EMAIL, self.thank_you.id)
        query = {"u": user, "ch": Channel.EMAIL, "c": self.thank_you.id, "t": self.runtime.signer.token(link)}
        return {
            "ingest": self.runtime.sqs_event(
                "ingest", [json.dumps({"id": d["messageId"], "detail": d}) for d in visit]
            ),
            "trigger": {"campaign_id": self.thank_you.id, "event": envelope},
            "feedback": self._captured(
                "feedback",
                lambda: self.runtime.publish_aws_event(
                    ses_event("Delivery", tagged_mail(user, self.thank_you.id, f"m-{user}"), time=at)
                ),
            ),
            "inbox": self._captured("inbox", lambda: self.runtime.http("GET", "/inbox", user_id=user)),
            "preferences": self._captured(
                "preferences", lambda: self.runtime.http("GET", topology.UNSUBSCRIBE_PATH, query=query)
            ),
            "privacy": self._captured("privacy", lambda: self.runtime.http("DELETE", "/me", user_id=user)),
        }

    def delivery_event(self) -> dict[str, Any] | None:
        """The job the trigger's first request queued, as the delivery queue hands it to deliver."""
        spec = topology.QUEUES_BY_KEY["delivery"]
        messages = self.runtime.receive(spec, 1)
        if not messages:
            return None
        message = messages[0]
        self.runtime.client("sqs").delete_message(
            QueueUrl=self.runtime.queue_urls["delivery"], ReceiptHandle=message["ReceiptHandle"]
        )
        return self.runtime.sqs_event("delivery", [message["Body"]])

    def decision(self, event: Mapping[str, Any] | None) -> dict[str, Any] | None:
        """What deliver's first request decided for its job, from the send log."""
        if not event:
            return None
        send_key = json.loads(event["Records"][0]["body"])["send_key"]
        entry = next((m for m in self.runtime.scan("messages") if m.get("send_key") == send_key), None)
        return None if entry is None else {"status": entry.get("status"), "channel": entry.get("channel")}


def _run(
    python: Interpreter,
    spec: topology.FunctionSpec,
    environment: Mapping[str, str],
    request: Mapping[str, Any],
) -> dict[str, Any]:
    result = subprocess.run(
        python.command(spec.handler),
        input=json.dumps(request, default=str),
        capture_output=True,
        text=True,
        env=dict(environment),
        timeout=300,
    )
    if not result.stdout:
        raise RuntimeError(
            f"{spec.key}: the process died (exit {result.returncode}):\n{result.stderr[-3000:]}"
        )
    reply: dict[str, Any] = json.loads(result.stdout)
    if not reply["ok"]:
        raise RuntimeError(f"{spec.key} failed:\n{reply['error']}\n{result.stderr[-3000:]}")
    return reply


def _context(spec: topology.FunctionSpec) -> dict[str, Any]:
    from nudge.local.account import ACCOUNT, REGION, physical_name

    name = physical_name(spec.key)
    return {
        "function_name": name,
        "memory_limit_in_mb": spec.memory_mb,
        "invoked_function_arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}",
        "aws_request_id": "cold-start",
        "timeout_s": spec.timeout_s,
    }


def _environment(runtime: Any, spec: topology.FunctionSpec, base: Mapping[str, str], task_root: Path) -> dict:
    from nudge.local import ports as local_ports
    from nudge.local.account import physical_name

    return {
        **base,
        **local_ports.environment(runtime, spec),
        "PATH": "/usr/bin:/bin",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": physical_name(spec.key),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
        "_HANDLER": spec.handler,
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "POWERTOOLS_LOGGER_LOG_EVENT": "false",
    }


def _reset(host: str, port: int) -> None:
    urllib.request.urlopen(urllib.request.Request(f"http://{host}:{port}/moto-api/reset", method="POST"))


def _outcome(result: Any) -> Any:
    """What a first request answered, in short: its status, or how many records failed."""
    if isinstance(result, dict) and "statusCode" in result:
        return result["statusCode"]
    if isinstance(result, dict) and "batchItemFailures" in result:
        return f"{len(result['batchItemFailures'])} failed"
    if isinstance(result, dict) and "status" in result:
        return result["status"]
    return result


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1)


def measure_cold_starts(
    catalog: Catalog,
    runs: int = 5,
    now: datetime | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Per function, median CPU ms of: the import; the import and its ports; the import, ports and
    first request; and for the HTTP functions the first request after a SnapStart restore. Also which
    campaign models' schemas each function's first cold run built (none: the catalog is bundled)."""
    from moto.server import ThreadedMotoServer

    from nudge.local.runtime import LocalRuntime
    from shared.core.clock import SimulatedClock

    step = progress or (lambda _: None)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    _reset(host, port)  # moto's accounts live in this process: start from none, whatever ran before
    base = {
        **FAKE_CREDENTIALS,
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
    }
    saved = {name: os.environ.get(name) for name in base}
    os.environ.update(base)
    samples: dict[str, dict[str, list[float]]] = {spec.key: {} for spec in topology.FUNCTIONS}
    outcomes: dict[str, Any] = {}
    schemas_built: dict[str, list[str]] = {}
    try:
        with tempfile.TemporaryDirectory() as workdir, interpreter(catalog, Path(workdir)) as python:
            # The shoppers sign up two days before: their welcome leaves today's caps free.
            clock = SimulatedClock(now - timedelta(days=2))
            runtime = LocalRuntime(catalog, clock, log_level="CRITICAL", gentle=True)
            requests = Requests(runtime, runs, now)
            environments = {
                spec.key: _environment(runtime, spec, base, python.task_root) for spec in topology.FUNCTIONS
            }
            for run in range(runs):
                step(f"cold starts {run + 1}/{runs}")
                events = requests.events(run)
                # A restored HTTP function answers its own shopper (the cold run erased this run's).
                restored_events = requests.events(runs + run)
                for spec in topology.FUNCTIONS:
                    if spec.key == "deliver":
                        events["deliver"] = requests.delivery_event()  # queued by this run's trigger
                    event = events.get(spec.key)
                    cold = _run(
                        python, spec, environments[spec.key], {"event": event, "context": _context(spec)}
                    )
                    cpu, phases = cold["cpu_ms"], samples[spec.key]
                    phases.setdefault("import", []).append(cpu["import"])
                    phases.setdefault("ports", []).append(cpu["import"] + cpu["ports"])
                    if "request" in cpu:
                        phases.setdefault("request", []).append(cpu["import"] + cpu["ports"] + cpu["request"])
                        outcomes.setdefault(spec.key, _outcome(cold["result"]))
                    if run == 0:
                        schemas_built[spec.key] = cold["campaign_schemas_built"]
                    if spec.key == "deliver" and run == 0:
                        outcomes["deliver_decision"] = requests.decision(events["deliver"])
                    if spec.key in RESTORED:
                        if spec.key == "deliver":  # the job the restored trigger queued (or this run's)
                            restored_events["deliver"] = requests.delivery_event()
                        request = {
                            "event": restored_events[spec.key],
                            "context": _context(spec),
                            "snapstart": True,
                        }
                        reply = _run(python, spec, environments[spec.key], request)
                        restored = reply["cpu_ms"]
                        phases.setdefault("restored", []).append(restored["restore"] + restored["request"])
                        outcomes.setdefault(f"{spec.key}_restored", _outcome(reply["result"]))
    finally:
        _reset(host, port)  # and leave none behind for the next server in this process
        server.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
    medians = {key: {phase: _median(v) for phase, v in phases.items()} for key, phases in samples.items()}
    return {
        "cold_start_python": "python3.13, Lambda-shaped" if python.lambda_shaped else sys.executable,
        "import_ms_lambda_env": {k: m["import"] for k, m in medians.items()},
        "ports_ms_lambda_env": {k: m["ports"] for k, m in medians.items()},
        "first_request_ms": {k: m["request"] for k, m in medians.items() if "request" in m},
        "first_request_after_restore_ms": {k: m["restored"] for k, m in medians.items() if "restored" in m},
        "first_request_outcomes": outcomes,
        "campaign_schemas_built": schemas_built,
    }
