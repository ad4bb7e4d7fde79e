"""The adversarial local runtime: the orders and overlaps AWS allows, chosen by a seeded RNG.

The gentle runtime is kinder than AWS: it drains ingest before delivery, runs an event's rule targets
in a fixed order, never hands a message to a second invocation while the first still runs, and never
runs two invocations of one function at once. An :class:`Adversary` (on by default; ``gentle=True``
turns it off) makes the runtime do all of these, reproducibly for a seed:

- an event's rule targets run in a random order, and a function target's output queue may be drained
  at once (trigger → delivery before the ingest queue even has the event);
- work queues are drained in a random interleaving (delivery before ingest), in random batch sizes,
  and a later batch may run before an earlier one;
- a record of a batch may be received again, by a second invocation, while the first still runs
  (SQS at-least-once: a copy redelivered after a visibility timeout or from another server);
- two invocations of one function may hold batches at the same time (often the same shopper's).

Concurrent invocations run in threads, one at a time, handing the turn over at AWS calls as the RNG
picks (:class:`Interleaver`): each request is atomic, as DynamoDB's per-item writes are, and the races
between requests — a read, then another invocation's write, then our conditional write — are played
out in a reproducible order. Each concurrent invocation has its own execution environment (ports), as
in Lambda.
"""

from __future__ import annotations

import json
import random
import threading
from collections import Counter
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Protocol, TypeVar

from shared.deployment.topology import FUNCTIONS_BY_KEY, QueueSpec

T = TypeVar("T")
MAX_DRAIN_ROUNDS = 100_000


class Interleaver:
    """Runs tasks in threads, exactly one at a time, switching between them at AWS calls.

    :meth:`hook` is registered on every client of the runtime (botocore ``before-call``); in a task's
    thread it hands the turn to a task the RNG picks (perhaps itself) and waits for its turn back."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._turn = threading.Condition()
        self._running: int | None = None
        self._live: list[int] = []
        self._local = threading.local()

    def inside(self) -> bool:
        return getattr(self._local, "index", None) is not None

    def index(self) -> int:
        """The running task's index (0 outside a task)."""
        return getattr(self._local, "index", None) or 0

    def hook(self, **_: Any) -> None:
        me = getattr(self._local, "index", None)
        if me is None:
            return
        with self._turn:
            chosen = self._rng.choice(self._live)
            if chosen == me:
                return
            self._running = chosen
            self._turn.notify_all()
            self._turn.wait_for(lambda: self._running == me)

    def run(self, tasks: Sequence[Callable[[], T]]) -> list[T | BaseException]:
        """Run ``tasks`` interleaved; each result, or the exception it ended with. Inside a task, the
        tasks run one after the other (the turn is not nested)."""
        results: list[T | BaseException] = []
        if len(tasks) < 2 or self.inside():
            for task in tasks:
                try:
                    results.append(task())
                except Exception as error:
                    results.append(error)
            return results
        slots: list[Any] = [None] * len(tasks)
        self._live = list(range(len(tasks)))

        def body(i: int) -> None:
            self._local.index = i
            with self._turn:
                self._turn.wait_for(lambda: self._running == i)
            try:
                slots[i] = tasks[i]()
            except BaseException as error:
                slots[i] = error
            finally:
                self._local.index = None
                with self._turn:
                    self._live.remove(i)
                    self._running = self._rng.choice(self._live) if self._live else None
                    self._turn.notify_all()

        threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(len(tasks))]
        for thread in threads:
            thread.start()
        with self._turn:
            self._running = self._rng.choice(self._live)
            self._turn.notify_all()
        for thread in threads:
            thread.join()
        return slots


@dataclass
class Adversary:
    """How hostile the runtime is, and the seeded RNG behind every choice."""

    seed: int = 0
    downstream_at_once: float = 0.5  # function targets whose output queues are drained right away
    concurrent: float = 0.3  # batches (and async invocations) run beside another one
    redelivered: float = 0.15  # batches one of whose records a second invocation also receives
    rng: random.Random = field(init=False, repr=False)
    interleaver: Interleaver = field(init=False, repr=False)
    seen: Counter[str] = field(init=False)  # what it did, by kind (the soak reports it)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.interleaver = Interleaver(self.rng)
        self.seen = Counter()

    @property
    def mode(self) -> str:
        return f"adversarial (seed {self.seed})"

    def chance(self, share: float) -> bool:
        return self.rng.random() < share

    def shuffled(self, items: Sequence[T]) -> list[T]:
        return self.rng.sample(list(items), len(items))

    def split(self, items: Sequence[T], most: int) -> list[list[T]]:
        """``items`` in random consecutive batches of at most ``most``, the batches in a random order."""
        batches, rest = [], list(items)
        while rest:
            size = self.rng.randint(1, min(most, len(rest)))
            batches.append(rest[:size])
            rest = rest[size:]
        shuffled = self.shuffled(batches)
        self.seen["later_batch_first"] += shuffled != batches
        return shuffled

    def groups(self, items: Sequence[T]) -> list[list[T]]:
        """``items`` as runs of one or two, a pair to be run at the same time."""
        found, rest = [], list(items)
        while rest:
            size = 2 if len(rest) > 1 and self.chance(self.concurrent) else 1
            found.append(rest[:size])
            rest = rest[size:]
        return found

    def run_together(self, tasks: Sequence[Callable[[], T]]) -> list[T | BaseException]:
        self.seen["concurrent_invocations"] += len(tasks) > 1
        return self.interleaver.run(tasks)


