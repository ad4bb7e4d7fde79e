"""What a deployment is told through CDK context, checked before any resource is built.

``cdk synth``/``cdk deploy`` (``-c key=value`` or cdk.json's ``context``) and ``make synth`` read the
same keys. A value a deploy cannot work with — no sender, an ``example.com`` sender SES would reject,
the placeholder JWT issuer every inbox call would fail against, a region without what the stack
needs — stops the synth with a message naming the context key to pass, instead of a stack that
deploys and then does nothing useful.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from shared.campaigns.schedules import ScheduleExpression
from shared.deployment.invocations import CATALOG_FEED_SCHEDULE, FeedSettings
from shared.deployment.naming import DEFAULT_STACK_NAME, InvalidStackName, ResourceNames
from shared.events.sources import APP_EVENT_SOURCE

# RFC 2606 / RFC 6761: domains that never receive mail and hosts no identity provider runs on.
RESERVED_DOMAINS = ("example.com", "example.net", "example.org")
RESERVED_TLDS = ("example", "test", "invalid", "localhost")
SEGMENT_PARTNER_PREFIX = "aws.partner/segment.com/"
# CloudFormation cannot create SES configuration sets in these regions (cfn-lint E3006: no
# AWS::SES::ConfigurationSet / ConfigurationSetEventDestination there); tests/infra/test_partitions.py
# holds this list to cfn-lint's region schemas.
NO_SES_CONFIGURATION_SETS = frozenset(
    {
        "ap-east-1",
        "ap-east-2",
        "ap-southeast-4",
        "ap-southeast-6",
        "ap-southeast-7",
        "cn-north-1",
        "cn-northwest-1",
        "eu-south-2",
        "mx-central-1",
    }
)
_EMAIL = re.compile(r"[^@\s]+@([A-Za-z0-9-]+\.)+[A-Za-z0-9-]+")
_LAYER_ARN = re.compile(r"arn:aws[a-z-]*:lambda:[a-z0-9-]+:\d{12}:layer:[A-Za-z0-9_-]+:\d+")
_CONFIGURATION_SET = re.compile(r"[A-Za-z0-9_-]{1,64}")
_FEED_KEY = re.compile(r"[^/\x00-\x1f][^\x00-\x1f]{0,1023}")


class DeployContextError(ValueError):
    """The context cannot make a working stack; ``problems`` says what to pass, one line each."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(f"- {p}" for p in problems))
        self.problems = problems


def is_placeholder_domain(domain: str) -> bool:
    domain = domain.lower().rstrip(".")
    return domain.rsplit(".", 1)[-1] in RESERVED_TLDS or any(
        domain == reserved or domain.endswith("." + reserved) for reserved in RESERVED_DOMAINS
    )


def _flag(value: Any, key: str, problems: list[str]) -> bool:
    if value is None or isinstance(value, bool):
        return value is not False
    text = str(value).strip().lower()
    if text not in ("true", "false"):
        problems.append(f"{key}: {value!r} is not true or false (-c {key}=false)")
    return text != "false"


def _listed(value: Any) -> tuple[str, ...]:
    """A context value given as a list (cdk.json) or as comma-separated text (``-c name=a,b``)."""
    if value is None:
        return ()
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(str(i).strip() for i in items if str(i).strip())


def _instant(value: Any, problems: list[str]) -> datetime:
    """The deploy time for expiry: ``-c now=...`` (ISO-8601 with a zone) or the clock."""
    if value is None:
        return datetime.now(UTC)
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        problems.append(f"now: {value!r} is not an ISO-8601 instant (-c now=2027-01-01T00:00:00Z)")
        return datetime.now(UTC)
    if moment.utcoffset() is None:
        problems.append(f"now: {value!r} has no zone (add Z or an offset)")
    return moment


def _text(value: Any) -> str | None:
    return None if value is None or str(value).strip() == "" else str(value).strip()


