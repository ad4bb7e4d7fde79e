"""EventBridge Scheduler, played by the local runtime: schedules fire as the simulated clock passes them.

moto keeps schedules but never fires them. The campaigns' recurring schedules (and the system's,
such as daily scoring) come from ``shared.deployment.invocations``; the one-time schedules
(deferrals, delays) are the ones the functions create in moto's Scheduler, which the runtime's
wiring also notes in :attr:`LocalScheduler.one_time` as it creates them
(``nudge.local.ports._IndexedDeferrals``), so finding the due ones does not list them all every step.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import datetime
from typing import Any

from nudge.local import machinery
from nudge.local.account import NAMES
from shared.campaigns.loader import Catalog
from shared.campaigns.schedules import ScheduleExpression
from shared.deployment import invocations

NO_FEED = invocations.FeedSettings()


class LocalScheduler:
    """The schedules of a runtime deployed at ``deployed_at`` (less ``without``), fired on the way
    when the clock is moved with :meth:`advance_to`."""

    def __init__(
        self,
        runtime: Any,
        catalog: Catalog,
        deployed_at: datetime,
        without: Collection[str],
        feed: invocations.FeedSettings = NO_FEED,
    ) -> None:
        self._runtime = runtime
        self.one_time: dict[str, tuple[datetime, dict[str, Any]]] = {}  # pending one-time schedules
        self._recurring = [
            (spec, ScheduleExpression.parse(spec.expression, spec.timezone))
            for spec in invocations.all_schedules(catalog, now=deployed_at, feed=feed)
            if spec.enabled and spec.key not in without
        ]
        self._checked_until = runtime.clock.now()

    def advance_to(self, moment: datetime) -> int:
        """Move the clock to ``moment``, firing every schedule due on the way, in time order: the
        campaigns' recurring schedules and the one-time schedules (deferrals, delays) created since."""
        runtime, clock = self._runtime, self._runtime.clock
        fired = 0
        # Occurrences before a clock a caller moved directly were missed, not pending.
        self._checked_until = max(self._checked_until, clock.now())
        while True:
            due = sorted(
                (fire, spec.key, spec)
                for spec, expression in self._recurring
                for fire in expression.occurrences(self._checked_until, moment)
            )
            one_time = self.one_time_schedules(until=moment)
            if not due and not one_time:
                break
            if one_time and (not due or one_time[0][0] <= due[0][0]):
                at = one_time[0][0]
                clock.advance_to(max(at, clock.now()))
                for _, name, target in (s for s in one_time if s[0] == at):
                    self._fire_one_time(name, target)
            else:
                fire = due[0][0]
                clock.advance_to(fire)
                self._checked_until = fire
                runtime.drain()
                # every schedule due at this instant fires now: the next pass starts after it
                same_instant = [spec for at, _, spec in due if at == fire]
                for spec in same_instant:
                    runtime.invoke_async(
                        spec.target_function, spec.payload(fire.strftime("%Y-%m-%dT%H:%M:%SZ"))
                    )
                fired += len(same_instant) - 1
            fired += 1
            runtime.drain()
        clock.advance_to(moment)
        self._checked_until = moment
        return fired

    def one_time_schedules(self, until: datetime | None = None) -> list[tuple[datetime, str, dict[str, Any]]]:
        """Pending one-time schedules (time, name, target), earliest first; only those due by ``until``."""
        found = [
            (at, name, target) for name, (at, target) in self.one_time.items() if until is None or at <= until
        ]
        return sorted(found, key=lambda s: (s[0], s[1]))

    def _fire_one_time(self, name: str, target: Mapping[str, Any]) -> None:
        """What Scheduler does at the time: send the input to the target queue, then delete itself."""
        runtime = self._runtime
        self.one_time.pop(name, None)
        # Scheduler's own reads and deletes: moto's state directly (nudge.local.machinery)
        if not machinery.schedule_exists(NAMES.deferral_group, name):
            return  # deleted in the meantime (erasure)
        queue_key = next(k for k in runtime.queue_urls if runtime.queue_arn(k) == target["Arn"])
        runtime.send(queue_key, [target["Input"]])
        machinery.delete_schedule(NAMES.deferral_group, name)
