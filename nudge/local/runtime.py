"""The local runtime: the deployed system's resources and wiring, on moto, with a simulated clock.

Resources come from ``shared.deployment.topology`` (the definitions CDK deploys): the same tables, queues with
the same redrive policies, and the bus with the same rules and patterns (:mod:`nudge.local.resources`);
each function gets its ports from the one wiring (:mod:`nudge.local.ports`). :class:`LocalRuntime`
invokes the functions as Lambda does, and is the facade over what AWS would do around them: events
routed to their rules' targets (:mod:`nudge.local.routing`), work queues drained into their consumers
(:mod:`nudge.local.queues`), schedules fired when the simulated clock passes their times
(:mod:`nudge.local.schedules`), the HTTP API (:mod:`nudge.local.http_api`), the stack's outputs
(:mod:`nudge.local.stack`) and what it holds, read back and dumped (:mod:`nudge.local.dump`).

Use it inside ``moto.mock_aws()``.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

import boto3

from nudge.local import dump, http_api, machinery, moto_speedups, queues, routing, stack
from nudge.local import ports as local_ports
from nudge.local import resources as local_resources
from nudge.local.account import ACCOUNT, FEED_BUCKET_NAME, NAMES, REGION, physical_name
from nudge.local.adversary import Adversary
from nudge.local.ports import SentMessage
from nudge.local.schedules import LocalScheduler
from nudge.operations import ParkedMessage
from shared.adapters.eventbus import EventPublisher, PublishReport
from shared.adapters.sqs import SqsDeadLetters
from shared.campaigns.expiry import EXPIRED, expired_campaigns
from shared.campaigns.loader import Catalog
from shared.core.clock import SimulatedClock
from shared.deployment import invocations, topology
from shared.events.sources import APP_EVENT_SOURCE

if TYPE_CHECKING:
    from shared.adapters.dynamo.ledger import DynamoLedgerStore
    from shared.adapters.dynamo.messages import DynamoSendLog
    from shared.adapters.dynamo.models import DynamoModelRegistry
    from shared.adapters.dynamo.profiles import DynamoProfileStore
    from shared.adapters.privacy import DynamoUserData
    from shared.core.keys import HmacKey
    from shared.delivery.links import LinkSigner
    from shared.privacy.erasure import Erasures, Pseudonyms


@dataclass
class LocalContext:
    """The parts of the Lambda context object our handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    timeout_ms: int
    aws_request_id: str = ""
    invoked_function_arn: str = ""

    def get_remaining_time_in_millis(self) -> int:
        return self.timeout_ms


RUNTIME_ITSELF = "runtime"  # who made a request the runtime made itself, playing AWS


