"""Physical names: every name a Nudge deployment gives a resource derives from its stack name.

Two stacks (``Nudge`` and ``Staging``) can then share an account and region: no bus, schedule group,
secret, configuration set, dashboard, alarm or metric namespace of one is the other's. The CDK stack
names its resources with :class:`ResourceNames` and hands functions the names they need through
their environment (``shared.platform.config``); the local runtime names its moto resources with it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The stack ``cdk deploy`` builds unless told otherwise (``-c stack_name=...``), and the one the local
# runtime plays.
DEFAULT_STACK_NAME = "Nudge"
# A rule's ``bus`` for Nudge's own bus (whose physical name is ResourceNames.bus); any other value
# names a bus Nudge does not own, such as the account's ``default`` bus where SES publishes.
OWN_BUS = "nudge"
# The ``kind`` a rule's target payload gives an event a journey ends on or waits for (not an entry): the
# trigger reads it here, without loading the rules' module (shared/deployment/invocations.py).
JOURNEY_EVENT = "journey_event"
# ... and a catalog campaign's announced change (shared/triggers/catalog_triggers.py).
CATALOG_CHANGE = "catalog_change"
# CloudFormation stack names are letters, digits and hyphens; 48 characters keep every derived name
# (``<stack>-deferred`` is the tightest: schedule groups take 64) within its service's limit.
STACK_NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,47}")


class InvalidStackName(ValueError):
    pass


@dataclass(frozen=True)
class ResourceNames:
    """The physical names of one deployment (the stack ``stack``)."""

    stack: str

    def __post_init__(self) -> None:
        if not STACK_NAME_PATTERN.fullmatch(self.stack):
            raise InvalidStackName(
                f"stack name {self.stack!r}: use 1-48 letters, digits and hyphens, starting with a letter "
                "(context stack_name, e.g. -c stack_name=Staging)"
            )

    def of(self, key: str) -> str:
        """The physical name of the resource ``key`` (a table, queue, rule or alarm key)."""
        return f"{self.stack}-{key}"

    @property
    def bus(self) -> str:
        return self.of("bus")

    @property
    def deferral_group(self) -> str:
        return self.of("deferred")

    @property
    def signing_secret(self) -> str:
        return self.of("signing-key")

    @property
    def privacy_key(self) -> str:
        return self.of("privacy-key")

    @property
    def catalog_key(self) -> str:
        return self.of("catalog-key")

    @property
    def configuration_set(self) -> str:
        return self.of("email")

    @property
    def dashboard(self) -> str:
        return self.of("operations")

    def alarm(self, key: str) -> str:
        return self.of(key)

    @property
    def metric_namespace(self) -> str:
        """The CloudWatch namespace of the functions' EMF metrics: the stack's own name."""
        return self.stack

    def event_bus(self, bus: str) -> str:
        """The physical name of a rule's bus: ``nudge`` (topology.OWN_BUS) is the stack's own bus;
        any other (``default``) is the account's and keeps its name."""
        return self.bus if bus == OWN_BUS else bus
