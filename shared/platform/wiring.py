"""The one wiring: builds every adapter a function's ports use, from settings, clients and a clock.

Lambda and the local runtime both build ports through it: each handler has ``build_ports(wiring)``
(which adapter goes to which port), and ``default_ports()`` calls it with :meth:`Wiring.for_lambda`
(the function's environment, boto3 clients, the system clock). The local runtime calls the same
``build_ports`` with a :class:`Wiring` over the same environment the stack gives the function
(``environment.function_environment``), moto clients and its simulated clock; it subclasses only to
observe (record sends, index one-time schedules), never to decide.

Clients are created once per wiring (once per container in Lambda), on their first use: a function
builds all its ports at its first request, most of which touch one or two services (a delivery by
email never creates the SNS, Scheduler or dead-letter SQS clients). Adapters are imported where
they are built, so each function loads only what it uses at cold start (ingest never loads the
renderer or the channels). With SnapStart (:func:`snapstart`) the ports and clients are built before
the snapshot, and a restored environment gets a new wiring (``shared/platform/snapshots.py``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from functools import cache
from typing import TYPE_CHECKING, Any, Protocol

from shared.core.clock import Clock, SystemClock
from shared.core.vocabulary import Channel
from shared.platform import snapshots
from shared.platform.config import Settings

if TYPE_CHECKING:
    from shared.adapters.dynamo.catalog import DynamoInterestIndex, DynamoProductCatalog
    from shared.adapters.dynamo.experiments import DynamoExperimentStore
    from shared.adapters.dynamo.journeys import DynamoJourneyStore
    from shared.adapters.dynamo.ledger import DynamoLedgerStore
    from shared.adapters.dynamo.messages import DynamoConversions, DynamoInbox, DynamoSendLog
    from shared.adapters.dynamo.models import DynamoModelRegistry
    from shared.adapters.dynamo.profiles import DynamoProfileStore
    from shared.adapters.feed_objects import S3FeedObjects
    from shared.adapters.privacy import DynamoUserData
    from shared.adapters.scheduler import SchedulerDeferrals, SchedulerPendingJobs
    from shared.adapters.sqs import SqsDeadLetterQueue, SqsDeadLetters, SqsQueue
    from shared.campaigns.loader import Catalog
    from shared.catalog.announcements import Announcements
    from shared.core.keys import HmacKey
    from shared.delivery.links import LinkSigner
    from shared.delivery.ports import MessageChannel
    from shared.journeys.engine import JourneyEngine
    from shared.journeys.segments import SegmentEntries
    from shared.privacy.erasure import Erasures, Pseudonyms


def _once(method: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """A method whose result is built on first use and kept for the wiring's life (a container's)."""
    name = f"_once_{method.__name__}"

    def kept(self: Any) -> Any:
        if name not in self.__dict__:
            self.__dict__[name] = method(self)
        return self.__dict__[name]

    kept.__name__, kept.__doc__ = method.__name__, method.__doc__
    return kept


class OnFirstUse:
    """A client created by ``make`` when an attribute is first asked of it, then that client's."""

    __slots__ = ("_client", "_lock", "_make")

    def __init__(self, make: Callable[[], Any]) -> None:
        self._make = make
        self._client: Any = None
        self._lock = threading.Lock()  # boto3 creates clients unsafely across threads

    def created(self) -> Any:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._make()
        return self._client

    def __getattr__(self, name: str) -> Any:
        return getattr(self.created(), name)


