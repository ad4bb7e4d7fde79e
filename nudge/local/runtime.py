"""The local runtime: the deployed system's resources and wiring, on moto, with a simulated clock.

Resources come from ``shared.deployment.topology`` (the definitions CDK deploys): the same tables, queues with
the same redrive policies, and the bus with the same rules and patterns. Events are put on the moto
bus; each rule's target is then served by the runtime — a queue target gets the event envelope, a
function target (moto never invokes Lambda targets) gets the same input-transformer payload — for
every rule whose pattern ``shared.events.patterns`` matches. That matcher is tested against moto's own
EventBridge matching (tests/integration/test_patterns_vs_moto.py); routing ourselves also avoids
moto's per-event input-path parsing, which would make a two-week demo take an hour. Queues are
drained into the same handlers with partial batch failures honoured, and schedules fire when the
simulated clock passes their times.

Use it inside ``moto.mock_aws()``.
"""

from __future__ import annotations

import hashlib
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
from typing import Any

import boto3

from nudge.local import moto_speedups
from nudge.local import ports as local_ports
from nudge.local import resources as local_resources
from nudge.local.account import ACCOUNT, API_URL, NAMES, REGION, physical_name
from nudge.local.adversary import Adversary, hostile_dispatch, hostile_drain
from nudge.local.faults import FunctionTimedOut
from nudge.local.ports import SentMessage
from nudge.operations import LocalDump, ParkedMessage
from shared.adapters.dynamo.codec import scan_all
from shared.adapters.eventbus import DETAIL_TYPE, EventPublisher, PublishReport
from shared.adapters.sqs import SqsDeadLetterQueue, SqsDeadLetters, SqsQueue
from shared.campaigns.expiry import EXPIRED, expired_campaigns
from shared.campaigns.loader import Catalog
from shared.campaigns.schedules import ScheduleExpression
from shared.core.clock import SimulatedClock
from shared.deployment import invocations, topology
from shared.deployment.naming import OWN_BUS
from shared.events.contract import APP_EVENT_SOURCE
from shared.events.patterns import matches

MAX_DRAIN_ROUNDS = 100_000
RECEIVE_LIMIT = 10


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


def _route_matches(template: str, path: str) -> bool:
    parts, actual = template.strip("/").split("/"), path.strip("/").split("/")
    return len(parts) == len(actual) and all(
        p == a or (p.startswith("{") and p.endswith("}") and a) for p, a in zip(parts, actual, strict=True)
    )


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


