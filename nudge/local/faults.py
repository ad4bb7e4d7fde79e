"""Fault injection for the local runtime: throttled AWS calls and Lambda timeouts, reproducibly.

Faults are raised from a botocore ``before-call`` hook on the runtime's clients. botocore emits that
event before it builds the request; its retry handler only wraps the request it then sends. So an
injected throttle reaches our code at once, as one that outlasted the SDK's own retries (3 attempts
in the default retry mode) would in AWS: each injected fault stands for a throttle that retrying
inside the SDK did not absorb, which is the case our code has to survive. A seeded random number
generator decides which calls fail, so a run is reproducible.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

# The error codes each service answers a throttled request with.
THROTTLE_CODES: dict[str, tuple[str, ...]] = {
    "dynamodb": ("ThrottlingException", "ProvisionedThroughputExceededException"),
    "sesv2": ("TooManyRequestsException", "Throttling"),
    "sns": ("Throttled",),
}
# What the event source mapping calls between invocations: a dead invocation is over by then.
EVENT_SOURCE_CALLS = frozenset({"ReceiveMessage", "DeleteMessageBatch", "ChangeMessageVisibilityBatch"})


class FunctionTimedOut(BaseException):
    """An invocation ended as by Lambda's timeout. A ``BaseException``, so no ``except Exception``
    in the handler (or Powertools' batch processor) catches it; with :class:`TimeoutAfter` every
    later AWS call of the invocation fails too, as nothing runs after a timeout."""


class ThrottleFaults:
    """Fails a share of the calls to DynamoDB, SES and SNS with each service's throttling error."""

    def __init__(self, rate: float, seed: int, services: Iterable[str] = tuple(THROTTLE_CODES)) -> None:
        self.rate = rate
        self.services = tuple(services)
        self._rng = random.Random(seed)
        self.calls: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self._hooks: list[tuple[Any, Any]] = []

    def attach(self, runtime: Any) -> ThrottleFaults:
        for service in self.services:
            client = runtime.client(service)

            def hook(model: Any, _client: Any = client, **_: Any) -> None:
                self._maybe_fail(_client, model)

            client.meta.events.register("before-call", hook)
            self._hooks.append((client, hook))
        return self

    def detach(self) -> None:
        for client, hook in self._hooks:
            client.meta.events.unregister("before-call", hook)
        self._hooks.clear()

    def _maybe_fail(self, client: Any, model: Any) -> None:
        service = model.service_model.service_name
        name = f"{service}.{model.name}"
        self.calls[name] += 1
        if self._rng.random() >= self.rate:
            return
        self.injected[name] += 1
        code = self._rng.choice(THROTTLE_CODES[service])
        response = {
            "Error": {"Code": code, "Message": "Rate exceeded (injected)"},
            "ResponseMetadata": {"HTTPStatusCode": 400 if service == "dynamodb" else 429},
        }
        raise client.exceptions.from_code(code)(response, model.name)


class TimeoutAfter:
    """Times out the invocation at its first AWS call after the ``calls``-th call of ``operation``
    (e.g. after 3 ``SendEmail``: three messages went out, then the function died). Fires once."""

    def __init__(self, operation: str, calls: int) -> None:
        self.operation = operation
        self.calls = calls
        self.seen = 0
        self.fired = False
        self._dead = False
        self._hooks: list[tuple[Any, Any]] = []
        self._runtime: Any = None

    def attach(
        self, runtime: Any, services: Iterable[str] = ("dynamodb", "sqs", "sesv2", "sns")
    ) -> TimeoutAfter:
        for service in services:
            client = runtime.client(service)
            client.meta.events.register("before-call", self)
            self._hooks.append((client, self))
        # The pollers' calls are played in moto directly (nudge.local.machinery): told, not hooked.
        self._runtime = runtime
        runtime.machinery_listeners.append(self.machinery_call)
        return self

    def detach(self) -> None:
        for client, hook in self._hooks:
            client.meta.events.unregister("before-call", hook)
        self._hooks.clear()
        if self._runtime is not None and self.machinery_call in self._runtime.machinery_listeners:
            self._runtime.machinery_listeners.remove(self.machinery_call)

    def machinery_call(self, operation: str, _params: Mapping[str, Any]) -> None:
        """A request of AWS's machinery (``sqs.ReceiveMessage``...): a poller's call ends a dead one."""
        if self._dead and operation.split(".", 1)[-1] in EVENT_SOURCE_CALLS:
            self._dead = False

    def __call__(self, model: Any, **_: Any) -> None:
        if self._dead:
            if model.name in EVENT_SOURCE_CALLS:
                self._dead = False
                return
            raise FunctionTimedOut(f"timed out after {self.calls} {self.operation}")
        if self.fired:
            return
        if self.seen == self.calls and model.name not in EVENT_SOURCE_CALLS:
            self.fired = self._dead = True
            raise FunctionTimedOut(f"timed out after {self.calls} {self.operation}")
        if model.name == self.operation:
            self.seen += 1