class LocalRuntime:
    """The deployed system on moto: its resources, each function's ports and invocation, and (through
    the modules named in this module's docstring) the AWS services around them."""

    # Set while it is built: the resources' names (nudge.local.resources), the secrets' keys and the
    # stores tests and the CLI read directly (nudge.local.ports.build_ports).
    push_apps: dict[str, str]  # SNS platform application ARN by platform (GCM, APNS)
    signing_secret_arn: str
    privacy_key_arn: str
    catalog_key_arn: str
    signing_key: HmacKey
    catalog_key: HmacKey
    signer: LinkSigner
    pseudonyms: Pseudonyms
    profiles: DynamoProfileStore
    send_log: DynamoSendLog
    ledgers: DynamoLedgerStore
    deferrals: Any  # the Scheduler adapter, its one-time schedules indexed for the runtime to fire
    erasures: Erasures
    user_data: DynamoUserData
    models: DynamoModelRegistry

    def __init__(
        self,
        catalog: Catalog,
        clock: SimulatedClock,
        *,
        audience_segments: int | None = 4,
        scoring_segments: int = 4,
        log_level: str = "WARNING",
        without_schedules: Collection[str] = (),
        trusted_event_sources: Collection[str] = (APP_EVENT_SOURCE,),
        gentle: bool = False,
        seed: int = 0,
        catalog_feed_key: str | None = None,
    ) -> None:
        """``without_schedules``: keys of schedules not to fire (e.g. ``scoring-daily`` in a run
        about something else). ``trusted_event_sources``: as the stack's context value of that name.
        ``audience_segments`` None sizes each occurrence's scan from the profile table's item count,
        as a deployed planner without ``AUDIENCE_SEGMENTS`` does. Adversarial by default
        (:mod:`nudge.local.adversary`, its choices seeded by ``seed``); ``gentle`` runs everything in
        a fixed, kind order, for debugging. ``catalog_feed_key``: as the stack's context value of that
        name (the feed object in the feed bucket; None: no feed, its schedule off)."""
        self.trusted_event_sources = frozenset(trusted_event_sources)
        moto_speedups.apply()
        self.adversary = None if gentle else Adversary(seed)
        # The handlers' EMF metrics are CloudWatch's to read; locally they would only flood stdout.
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        self.catalog = catalog
        self.clock = clock
        # "Deployed" at the simulated start: what has expired by then gets no rule and no schedule,
        # exactly as the stack leaves it out (shared.campaigns.expiry); the warnings say which.
        self.deployed_at = clock.now()
        self.expired = expired_campaigns(catalog, self.deployed_at)
        for found in self.expired:
            logging.getLogger(__name__).warning(
                "campaign %s: %s: %s (%s)", found.campaign_id, found.where, EXPIRED, found.reason
            )
        self._clients: dict[str, Any] = {}
        self.table_names = {t.key: physical_name(t.key) for t in topology.TABLES}
        self.queue_urls: dict[str, str] = {}
        self.invocations: dict[str, int] = {}
        self._running = threading.local()  # the function being invoked (for tests that attribute calls)
        # Every AWS request made through the runtime's clients, by who made it: a function (what
        # production pays for) or the runtime playing AWS (rule targets, pollers, Scheduler).
        self.requests: Counter[tuple[str, str]] = Counter()
        self._requests_lock = threading.Lock()
        self.machinery_listeners: list[Callable[[str, Mapping[str, Any]], None]] = []
        self.sent: list[SentMessage] = []  # every send a channel accepted, in order
        self.received: Counter[str] = Counter()  # SQS records handed to consumers, per work queue
        self.redelivered: Counter[str] = Counter()  # ... of which received before (a retry)
        self.async_retries: Counter[str] = Counter()  # asynchronous invocations Lambda retried
        self.feed = invocations.FeedSettings(key=catalog_feed_key)
        self.scheduler = LocalScheduler(self, catalog, self.deployed_at, without_schedules, self.feed)
        self.rules = invocations.event_rules(
            catalog,
            now=self.deployed_at,
            ses_configuration_set=NAMES.configuration_set,
            feed_object=(FEED_BUCKET_NAME, catalog_feed_key) if catalog_feed_key is not None else None,
        )
        self._environments: list[dict[str, Any]] = []  # ports of concurrent invocations (see invoke)
        local_resources.create_resources(self)
        self._handlers = {f.key: self._import_handler(f, log_level) for f in topology.FUNCTIONS}
        self._ports = local_ports.build_ports(self, audience_segments, scoring_segments)
        self.names = NAMES
        self._drain_order = queues.drain_order()
        self.publisher = EventPublisher(self.client("events"), NAMES.bus)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            client = boto3.client(service, region_name=REGION)
            client.meta.events.register("before-call", self._count_request)
            if self.adversary is not None:
                client.meta.events.register("before-call", self.adversary.interleaver.hook)
            self._clients[service] = client
        return self._clients[service]

    def _count_request(self, model: Any, **_: Any) -> None:
        who = self.running or RUNTIME_ITSELF
        with self._requests_lock:
            self.requests[who, f"{model.service_model.service_name}.{model.name}"] += 1

    def machinery_call(self, operation: str, count: int = 1, params: Mapping[str, Any] | None = None) -> None:
        """A request AWS's own machinery makes (``sqs.ReceiveMessage`` of a poller, ``sqs.SendMessage``
        of a rule target or a schedule), played in moto's state directly (:mod:`nudge.local.machinery`):
        counted as the runtime's, a turn for a concurrent invocation as at any request, and told to the
        ``machinery_listeners`` with what it carries (fault injection learns from a poller's call that an
        invocation is over; the soak notes the jobs Scheduler puts on the delivery queue)."""
        with self._requests_lock:
            self.requests[RUNTIME_ITSELF, operation] += count
        if self.adversary is not None:
            self.adversary.interleaver.hook()
        for listener in list(self.machinery_listeners):
            listener(operation, params or {})

    def requests_made(self, by_functions: bool = True) -> int:
        """AWS requests so far: those the functions made (what production pays for), or the runtime's."""
        return sum(n for (who, _), n in self.requests.items() if (who != RUNTIME_ITSELF) == by_functions)

    @property
    def mode(self) -> str:
        """How the runtime orders work: ``adversarial (seed N)`` or ``gentle``."""
        return self.adversary.mode if self.adversary is not None else "gentle"

    def queue_arn(self, key: str) -> str:
        return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{physical_name(key)}"

    def register_push_endpoint(self, platform: str, token: str, *, user_id: str) -> str:
        """What the shop's app backend does when a shopper's device registers: an SNS platform endpoint
        whose ``CustomUserData`` is the shopper's id (delivery pushes to it only for that shopper)."""
        response = self.client("sns").create_platform_endpoint(
            PlatformApplicationArn=self.push_apps[platform],
            Token=token,
            CustomUserData=user_id,
            # SNS reads it back from the attributes; moto keeps it there only when given there too.
            Attributes={"CustomUserData": user_id},
        )
        return str(response["EndpointArn"])

    def publish_model(self, artefact_json: str) -> str:
        """Put a trained artefact in the models table, as ``nudge train --publish-table`` does."""
        from shared.predictions.model import ModelArtefact

        artefact = ModelArtefact.model_validate_json(artefact_json)
        self.models.publish(artefact.version, artefact_json)
        return artefact.version

    # -- functions -------------------------------------------------------------------------------
    @staticmethod
    def _import_handler(spec: topology.FunctionSpec, log_level: str) -> Callable[..., Any]:
        module_name, attribute = spec.handler.rsplit(".", 1)
        module: ModuleType = importlib.import_module(module_name)
        module_logger = getattr(module, "logger", None)
        if module_logger is not None:
            module_logger.setLevel(log_level)
            logging.getLogger(module_logger.name).setLevel(log_level)
        handler: Callable[..., Any] = getattr(module, attribute)
        return handler

    def invoke(self, function_key: str, event: Mapping[str, Any]) -> Any:
        spec = topology.FUNCTIONS_BY_KEY[function_key]
        context = LocalContext(
            function_name=physical_name(function_key),
            memory_limit_in_mb=spec.memory_mb,
            timeout_ms=spec.timeout_s * 1000,
            aws_request_id=str(uuid.uuid4()),
            invoked_function_arn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{physical_name(function_key)}",
        )
        self.invocations[function_key] = self.invocations.get(function_key, 0) + 1
        self.running = function_key
        ports = self._ports_of(self.adversary.interleaver.index() if self.adversary else 0)
        try:
            return self._handlers[function_key](dict(event), context, ports=ports[function_key])
        finally:
            self.running = None

    @property
    def running(self) -> str | None:
        """The function being invoked (in this thread: invocations may run side by side)."""
        return getattr(self._running, "key", None)

    @running.setter
    def running(self, function_key: str | None) -> None:
        self._running.key = function_key

    def _ports_of(self, environment: int) -> dict[str, Any]:
        """The ports of one execution environment: invocations running at the same time each have their
        own, as in Lambda. The deliverer is the one port with per-invocation state (its batch)."""
        if environment == 0:
            return self._ports
        while len(self._environments) < environment:
            ports = dict(self._ports)
            deliver = ports["deliver"]
            ports["deliver"] = replace(deliver, deliverer=replace(deliver.deliverer))
            self._environments.append(ports)
        return self._environments[environment - 1]

    def invoke_async(self, function_key: str, event: Mapping[str, Any]) -> None:
        """Lambda's asynchronous invocation: retries, then the on-failure destination with the error."""
        spec = topology.FUNCTIONS_BY_KEY[function_key]
        error: Exception | None = None
        for attempt in range(1 + topology.ASYNC_RETRY_ATTEMPTS):
            self.async_retries[function_key] += attempt > 0
            try:
                self.invoke(function_key, event)
                return
            except Exception as failure:
                error = failure
        record = {
            "requestContext": {
                "condition": "RetriesExhausted",
                "approximateInvokeCount": 3,
                "functionArn": physical_name(function_key),
            },
            "requestPayload": dict(event),
            "responsePayload": {"errorType": type(error).__name__, "errorMessage": str(error)},
        }
        SqsDeadLetters(self.client("sqs"), self.queue_urls[str(spec.on_failure)]).park(
            json.dumps(record, default=str), f"{type(error).__name__}: {error}", source=function_key
        )

    # -- events ----------------------------------------------------------------------------------
    def publish(
        self, details: Iterable[Mapping[str, Any]], copies: Sequence[int] | None = None
    ) -> PublishReport:
        """Put events on the bus, then deliver each to the targets of every rule it matches (``copies``:
        how many times each is delivered); see :func:`nudge.local.routing.publish`."""
        return routing.publish(self, details, copies)

    def put_catalog_feed(self, body: bytes, key: str | None = None) -> int:
        """What the shop does to update the catalog: put the feed object in the feed bucket (at the
        deployment's key unless told another); S3's "Object Created" event then goes to the default
        bus (the bucket's EventBridge notifications). Returns how many rules it matched."""
        return routing.put_feed_object(self, FEED_BUCKET_NAME, key or str(self.feed.key), body)

    def publish_aws_event(self, envelope: Mapping[str, Any]) -> int:
        """An event an AWS service puts on the account's default bus (e.g. SES feedback), routed to
        the targets of the default-bus rules it matches; returns how many rules matched."""
        return routing.publish_aws_event(self, envelope)

    def http(
        self,
        method: str,
        path: str,
        *,
        user_id: str | None = None,
        query: Mapping[str, str] | None = None,
        body: str | None = None,
    ) -> dict[str, Any]:
        """Call the HTTP API as API Gateway would (:func:`nudge.local.http_api.request`)."""
        return http_api.request(self, method, path, user_id=user_id, query=query, body=body)

    # -- time ------------------------------------------------------------------------------------
    def advance_to(self, moment: datetime) -> int:
        """Move the clock to ``moment``, firing every schedule due on the way, in time order: the
        campaigns' recurring schedules and the one-time schedules (deferrals, delays) created since."""
        return self.scheduler.advance_to(moment)

    def one_time_schedules(self, until: datetime | None = None) -> list[tuple[datetime, str, dict[str, Any]]]:
        """Pending one-time schedules (time, name, target), earliest first; only those due by ``until``."""
        return self.scheduler.one_time_schedules(until)

    # -- queues ----------------------------------------------------------------------------------
    def drain(self, only: Collection[str] = ()) -> int:
        """Feed every work queue (or ``only`` these) to its consumer until empty; returns records processed.

        Queues are drained upstream first (a consumer's output queues come after its own), so one
        pass empties the system: nothing downstream ever feeds an upstream queue.
        """
        return queues.drain(self, [spec for spec in self._drain_order if not only or spec.key in only])

    def receive(self, spec: topology.QueueSpec, wanted: int) -> list[dict[str, Any]]:
        """Up to ``wanted`` messages of a work queue (fewer when it has no more visible)."""
        return queues.receive(self, spec, wanted)[0]

    def receive_again(self, spec: topology.QueueSpec, message: Mapping[str, Any]) -> list[dict[str, Any]]:
        """``message`` visible again and received again, with whatever is received before it."""
        return queues.receive_again(self, spec, message)

    def process(self, spec: topology.QueueSpec, messages: list[dict[str, Any]]) -> int:
        """Hand ``messages`` to the queue's consumer as one batch; returns how many failed."""
        return queues.process_batch(self, spec, messages)

    def send(self, queue_key: str, bodies: Sequence[str]) -> None:
        """A rule's queue target (or Scheduler) putting ``bodies`` on a queue: a ``SendMessage`` each."""
        url = self.queue_urls[queue_key]
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)]
        self.machinery_call("sqs.SendMessage", len(bodies), {"QueueUrl": url, "Entries": entries})
        machinery.send(url, bodies)

    def sqs_event(self, queue_key: str, bodies: Iterable[str], receive_count: int = 1) -> dict[str, Any]:
        """An SQS event for ``bodies`` as if received from ``queue_key`` (for driving a handler directly)."""
        return queues.sqs_event(self.queue_arn(queue_key), bodies, receive_count)

    # -- inspection ------------------------------------------------------------------------------
    def stack_outputs(self) -> dict[str, str]:
        """The outputs a deployed stack has (``infra/stack.py``), naming this runtime's resources."""
        return stack.stack_outputs(self)

    def answer_describe_stacks(self, session: Any, stack_name: str = "Nudge") -> None:
        """Let ``session`` find this runtime as a deployed stack named ``stack_name`` (``--stack``)."""
        stack.answer_describe_stacks(self, session, stack_name)

    def parked(self) -> list[ParkedMessage]:
        """Everything in every dead-letter queue, with its reason (messages stay in the queue)."""
        return dump.parked(self)

    def all_profiles(self) -> list[Any]:
        """Every profile, decoded by the same adapter the functions use."""
        return dump.all_profiles(self)

    def snapshot(self, directory: Path) -> dict[str, int]:
        """Write every table and what the dead-letter queues hold, in the local dump's format
        (``nudge/operations.py``), for ``nudge why``, ``report`` and ``dlq list`` to read later."""
        return dump.write_dump(self, directory)

    def scan(self, table_key: str) -> list[dict[str, Any]]:
        return dump.scan(self, table_key)