@dataclass(frozen=True)
class DeploySettings:
    """One deployment's inputs, checked (see ``from_context``)."""

    sender_email: str
    jwt_issuer: str
    jwt_audience: str
    stack_name: str = DEFAULT_STACK_NAME
    ses_configuration_set: str | None = None  # an existing set; None: the stack creates its own
    ses_feedback: bool = True  # False: no configuration set and no feedback rule
    segment_partner_bus: str | None = None
    powertools_layer_arn: str | None = None
    # EventBridge sources whose identify calls may set contact points (docs/security.md).
    trusted_event_sources: tuple[str, ...] = (APP_EVENT_SOURCE,)
    # This stack's SNS platform applications: push goes only to their endpoints.
    push_applications: tuple[str, ...] = ()
    nag: bool = True
    # The catalog feed (docs/catalog.md): its object's key in the feed bucket (None: no feed, the
    # schedule deployed off) and when it is loaded (EventBridge Scheduler expression, UTC).
    catalog_feed_key: str | None = None
    catalog_feed_schedule: str = CATALOG_FEED_SCHEDULE.expression
    # SnapStart for the event path (ingest, trigger, deliver) too, where the region has it for Python; off
    # by default: it bills each snapshot's cache for as long as its version lives (docs/performance.md).
    event_path_snapstart: bool = False
    # When the stack is deployed, for expiry (shared.campaigns.expiry): -c now=... or the clock.
    deployed_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def names(self) -> ResourceNames:
        return ResourceNames(self.stack_name)

    @property
    def feed(self) -> FeedSettings:
        return FeedSettings(key=self.catalog_feed_key, expression=self.catalog_feed_schedule)

    @classmethod
    def from_context(cls, context: Callable[[str], Any]) -> DeploySettings:
        """Read and check every key (``context`` is ``app.node.try_get_context``); all problems at once."""
        problems: list[str] = []
        stack_name = _text(context("stack_name")) or DEFAULT_STACK_NAME
        try:
            ResourceNames(stack_name)
        except InvalidStackName as error:
            problems.append(f"stack_name: {error}")
        sender = _text(context("sender_email"))
        if sender is None:
            problems.append(
                "sender_email: missing. Pass -c sender_email=hello@yourshop.com (an address on a domain "
                "you verified in SES), or set it in cdk.json's context."
            )
        elif not _EMAIL.fullmatch(sender):
            problems.append(
                f"sender_email: {sender!r} is not an email address (-c sender_email=hello@yourshop.com)"
            )
        elif is_placeholder_domain(sender.rsplit("@", 1)[1]):
            problems.append(
                f"sender_email: {sender} is a placeholder (a reserved domain that never receives mail; SES "
                "would reject every message). Pass -c sender_email=hello@yourshop.com, on a domain you "
                "verified in SES."
            )
        issuer = _text(context("jwt_issuer"))
        if issuer is None:
            problems.append(
                "jwt_issuer: missing. Pass -c jwt_issuer=https://cognito-idp.REGION.amazonaws.com/POOL_ID "
                "(the issuer of your shoppers' JWTs; the inbox and erasure API accepts only its tokens)."
            )
        else:
            parts = urlsplit(issuer)
            if parts.scheme != "https" or not parts.hostname:
                problems.append(f"jwt_issuer: {issuer!r} is not an https URL (API Gateway requires one)")
            elif is_placeholder_domain(parts.hostname):
                problems.append(
                    f"jwt_issuer: {issuer} is a placeholder: every inbox call would be refused (401). "
                    "Pass -c jwt_issuer=https://cognito-idp.REGION.amazonaws.com/POOL_ID, your identity "
                    "provider's issuer."
                )
        audience = _text(context("jwt_audience"))
        if audience is None:
            problems.append(
                "jwt_audience: missing. Pass -c jwt_audience=YOUR_APP_CLIENT_ID (the audience your "
                "shoppers' JWTs are issued for)."
            )
        configuration_set = _text(context("ses_configuration_set"))
        if configuration_set is not None and not _CONFIGURATION_SET.fullmatch(configuration_set):
            problems.append(
                f"ses_configuration_set: {configuration_set!r} is not an SES configuration set name "
                "(letters, digits, _ and -, at most 64)"
            )
        feedback = _flag(context("ses_feedback"), "ses_feedback", problems)
        if configuration_set is not None and not feedback:
            problems.append("ses_configuration_set and ses_feedback=false: pass one or the other")
        partner_bus = _text(context("segment_partner_bus"))
        if partner_bus is not None and not (
            partner_bus.startswith(SEGMENT_PARTNER_PREFIX) and len(partner_bus) > len(SEGMENT_PARTNER_PREFIX)
        ):
            problems.append(
                f"segment_partner_bus: {partner_bus!r} is not a Segment partner event bus; its name starts "
                f"with {SEGMENT_PARTNER_PREFIX} (EventBridge console → Partner event sources)"
            )
        layer = _text(context("powertools_layer_arn"))
        if layer is not None and not _LAYER_ARN.fullmatch(layer):
            problems.append(f"powertools_layer_arn: {layer!r} is not a Lambda layer version ARN")
        nag = _flag(context("nag"), "nag", problems)
        feed_key = _text(context("catalog_feed_key"))
        if feed_key is not None and not _FEED_KEY.fullmatch(feed_key):
            problems.append(
                f"catalog_feed_key: {feed_key!r} is not an S3 object key for the feed (at most 1,024 "
                "characters, not starting with /; e.g. -c catalog_feed_key=catalog/products.csv)"
            )
        feed_schedule = _text(context("catalog_feed_schedule")) or CATALOG_FEED_SCHEDULE.expression
        try:
            ScheduleExpression.parse(feed_schedule)
        except ValueError as error:
            problems.append(
                f"catalog_feed_schedule: {error} (e.g. -c 'catalog_feed_schedule=cron(0 1 * * ? *)', UTC)"
            )
        snapstart_value = context("event_path_snapstart")
        event_path_snapstart = snapstart_value is not None and _flag(
            snapstart_value, "event_path_snapstart", problems
        )
        deployed_at = _instant(context("now"), problems)
        if problems:
            raise DeployContextError(problems)
        assert sender is not None and issuer is not None and audience is not None
        return cls(
            sender_email=sender,
            jwt_issuer=issuer,
            jwt_audience=audience,
            stack_name=stack_name,
            ses_configuration_set=configuration_set,
            ses_feedback=feedback,
            segment_partner_bus=partner_bus,
            powertools_layer_arn=layer,
            trusted_event_sources=_listed(context("trusted_event_sources")) or (APP_EVENT_SOURCE,),
            push_applications=_listed(context("push_applications")),
            nag=nag,
            catalog_feed_key=feed_key,
            catalog_feed_schedule=feed_schedule,
            event_path_snapstart=event_path_snapstart,
            deployed_at=deployed_at,
        )

    def check_region(self, region: str) -> None:
        """What the region must offer that the context does not replace (the layer is checked where it
        is resolved, in infra.function)."""
        if self.ses_feedback and self.ses_configuration_set is None and region in NO_SES_CONFIGURATION_SETS:
            raise DeployContextError(
                [
                    "ses_configuration_set: CloudFormation cannot create SES configuration sets in "
                    f"{region}. Pass -c ses_configuration_set=NAME (a set you created with the SES API, "
                    "whose event destination is the default bus), or -c ses_feedback=false (no "
                    "configuration set: bounces and complaints no longer suppress addresses and opens "
                    "and clicks are not measured; SES's account-level suppression list still applies)."
                ]
            )