class Wiring:
    """Adapters over ``client(service)`` (boto3 clients), configured by ``settings``."""

    def __init__(
        self,
        settings: Settings,
        client: Callable[[str], Any],
        clock: Clock,
        catalog: Catalog | None = None,
    ) -> None:
        self.settings = settings
        self._client = client
        self._clients: dict[str, Any] = {}
        self.clock = clock
        self._catalog = catalog

    @classmethod
    def for_lambda(cls) -> Wiring:
        """A function's wiring in Lambda: its environment, boto3's default clients, the system clock."""
        return _lambda_wiring()

    def client(self, service: str) -> Any:
        """The ``service`` client, created on its first use."""
        if service not in self._clients:
            self._clients[service] = OnFirstUse(lambda: self._client(service))
        return self._clients[service]

    def create_clients(self) -> None:
        """Create every client the ports built so far hold (before a SnapStart snapshot)."""
        for client in list(self._clients.values()):
            client.created()

    @_once
    def catalog(self) -> Catalog:
        if self._catalog is not None:
            return self._catalog
        from shared.campaigns.bundle import load_bundle

        return load_bundle(self.settings.catalog_dir)

    def profile_store(self) -> DynamoProfileStore:
        from shared.adapters.dynamo.profiles import DynamoProfileStore

        self.settings.require("profiles_table")
        return DynamoProfileStore(
            self.client("dynamodb"), str(self.settings.profiles_table), self.settings.privacy_table
        )

    def profile_count(self) -> int:
        """The profile table's approximate item count (DynamoDB refreshes it about every six hours)."""
        from shared.adapters.dynamo.codec import item_count

        self.settings.require("profiles_table")
        return item_count(self.client("dynamodb"), str(self.settings.profiles_table))

    def model_registry(self) -> DynamoModelRegistry:
        from shared.adapters.dynamo.models import DynamoModelRegistry

        self.settings.require("models_table")
        return DynamoModelRegistry(
            self.client("dynamodb"), str(self.settings.models_table), now=lambda: self.clock.now().timestamp()
        )

    def experiment_store(self) -> DynamoExperimentStore:
        from shared.adapters.dynamo.experiments import DynamoExperimentStore

        self.settings.require("models_table")
        return DynamoExperimentStore(self.client("dynamodb"), str(self.settings.models_table))

    def send_log(self) -> DynamoSendLog:
        from shared.adapters.dynamo.messages import DynamoSendLog

        self.settings.require("messages_table")
        return DynamoSendLog(self.client("dynamodb"), str(self.settings.messages_table))

    def conversions(self) -> DynamoConversions:
        from shared.adapters.dynamo.messages import DynamoConversions

        self.settings.require("conversions_table")
        return DynamoConversions(self.client("dynamodb"), str(self.settings.conversions_table))

    def journey_store(self) -> DynamoJourneyStore:
        from shared.adapters.dynamo.journeys import DynamoJourneyStore

        self.settings.require("journeys_table")
        return DynamoJourneyStore(self.client("dynamodb"), str(self.settings.journeys_table))

    def product_catalog(self) -> DynamoProductCatalog:
        """The catalog; where the function has them (ingest), the interest index written with it — only
        while an enabled campaign has a catalog trigger, the index's one reader — and the announcements
        of the changes the live catalog campaigns want."""
        from shared.adapters.dynamo.catalog import DynamoProductCatalog
        from shared.triggers.catalog_triggers import catalog_campaigns

        self.settings.require("catalog_table")
        read = bool(catalog_campaigns(self.catalog()))
        return DynamoProductCatalog(
            self.client("dynamodb"),
            str(self.settings.catalog_table),
            self.settings.interest_table if read else None,
            self.catalog_announcements(),
        )

    def catalog_announcements(self) -> Announcements | None:
        """What the live catalog campaigns want announced (None: no bus here, or no such campaign)."""
        from shared.adapters.eventbus import internal_publisher
        from shared.triggers.catalog_triggers import announcements_for

        if self.settings.event_bus_name is None:
            return None
        publish = internal_publisher(self.client("events"), self.settings.event_bus_name)
        return announcements_for(self.catalog(), publish, self.catalog_key())

    def interest_index(self) -> DynamoInterestIndex:
        from shared.adapters.dynamo.catalog import DynamoInterestIndex

        self.settings.require("interest_table")
        return DynamoInterestIndex(self.client("dynamodb"), str(self.settings.interest_table))

    def feed_objects(self) -> S3FeedObjects:
        from shared.adapters.feed_objects import S3FeedObjects

        return S3FeedObjects(self.client("s3"))

    def journey_engine(self) -> JourneyEngine:
        """The journey engine, for the functions that enter, wake or end instances."""
        from shared.journeys.engine import JourneyEngine

        return JourneyEngine(
            self.catalog(),
            self.journey_store(),
            self.profile_store(),
            self.queue("delivery_queue_url"),
            self.clock,
            self.deferrals(),
        )

    def segment_entries(self) -> SegmentEntries | None:
        """The segment journeys a profile writer (ingest, the scorer) enters shoppers into; None when the
        catalog has none (then the writer needs no journey table, queue or scheduler)."""
        from shared.journeys.segments import SegmentEntries, segment_journeys

        journeys = segment_journeys(self.catalog())
        return SegmentEntries(self.journey_engine(), journeys) if journeys else None

    def queue(self, url_setting: str) -> SqsQueue:
        from shared.adapters.sqs import SqsQueue

        self.settings.require(url_setting)
        return SqsQueue(self.client("sqs"), str(getattr(self.settings, url_setting)))

    def dead_letters(self) -> SqsDeadLetters:
        from shared.adapters.sqs import SqsDeadLetters

        self.settings.require("dead_letter_queue_url")
        return SqsDeadLetters(self.client("sqs"), str(self.settings.dead_letter_queue_url))

    def channels(self) -> dict[str, MessageChannel]:
        from shared.adapters.channels import InboxChannel, SesEmailChannel, SnsPushChannel
        from shared.adapters.dynamo.messages import DynamoInbox

        config = self.settings
        config.require("sender_email", "inbox_table")
        return {
            Channel.EMAIL: SesEmailChannel(
                self.client("sesv2"), str(config.sender_email), config.ses_configuration_set
            ),
            Channel.PUSH: SnsPushChannel(self.client("sns"), config.push_application_arns),
            Channel.IN_APP: InboxChannel(DynamoInbox(self.client("dynamodb"), str(config.inbox_table))),
        }

    def ledger_store(self) -> DynamoLedgerStore:
        from shared.adapters.dynamo.ledger import DynamoLedgerStore

        self.settings.require("ledger_table")
        return DynamoLedgerStore(
            self.client("dynamodb"),
            str(self.settings.ledger_table),
            self.settings.privacy_table,
            self.settings.messages_table,
        )

    def inbox(self) -> DynamoInbox:
        from shared.adapters.dynamo.messages import DynamoInbox

        self.settings.require("inbox_table")
        return DynamoInbox(self.client("dynamodb"), str(self.settings.inbox_table))

    def deferrals(self) -> SchedulerDeferrals:
        from shared.adapters.scheduler import SchedulerDeferrals

        config = self.settings
        config.require("deferral_group", "deferral_queue_arn", "deferral_dlq_arn", "deferral_role_arn")
        return SchedulerDeferrals(
            self.client("scheduler"),
            group=str(config.deferral_group),
            queue_arn=str(config.deferral_queue_arn),
            dead_letter_arn=str(config.deferral_dlq_arn),
            role_arn=str(config.deferral_role_arn),
        )

    def pending_jobs(self) -> SchedulerPendingJobs:
        from shared.adapters.scheduler import SchedulerPendingJobs

        self.settings.require("deferral_group")
        return SchedulerPendingJobs(self.client("scheduler"), str(self.settings.deferral_group))

    def _secret(self, setting: str) -> Callable[[], bytes]:
        """What reads the HMAC key held in the Secrets Manager secret the setting names (on first use)."""
        self.settings.require(setting)
        secret_arn = str(getattr(self.settings, setting))
        secrets = self.client("secretsmanager")  # created with the key's first read (or a snapshot)

        def key() -> bytes:
            return str(secrets.get_secret_value(SecretId=secret_arn)["SecretString"]).encode()

        return key

    @_once
    def signing_key(self) -> HmacKey:
        """The unsubscribe links' key, read from Secrets Manager on first use, once per container."""
        from shared.core.keys import HmacKey

        return HmacKey(self._secret("signing_secret_arn"))

    @_once
    def catalog_key(self) -> HmacKey:
        """The key that seals the catalog's announcements (shared/catalog/announcements.py), read from
        Secrets Manager on first use, once per container."""
        from shared.core.keys import HmacKey

        return HmacKey(self._secret("catalog_key_arn"))

    def link_signer(self) -> LinkSigner:
        """Unsubscribe links, signed with :meth:`signing_key`."""
        from shared.delivery.links import LinkSigner

        return LinkSigner(self.signing_key())

    def user_data(self) -> DynamoUserData:
        from shared.adapters.privacy import DynamoUserData
        from shared.deployment.topology import SHOPPER_TABLES

        config = self.settings
        names = {t.key: getattr(config, f"{t.key}_table") for t in SHOPPER_TABLES}
        config.require(*(f"{t.key}_table" for t in SHOPPER_TABLES))
        return DynamoUserData(self.client("dynamodb"), names)

    @_once
    def pseudonyms(self) -> Pseudonyms:
        """The erasure key, read from Secrets Manager on first use, once per container."""
        from shared.privacy.erasure import Pseudonyms

        return Pseudonyms(self._secret("privacy_key_arn"))

    def erasures(self) -> Erasures:
        from shared.adapters.privacy import DynamoKeptRecords
        from shared.privacy.erasure import Erasures

        self.settings.require("privacy_table")
        return Erasures(
            self.pseudonyms(), DynamoKeptRecords(self.client("dynamodb"), str(self.settings.privacy_table))
        )

    def purged_dead_letter_queues(self) -> dict[str, SqsDeadLetterQueue]:
        from shared.adapters.sqs import SqsDeadLetterQueue

        return {
            key: SqsDeadLetterQueue(self.client("sqs"), url)
            for key, url in self.settings.purged_queue_urls.items()
        }


def _boto3_client(service: str) -> Any:
    import boto3

    return boto3.client(service)


@cache
def _lambda_wiring() -> Wiring:
    return Wiring(Settings.from_env(), _boto3_client, SystemClock())


class PortsFactory(Protocol):
    """A handler's ``default_ports``: its ports over the Lambda wiring, built once (``functools.cache``)."""

    def __call__(self) -> Any: ...

    def cache_clear(self) -> None: ...


@snapshots.after_restore
def _renew_lambda_wiring() -> None:
    """A restored environment creates its own clients and reads the secrets again, on first use."""
    _lambda_wiring.cache_clear()


def snapstart(default_ports: PortsFactory) -> None:
    """For a function deployed with SnapStart: build ``default_ports`` and their clients before the
    snapshot (imports, boto3, the services' models and the catalog are then in it), and build them
    again after a restore, over the renewed wiring."""

    def prepare() -> None:
        default_ports()
        _lambda_wiring().create_clients()

    snapshots.before_snapshot(prepare)
    snapshots.after_restore(default_ports.cache_clear)
