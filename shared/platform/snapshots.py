"""SnapStart: what a function prepares before Lambda snapshots it, and renews after each restore.

The HTTP functions run with SnapStart (infra/function.py): Lambda initializes a published version
once, snapshots the memory, and starts every new execution environment from that snapshot, so the
import and the ports cost the shopper nothing. Whatever the snapshot holds is shared by every
environment restored from it, possibly days later, which is a trap for three things:

* **clients**: a boto3 client's connection pool would hold sockets opened before the snapshot;
* **secrets**: a key read before the snapshot would outlive its rotation in every restored copy;
* **randomness**: the ``random`` module's state would be the same in every copy (retry jitter that
  jitters in step).

So before the snapshot a function builds its ports and creates their clients (importing boto3 and
loading the services' models, the slow part: ``shared.platform.wiring.snapstart``), and after a
restore the global ``random`` is seeded afresh, the Lambda wiring is dropped (new clients on first
use, secrets read again on first use) and so are the function's ports. tests/unit/test_snapshots.py restores a
prepared function and checks that none of the three carries over.

Hooks register with the runtime's ``snapshot_restore_py`` (part of Lambda's managed Python runtimes;
absent elsewhere, where they run only when called: :func:`snapshot`, :func:`restore`). Lambda runs
the before-snapshot hooks in the reverse order of registration and the after-restore hooks in
order; so do :func:`snapshot` and :func:`restore`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any, TypeVar

Hook = TypeVar("Hook", bound=Callable[[], Any])

_before: list[Callable[[], Any]] = []
_after: list[Callable[[], Any]] = []


def _register_with_runtime(name: str, hook: Callable[[], Any]) -> None:
    try:
        import snapshot_restore_py
    except ImportError:  # not in Lambda's Python runtime: the hooks run when snapshot()/restore() say
        return
    getattr(snapshot_restore_py, name)(hook)


def before_snapshot(hook: Hook) -> Hook:
    """Run ``hook`` before Lambda takes the snapshot (a decorator)."""
    _before.append(hook)
    _register_with_runtime("register_before_snapshot", hook)
    return hook


def after_restore(hook: Hook) -> Hook:
    """Run ``hook`` when an execution environment is restored from the snapshot (a decorator)."""
    _after.append(hook)
    _register_with_runtime("register_after_restore", hook)
    return hook


def snapshot() -> None:
    """What Lambda does before snapshotting: the before-snapshot hooks, last registered first."""
    for hook in reversed(_before):
        hook()


def restore() -> None:
    """What Lambda does after restoring: the after-restore hooks, in registration order."""
    for hook in _after:
        hook()


after_restore(random.seed)  # from os.urandom: every restored environment draws its own numbers