class LocalRuntime:
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
    ) -> None:
        """``without_schedules``: keys of schedules not to fire (e.g. ``scoring-daily`` in a run
        about something else). ``trusted_event_sources``: as the stack's context value of that name.
        ``audience_segments`` None sizes each occurrence's scan from the profile table's item count,
        as a deployed planner without ``AUDIENCE_SEGMENTS`` does. Adversarial by default
        (:mod:`nudge.local.adversary`, its choices seeded by ``seed``); ``gentle`` runs everything in
        a fixed, kind order, for debugging."""
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
        self.sent: list[SentMessage] = []  # every send a channel accepted, in order
        self.received: Counter[str] = Counter()  # SQS records handed to consumers, per work queue
        self.redelivered: Counter[str] = Counter()  # ... of which received before (a retry)
        self.async_retries: Counter[str] = Counter()  # asynchronous invocations Lambda retried
        self._one_time: dict[str, tuple[datetime, dict[str, Any]]] = {}  # pending one-time schedules
        self._rules = invocations.event_rules(
            catalog, now=self.deployed_at, ses_configuration_set=NAMES.configuration_set
        )
        self._environments: list[dict[str, Any]] = []  # ports of concurrent invocations (see invoke)
        local_resources.create_resources(self)
        self._handlers = {f.key: self._import_handler(f, log_level) for f in topology.FUNCTIONS}
        self._ports = local_ports.build_ports(self, audience_segments, scoring_segments)
        self.names = NAMES
        self._drain_order = self.drain_order()
        self._schedules = [
            (spec, ScheduleExpression.parse(spec.expression, spec.timezone))
            for spec in invocations.all_schedules(catalog, now=self.deployed_at)
            if spec.enabled and spec.key not in without_schedules
        ]
        self._schedules_checked_until = clock.now()
        self.publisher = EventPublisher(self.client("events"), NAMES.bus)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            client = boto3.client(service, region_name=REGION)
            if self.adversary is not None:
                client.meta.events.register("before-call", self.adversary.interleaver.hook)
            self._clients[service] = client
        return self._clients[service]

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
        """Put events on the bus, then deliver each to the targets of every rule it matches.

        ``copies`` (one per detail) delivers an event that many times, as EventBridge's at-least-once
        delivery may: the same envelope, same event id, the extra copies after the batch's originals.
        """
        details = list(details)
        report = self.publisher.publish(details)
        failed = {id(d) for d, _ in report.failed}
        deliveries = copies or [1] * len(details)
        published = [(d, n) for d, n in zip(details, deliveries, strict=True) if id(d) not in failed]
        to_queues: dict[str, list[str]] = {}
        to_functions: list[tuple[str, dict[str, Any]]] = []
        repeats: list[tuple[str, str | dict[str, Any]]] = []
        for (detail, times), event_id in zip(published, report.event_ids, strict=True):
            envelope = {
                "version": "0",
                "id": event_id,
                "detail-type": DETAIL_TYPE,
                "source": APP_EVENT_SOURCE,
                "account": ACCOUNT,
                "time": self.clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                "region": REGION,
                "resources": [],
                "detail": json.loads(json.dumps(detail, default=str)),
            }
            for rule in self._rules:
                if rule.bus != OWN_BUS or not matches(rule.pattern, envelope):
                    continue
                if rule.target_queue is not None:
                    body = json.dumps(envelope)
                    to_queues.setdefault(rule.target_queue, []).append(body)
                    repeats += [(rule.target_queue, body)] * (times - 1)
                else:
                    payload = rule.target_input(envelope)
                    to_functions.append((str(rule.target_function), payload))
                    repeats += [(str(rule.target_function), payload)] * (times - 1)
        for target, repeat in repeats:
            if isinstance(repeat, str):
                to_queues[target].append(repeat)
            else:
                to_functions.append((target, repeat))
        if self.adversary is not None:
            hostile_dispatch(self.adversary, self, to_queues, to_functions)
            return report
        for queue_key, bodies in to_queues.items():
            SqsQueue(self.client("sqs"), self.queue_urls[queue_key]).send_many(bodies)
        for function_key, payload in to_functions:
            self.invoke_async(function_key, payload)
        return report

    def publish_aws_event(self, envelope: Mapping[str, Any]) -> int:
        """An event an AWS service puts on the account's default bus (e.g. SES feedback), routed to
        the targets of the default-bus rules it matches; returns how many rules matched."""
        matched = 0
        for rule in self._rules:
            if rule.bus == topology.DEFAULT_BUS and matches(rule.pattern, envelope):
                matched += 1
                self.invoke_async(str(rule.target_function), rule.target_input(envelope))
        return matched

    def http(
        self,
        method: str,
        path: str,
        *,
        user_id: str | None = None,
        query: Mapping[str, str] | None = None,
        body: str | None = None,
    ) -> dict[str, Any]:
        """Call the HTTP API as API Gateway would: the route's function gets a v2 payload, with the
        verified JWT claims for ``user_id`` on authorized routes (no claims when ``user_id`` is None)."""
        route = next(
            (r for r in topology.HTTP_ROUTES if r.method == method and _route_matches(r.path, path)),
            None,
        )
        if route is None:
            return {"statusCode": 404, "body": "no route"}
        if route.authorized and user_id is None:
            return {"statusCode": 401, "body": '{"message":"Unauthorized"}'}
        context: dict[str, Any] = {
            "accountId": ACCOUNT,
            "apiId": "local",
            "domainName": API_URL.removeprefix("https://"),
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": "t",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": f"{method} {route.path}",
            "stage": "$default",
            "time": self.clock.now().strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(self.clock.now().timestamp() * 1000),
        }
        if route.authorized:
            context["authorizer"] = {"jwt": {"claims": {"sub": user_id}, "scopes": None}}
        event = {
            "version": "2.0",
            "routeKey": f"{method} {route.path}",
            "rawPath": path,
            "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
            "headers": {"content-type": "application/x-www-form-urlencoded"} if body else {},
            "queryStringParameters": dict(query) if query else None,
            "requestContext": context,
            "body": body,
            "isBase64Encoded": False,
        }
        response: dict[str, Any] = self.invoke(route.function, event)
        return response

    # -- time ------------------------------------------------------------------------------------
    def advance_to(self, moment: datetime) -> int:
        """Move the clock to ``moment``, firing every schedule due on the way, in time order: the
        campaigns' recurring schedules and the one-time schedules (deferrals, delays) created since."""
        fired = 0
        # Occurrences before a clock a caller moved directly were missed, not pending.
        self._schedules_checked_until = max(self._schedules_checked_until, self.clock.now())
        while True:
            due = sorted(
                (fire, spec.key, spec)
                for spec, expression in self._schedules
                for fire in expression.occurrences(self._schedules_checked_until, moment)
            )
            one_time = self.one_time_schedules(until=moment)
            if not due and not one_time:
                break
            if one_time and (not due or one_time[0][0] <= due[0][0]):
                at = one_time[0][0]
                self.clock.advance_to(max(at, self.clock.now()))
                for _, name, target in (s for s in one_time if s[0] == at):
                    self._fire_one_time(name, target)
            else:
                fire = due[0][0]
                self.clock.advance_to(fire)
                self._schedules_checked_until = fire
                self.drain()
                # every schedule due at this instant fires now: the next pass starts after it
                same_instant = [spec for at, _, spec in due if at == fire]
                for spec in same_instant:
                    self.invoke_async(spec.target_function, spec.payload(fire.strftime("%Y-%m-%dT%H:%M:%SZ")))
                fired += len(same_instant) - 1
            fired += 1
            self.drain()
        self.clock.advance_to(moment)
        self._schedules_checked_until = moment
        return fired

    def one_time_schedules(self, until: datetime | None = None) -> list[tuple[datetime, str, dict[str, Any]]]:
        """Pending one-time schedules (time, name, target), earliest first; only those due by ``until``.

        The schedules live in moto's Scheduler; the runtime also notes each one its functions create
        (see :class:`_IndexedDeferrals`), so finding the due ones does not list them all every step.
        """
        found = [
            (at, name, target)
            for name, (at, target) in self._one_time.items()
            if until is None or at <= until
        ]
        return sorted(found, key=lambda s: (s[0], s[1]))

    def _fire_one_time(self, name: str, target: Mapping[str, Any]) -> None:
        """What Scheduler does at the time: send the input to the target queue, then delete itself."""
        scheduler = self.client("scheduler")
        self._one_time.pop(name, None)
        try:
            scheduler.get_schedule(GroupName=NAMES.deferral_group, Name=name)
        except scheduler.exceptions.ResourceNotFoundException:
            return  # deleted in the meantime (erasure)
        queue_key = next(k for k in self.queue_urls if self.queue_arn(k) == target["Arn"])
        SqsQueue(self.client("sqs"), self.queue_urls[queue_key]).send_many([target["Input"]])
        scheduler.delete_schedule(GroupName=NAMES.deferral_group, Name=name)

    # -- queues ----------------------------------------------------------------------------------
    def drain(self, only: Collection[str] = ()) -> int:
        """Feed every work queue (or ``only`` these) to its consumer until empty; returns records processed.

        Queues are drained upstream first (a consumer's output queues come after its own), so one
        pass empties the system: nothing downstream ever feeds an upstream queue.
        """
        queues = [spec for spec in self._drain_order if not only or spec.key in only]
        if self.adversary is not None:
            return hostile_drain(self.adversary, self, queues)
        return sum(self._drain_queue(spec) for spec in queues)

    @staticmethod
    def drain_order() -> list[topology.QueueSpec]:
        """Work queues ordered so that every queue comes before the queues its consumer sends to."""
        ordered: list[topology.QueueSpec] = []
        pending = list(topology.QUEUES)
        while pending:
            ready = [
                q
                for q in pending
                if not any(
                    q.key in topology.FUNCTIONS_BY_KEY[other.consumer].sends_to and other.key != q.key
                    for other in pending
                )
            ]
            if not ready:
                raise RuntimeError("work queues feed each other in a cycle; one drain pass cannot empty them")
            ordered += ready
            pending = [q for q in pending if q not in ready]
        return ordered

    def _drain_queue(self, spec: topology.QueueSpec) -> int:
        feeds_itself = spec.key in topology.FUNCTIONS_BY_KEY[spec.consumer].sends_to
        processed = 0
        for _ in range(MAX_DRAIN_ROUNDS):
            batch, exhausted = self._receive_batch(spec)
            if not batch:
                return processed
            failed = self._process_batch(spec, batch)
            processed += len(batch)
            if exhausted and not failed and not feeds_itself:
                return processed
        raise RuntimeError(f"queue {spec.key} did not drain")

    def _receive_batch(self, spec: topology.QueueSpec) -> tuple[list[dict[str, Any]], bool]:
        """Up to the event source mapping's batch size; ``exhausted`` when a receive came back short."""
        return self._receive(spec, spec.batch_size)

    def receive(self, spec: topology.QueueSpec, wanted: int) -> list[dict[str, Any]]:
        """Up to ``wanted`` messages of a work queue (fewer when it has no more visible)."""
        return self._receive(spec, wanted)[0]

    def receive_again(self, spec: topology.QueueSpec, message: Mapping[str, Any]) -> list[dict[str, Any]]:
        """``message`` visible again (its visibility timeout ran out) and received again, by another
        poller, with whatever is received before it."""
        url = self.queue_urls[spec.key]
        self.client("sqs").change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
        found: list[dict[str, Any]] = []
        while True:
            received = self.receive(spec, RECEIVE_LIMIT)
            found += received
            if not received or any(m["MessageId"] == message["MessageId"] for m in received):
                return found

    def process(self, spec: topology.QueueSpec, messages: list[dict[str, Any]]) -> int:
        return self._process_batch(spec, messages)

    def send(self, queue_key: str, bodies: Sequence[str]) -> None:
        SqsQueue(self.client("sqs"), self.queue_urls[queue_key]).send_many(bodies)

    def _receive(self, spec: topology.QueueSpec, most: int) -> tuple[list[dict[str, Any]], bool]:
        sqs, url = self.client("sqs"), self.queue_urls[spec.key]
        messages: list[dict[str, Any]] = []
        while len(messages) < most:
            wanted = min(RECEIVE_LIMIT, most - len(messages))
            response = sqs.receive_message(
                QueueUrl=url,
                MaxNumberOfMessages=wanted,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            received = response.get("Messages", [])
            messages.extend(received)
            if len(received) < wanted:
                return messages, True
        return messages, False

    def sqs_record(
        self, queue_key: str, message_id: str, body: str, receipt_handle: str, attributes: Mapping[str, str]
    ) -> dict[str, Any]:
        """One record of the event Lambda's SQS event source mapping passes to a consumer."""
        return {
            "messageId": message_id,
            "receiptHandle": receipt_handle,
            "body": body,
            "attributes": dict(attributes),
            "messageAttributes": {},
            "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn(queue_key),
            "awsRegion": REGION,
        }

    def sqs_event(self, queue_key: str, bodies: Iterable[str], receive_count: int = 1) -> dict[str, Any]:
        """An SQS event for ``bodies`` as if received from ``queue_key`` (for driving a handler directly)."""
        attributes = {"ApproximateReceiveCount": str(receive_count)}
        return {
            "Records": [
                self.sqs_record(queue_key, f"r-{i}", body, f"h-{i}", attributes)
                for i, body in enumerate(bodies)
            ]
        }

    def _process_batch(self, spec: topology.QueueSpec, messages: list[dict[str, Any]]) -> int:
        """Invoke the consumer; delete what succeeded, make failures visible again. Returns failures."""
        sqs, url = self.client("sqs"), self.queue_urls[spec.key]
        records = [
            self.sqs_record(spec.key, m["MessageId"], m["Body"], m["ReceiptHandle"], m.get("Attributes", {}))
            for m in messages
        ]
        self.received[spec.key] += len(records)
        self.redelivered[spec.key] += sum(
            int(r["attributes"].get("ApproximateReceiveCount", 1)) > 1 for r in records
        )
        try:
            response = self.invoke(spec.consumer, {"Records": records})
            failed = {f["itemIdentifier"] for f in (response or {}).get("batchItemFailures", [])}
        except (Exception, FunctionTimedOut):  # the invocation failed: SQS retries the whole batch
            failed = {r["messageId"] for r in records}
        done = [m for m in messages if m["MessageId"] not in failed]
        retry = [m for m in messages if m["MessageId"] in failed]
        for batch in (done[i : i + 10] for i in range(0, len(done), 10)):
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)],
            )
        for batch in (retry[i : i + 10] for i in range(0, len(retry), 10)):
            sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(batch)
                ],
            )
        return len(retry)

    def publish_model(self, artefact_json: str) -> str:
        """Put a trained artefact in the models table, as ``nudge train --publish-table`` does."""
        from shared.predictions.model import ModelArtefact

        artefact = ModelArtefact.model_validate_json(artefact_json)
        self.models.publish(artefact.version, artefact_json)
        return artefact.version

    # -- inspection ------------------------------------------------------------------------------
    def stack_outputs(self) -> dict[str, str]:
        """The outputs a deployed stack has (``infra/stack.py``), naming this runtime's resources."""
        outputs = {topology.table_output(k): name for k, name in self.table_names.items()}
        outputs |= {topology.queue_output(k): url for k, url in self.queue_urls.items()}
        outputs[topology.PRIVACY_KEY_OUTPUT] = self.privacy_key_arn
        outputs[topology.DEFERRAL_GROUP_OUTPUT] = self.names.deferral_group
        return outputs

    def answer_describe_stacks(self, session: Any, stack_name: str = "Nudge") -> None:
        """Let ``session`` find this runtime as a deployed stack named ``stack_name`` (``--stack``).

        moto's CloudFormation needs dependencies we do not install, so DescribeStacks alone is
        answered at the botocore edge with :meth:`stack_outputs`; every other call stays a real one."""
        from botocore.awsrequest import AWSResponse

        listed = [{"OutputKey": k, "OutputValue": v} for k, v in self.stack_outputs().items()]

        def describe_stacks(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            asked = (params.get("body") or {}).get("StackName")
            if asked != stack_name:
                error = {
                    "Code": "ValidationError",
                    "Message": f"Stack with id {asked} does not exist",
                }
                return AWSResponse("https://cloudformation", 400, {}, None), {"Error": error}
            stack = {"StackName": stack_name, "StackStatus": "CREATE_COMPLETE", "Outputs": listed}
            return AWSResponse("https://cloudformation", 200, {}, None), {"Stacks": [stack]}

        session.events.register("before-call.cloudformation.DescribeStacks", describe_stacks)

    def parked(self) -> list[ParkedMessage]:
        """Everything in every dead-letter queue, with its reason (messages stay in the queue)."""
        return [
            ParkedMessage.of(key, letter)
            for key in topology.DEAD_LETTER_QUEUES
            for letter in SqsDeadLetterQueue(self.client("sqs"), self.queue_urls[key]).peek()
        ]

    def all_profiles(self) -> list[Any]:
        """Every profile, decoded by the same adapter the functions use."""
        profiles, start_key = [], None
        while True:
            page, start_key = self.profiles.scan_segment(0, 1, start_key, 1000)
            profiles.extend(page)
            if start_key is None:
                return profiles

    def snapshot(self, directory: Path) -> dict[str, int]:
        """Write every table and what the dead-letter queues hold, in the local dump's format
        (``nudge/operations.py``), for ``nudge why``, ``report`` and ``dlq list`` to read later."""
        tables = {spec.key: self.scan(spec.key) for spec in topology.TABLES}
        return LocalDump.write(directory, tables, self.parked(), plain=_plain)

    def scan(self, table_key: str) -> list[dict[str, Any]]:
        return scan_all(self.client("dynamodb"), self.table_names[table_key])