class QueueDriver(Protocol):
    """What the adversary drives a runtime's work queues with."""

    def receive(self, spec: QueueSpec, wanted: int) -> list[dict[str, Any]]: ...

    def receive_again(self, spec: QueueSpec, message: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Make ``message`` visible and receive until it comes back (with whatever comes before it)."""
        ...

    def process(self, spec: QueueSpec, messages: list[dict[str, Any]]) -> int: ...


def hostile_drain(adversary: Adversary, driver: QueueDriver, queues: Sequence[QueueSpec]) -> int:
    """Empty ``queues``, picking a queue at random each time, in random batches run one by one, two at
    once, or beside a second invocation that received one of their records again. Returns records."""
    processed, empty = 0, set()
    for _ in range(MAX_DRAIN_ROUNDS):
        waiting = [q for q in queues if q.key not in empty]
        if not waiting:
            return processed
        spec = adversary.rng.choice(waiting)
        messages = driver.receive(spec, adversary.rng.randint(1, 2 * spec.batch_size))
        if not messages:
            empty.add(spec.key)
            continue
        empty.clear()  # the work may have fed any queue
        runs = adversary.groups(adversary.split(messages, spec.batch_size))
        for run in runs:
            first = run[0]
            chosen = adversary.rng.choice(first)
            count = int(chosen.get("Attributes", {}).get("ApproximateReceiveCount", 1))
            # Never past the second-last receive: SQS's own redrive would park it without a reason.
            if count + 1 < spec.max_receive_count and adversary.chance(adversary.redelivered):
                again = driver.receive_again(spec, chosen)
                run = [*run, *[b for b in adversary.split(again, spec.batch_size)]]
                adversary.seen["redelivered_while_running"] += 1
            if len(run) > 1:
                held = [{shopper_of(m.get("Body", "")) for m in batch} - {None} for batch in run]
                adversary.seen["concurrent_same_shopper"] += any(
                    a & b for i, a in enumerate(held) for b in held[i + 1 :]
                )
            results = adversary.run_together([partial(driver.process, spec, batch) for batch in run])
            processed += sum(len(batch) for batch in run)
            for result in results:
                if isinstance(result, BaseException):
                    raise result
    raise RuntimeError(f"work queues {[q.key for q in queues]} did not drain")


def shopper_of(body: str) -> str | None:
    """The shopper a queue message is for (a delivery job's or an event's), if it names one."""
    try:
        message = json.loads(body)
    except ValueError:
        return None
    if not isinstance(message, dict):
        return None
    detail = message.get("detail")
    found = message.get("user_id") or (
        (detail.get("userId") or detail.get("anonymousId")) if isinstance(detail, dict) else None
    )
    return found if isinstance(found, str) else None


class Targets(Protocol):
    """What the adversary hands an event's rule targets to."""

    def send(self, queue_key: str, bodies: Sequence[str]) -> None: ...

    def invoke_async(self, function_key: str, event: Mapping[str, Any]) -> None: ...

    def drain(self, only: Collection[str] = ()) -> int: ...


def hostile_dispatch(
    adversary: Adversary,
    targets: Targets,
    to_queues: Mapping[str, list[str]],
    to_functions: Sequence[tuple[str, dict[str, Any]]],
) -> None:
    """Rule targets in a random order (a function may run before the ingest queue has the event), two
    asynchronous invocations sometimes at once, and a function's output queues sometimes drained
    right away (trigger → delivery before ingest)."""
    sends: list[tuple[str, Any]] = [
        ("queue", (key, chunk)) for key, bodies in to_queues.items() for chunk in adversary.split(bodies, 10)
    ]
    steps = adversary.shuffled([*sends, *(("function", target) for target in to_functions)])
    while steps:
        kind, what = steps.pop(0)
        if kind == "queue":
            targets.send(*what)
            continue
        if any(k == "queue" for k, _ in steps):
            adversary.seen["targets_reordered"] += 1
        together = [what]
        if steps and steps[0][0] == "function" and adversary.chance(adversary.concurrent):
            together.append(steps.pop(0)[1])
        for result in adversary.run_together([partial(targets.invoke_async, *call) for call in together]):
            if isinstance(result, BaseException):
                raise result
        for key, _ in together:
            outputs = FUNCTIONS_BY_KEY[key].sends_to
            if outputs and adversary.chance(adversary.downstream_at_once):
                adversary.seen["delivery_before_ingest"] += targets.drain(only=outputs) > 0
