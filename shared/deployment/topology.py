"""The one definition of Nudge's resources, read by both the CDK stack and the local runtime.

Table keys, queues and their consumers, event-bus rules and schedules live here and nowhere else:
``infra/`` turns them into CloudFormation, ``nudge/local`` turns them into moto resources and
routing, and ``tests/infra`` holds the synthesized template against these values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

DEFAULT_BUS = "default"  # the account's bus, where AWS services such as SES publish
TRUSTED_SOURCES_ENV = "TRUSTED_EVENT_SOURCES"
# This stack's SNS platform applications (context ``push_applications``): push goes only to their endpoints.
PUSH_APPLICATIONS_ENV = "PUSH_APPLICATION_ARNS"
BUS_ENV = "EVENT_BUS_NAME"  # where a function that announces puts its internal events


def push_endpoints_of(application_arn: str) -> str:
    """The ARN prefix of an SNS platform application's endpoints (``:app/GCM/x`` → ``:endpoint/GCM/x/``)."""
    return application_arn.replace(":app/", ":endpoint/", 1) + "/"


# The DynamoDB actions a function's code calls on a table: its role is granted exactly these, no kind
# wider than use. tests/security/test_grants.py runs the handlers through a week of a shop on moto,
# records every DynamoDB request per function and table, and holds these sets to what was called.
DynamoAction = Literal[
    "GetItem", "BatchGetItem", "Query", "Scan", "PutItem", "UpdateItem", "BatchWriteItem", "DescribeTable"
]
Access = frozenset[DynamoAction]


def access(*actions: DynamoAction) -> Access:
    return frozenset(actions)


@dataclass(frozen=True)
class IndexSpec:  # a global secondary index, keys only: a text partition key, a number sort key
    name: str
    partition_key: str
    sort_key: str


@dataclass(frozen=True)
class TableSpec:
    key: str
    partition_key: str
    sort_key: str | None = None
    ttl_attribute: str | None = None
    indexes: tuple[IndexSpec, ...] = ()

    @property
    def env_var(self) -> str:
        return f"{self.key.upper()}_TABLE"


PROFILES = TableSpec("profiles", partition_key="user_id")
MESSAGES = TableSpec("messages", partition_key="user_id", sort_key="send_key")
INBOX = TableSpec("inbox", partition_key="user_id", sort_key="message_key", ttl_attribute="expires_at")
# The contact ledger: per shopper, what was sent in the last 7 days (the frequency caps are decided
# and recorded on it in one conditional write) and the channels they unsubscribed from or bounced on.
LEDGER = TableSpec("ledger", partition_key="user_id")
# Trained model artefacts (name "scoring-model", one item per version) and each scoring run's census
# (name "census#<run>" / "run#<run>", expiring after a week). No personal data: sketches are counts.
# Each experiment's state and counts: name "experiment#<campaign:step>", version "state" (kept).
MODELS = TableSpec("models", partition_key="name", sort_key="version", ttl_attribute="expires_at")
# Label-free fits (shared/predictions/label_free.py) the scoring run makes when no trained model fits
# the shop: name "label-free-model", versions "label-free-<run>-<hash>", expiring after 30 days.
LABEL_FREE_MODEL_NAME = "label-free-model"
LABEL_FREE_VERSION_PREFIX = "label-free-"
# Goal events counted for campaigns (shared/measurement/attribution.py): one item per (goal event, campaign),
# keyed "<goal event messageId>#<campaign id>" so a redelivered order is counted once.
CONVERSIONS = TableSpec(
    "conversions", partition_key="user_id", sort_key="conversion_key", ttl_attribute="expires_at"
)
# What erasure keeps (shared/privacy/erasure.py): per erased id, a keyed hash and the erasure time; per kept
# suppression, the hashed id or address and the suppressed channels. No user id, no address.
PRIVACY = TableSpec("privacy", partition_key="key")
# Journey instances (shared/journeys): per shopper and journey, the last instance, its step sequence number
# (every transition is one put conditioned on it), its path and the effects of its last transition.
JOURNEYS = TableSpec("journeys", partition_key="user_id", sort_key="journey")
# The product catalog (shared/catalog): one item per product (its price, stock, image, url now), kept
# current by ingest from the events that carry products and by the feed. No personal data.
CATALOG = TableSpec("catalog", partition_key="product_id")
# The bucket the catalog feed is put in (docs/catalog.md): encrypted, private, TLS only, versioned;
# the catalog_feed function reads the one object the deployment names (context catalog_feed_key).
FEED_BUCKET = "feed"
FEED_BUCKET_ENV = "FEED_BUCKET"
FEED_KEY_ENV = "FEED_KEY"
# Who is interested in a product (shared/catalog/interest.py): per shopper and product viewed or carted, the
# latest interest's time, expiring at the end of the longest window; read by product, newest first.
INTEREST_BY_PRODUCT = IndexSpec("by-product", partition_key="product_id", sort_key="interested_at")
INTEREST = TableSpec(
    "interest", "user_id", "product_id", ttl_attribute="expires_at", indexes=(INTEREST_BY_PRODUCT,)
)
TABLES = (PROFILES, MESSAGES, INBOX, LEDGER, MODELS, CONVERSIONS, PRIVACY, JOURNEYS, CATALOG, INTEREST)
# The tables that hold a shopper's data (keyed by user_id): what erasure deletes.
SHOPPER_TABLES = tuple(t for t in TABLES if t.partition_key == "user_id")
# One-time EventBridge Scheduler schedules (quiet-hours deferrals, trigger delays) live in the stack's
# schedule group (ResourceNames.deferral_group); each puts its job on a work queue once and deletes itself.
DEFERRAL_FLEX_WINDOW_MIN = 15


@dataclass(frozen=True)
class QueueSpec:
    """An SQS work queue, its dead-letter queue and the function that drains it."""

    key: str
    consumer: str
    batch_size: int
    max_batching_window_s: int
    visibility_timeout_s: int
    max_receive_count: int
    retention_days: int = 4

    @property
    def env_var(self) -> str:
        return f"{self.key.upper()}_QUEUE_URL"

    @property
    def dlq_key(self) -> str:
        return f"{self.key}-dlq"

    @property
    def dlq_env_var(self) -> str:
        return f"{self.key.upper()}_DLQ_URL"


@dataclass(frozen=True)
class FunctionSpec:
    """A Lambda function: what it runs and exactly which resources it touches."""

    key: str
    handler: str
    description: str
    memory_mb: int = 512
    timeout_s: int = 30
    tables: Mapping[str, Access] = field(default_factory=dict)
    sends_to: tuple[str, ...] = ()
    parks_in: str | None = None
    on_failure: str | None = None
    sends_email: bool = False
    sends_push: bool = False
    defers_to: str | None = None  # work queue that its one-time schedules (deferrals, delays) feed
    signs_links: bool = False  # reads the HMAC key for unsubscribe links
    seals: bool = False  # reads the catalog key: seals catalog announcements, or checks their seals
    cancels_deferrals: bool = False  # deletes a shopper's pending one-time schedules (erasure)
    pseudonymizes: bool = False  # reads the HMAC key of erasure markers and kept suppressions
    purges: tuple[str, ...] = ()  # dead-letter queues it removes a shopper's messages from (erasure)
    reads_feed: bool = False  # reads the catalog feed object (FEED_BUCKET, the deployment's key)
    announces: bool = False  # puts the catalog's internal events on the bus (INTERNAL_EVENT_SOURCE)


INGEST_QUEUE = QueueSpec(
    "ingest",
    consumer="ingest",
    batch_size=100,
    max_batching_window_s=2,
    visibility_timeout_s=180,
    max_receive_count=5,
)
AUDIENCE_QUEUE = QueueSpec(
    "audience",
    consumer="audience",
    batch_size=1,
    max_batching_window_s=0,
    visibility_timeout_s=1800,
    max_receive_count=3,
)
DELIVERY_QUEUE = QueueSpec(
    "delivery",
    consumer="deliver",
    batch_size=10,
    max_batching_window_s=1,
    visibility_timeout_s=180,
    max_receive_count=5,
)
SCORE_QUEUE = QueueSpec(
    "score",
    consumer="scorer",
    batch_size=1,
    max_batching_window_s=0,
    visibility_timeout_s=5400,
    max_receive_count=3,
)
QUEUES = (INGEST_QUEUE, AUDIENCE_QUEUE, DELIVERY_QUEUE, SCORE_QUEUE)

# Asynchronously invoked functions (EventBridge → trigger, Scheduler → planner) park what they cannot
# process here: the function itself for bad input (with the reason), Lambda's on-failure destination
# for invocations that kept failing (with the error in the record).
TRIGGER_DLQ_KEY = "trigger-dlq"
PLANNER_DLQ_KEY = "planner-dlq"
FEEDBACK_DLQ_KEY = "feedback-dlq"
ASYNC_DLQS = (TRIGGER_DLQ_KEY, PLANNER_DLQ_KEY, FEEDBACK_DLQ_KEY)
DLQ_RETENTION_DAYS = 14
# Every dead-letter queue, and the work queue a redrive returns its messages to (None: the DLQ of an
# asynchronously invoked function, whose messages are events or invocation records, not queue work).
DEAD_LETTER_SOURCES: Mapping[str, str | None] = {
    **{q.dlq_key: q.key for q in QUEUES},
    **dict.fromkeys(ASYNC_DLQS),
}
DEAD_LETTER_QUEUES = tuple(DEAD_LETTER_SOURCES)


def queue_output(key: str) -> str:
    """The stack output that holds a queue's URL, e.g. ``QueueDeliveryDlq`` for ``delivery-dlq``."""
    return "Queue" + "".join(part.title() for part in key.split("-"))


def table_output(key: str) -> str:
    """The stack output that holds a table's name, e.g. ``TableMessages`` for ``messages``."""
    return f"Table{key.title()}"


# The other stack outputs the operations commands read (``nudge erase --stack``).
PRIVACY_KEY_OUTPUT = "PrivacyKeyArn"
CATALOG_KEY_OUTPUT = "CatalogKeyArn"  # `nudge catalog load` seals its announcements with it
DEFERRAL_GROUP_OUTPUT = "DeferralGroup"
BUS_OUTPUT = "BusName"
FEED_BUCKET_OUTPUT = "FeedBucket"


ASYNC_RETRY_ATTEMPTS = 2
# The dead-letter queues whose messages can carry a shopper's data (events, delivery jobs, SES events);
# the others hold campaign segments and schedule payloads. Erasure purges these.
SHOPPER_DEAD_LETTER_QUEUES = (INGEST_QUEUE.dlq_key, DELIVERY_QUEUE.dlq_key, TRIGGER_DLQ_KEY, FEEDBACK_DLQ_KEY)


def dead_letter_env_var(key: str) -> str:
    """``INGEST_DLQ_URL`` for ``ingest-dlq``: where a purging function finds a dead-letter queue."""
    return key.upper().replace("-", "_") + "_URL"


FUNCTIONS = (
    FunctionSpec(
        "ingest",
        "functions.ingest.handler.handler",
        "Validates events, folds them into shopper profiles and attributes goal events (orders).",
        # profiles: read and write a batch's shoppers, and read one again when another invocation
        # wrote it first (a conditional put lost to a concurrent batch); messages: the decisions a goal
        # event is attributed to; conversions: each counted once (a conditional put); privacy: the
        # erasure markers with the profiles, and one again if the shopper was erased meanwhile;
        # catalog: the batch's products read together, the changed ones written together;
        # journeys: a segment journey's entry, for a shopper whose profile starts matching its segment
        tables={
            PROFILES.key: access("BatchGetItem", "PutItem", "GetItem"),
            MESSAGES.key: access("Query"),
            CONVERSIONS.key: access("PutItem"),
            PRIVACY.key: access("BatchGetItem", "GetItem"),
            MODELS.key: access("UpdateItem"),  # a conversion credited to a variant: its experiment's count
            CATALOG.key: access("BatchGetItem", "BatchWriteItem"),
            INTEREST.key: access("BatchWriteItem"),  # in the catalog's BatchWriteItem requests
            JOURNEYS.key: access("GetItem", "PutItem"),
        },
        sends_to=(DELIVERY_QUEUE.key,),  # a segment journey's first send step
        announces=True,  # price drops and restocks (shared/catalog/announcements.py)
        seals=True,  # ... sealed with the catalog key
        defers_to=DELIVERY_QUEUE.key,  # ... or its first wait
        parks_in=INGEST_QUEUE.dlq_key,
        pseudonymizes=True,
    ),
    FunctionSpec(
        "trigger",
        "functions.trigger.handler.handler",
        "Turns a real-time (L4) behavioural event into a delivery job, now or after its delay.",
        memory_mb=256,
        # journeys: the instance an entry or an awaited event moves (one read, one conditional put);
        # interest: a catalog campaign's fan-out reads the product's interested shoppers (one Query)
        tables={PROFILES.key: access("GetItem"), JOURNEYS.key: access("GetItem", "PutItem")}
        | {INTEREST.key: access("Query")},
        sends_to=(DELIVERY_QUEUE.key,),
        parks_in=TRIGGER_DLQ_KEY,
        on_failure=TRIGGER_DLQ_KEY,
        defers_to=DELIVERY_QUEUE.key,
        seals=True,  # checks a catalog announcement's seal before its fan-out
    ),
    FunctionSpec(
        "planner",
        "functions.planner.handler.handler",
        "Splits a scheduled campaign occurrence into parallel-scan segments.",
        memory_mb=256,
        tables={PROFILES.key: access("DescribeTable")},  # the item count sizes the segments
        sends_to=(AUDIENCE_QUEUE.key,),
        on_failure=PLANNER_DLQ_KEY,
    ),
    FunctionSpec(
        "audience",
        "functions.audience.handler.handler",
        "Scans one profile segment, evaluates the audience and enqueues delivery jobs.",
        memory_mb=1769,  # one full vCPU: decoding profiles is CPU-bound (docs/batch-scale.md)
        timeout_s=300,
        # journeys: a batch journey's entries (one read, one conditional put per chosen shopper)
        tables={PROFILES.key: access("Scan"), JOURNEYS.key: access("GetItem", "PutItem")},
        sends_to=(DELIVERY_QUEUE.key, AUDIENCE_QUEUE.key),
        parks_in=AUDIENCE_QUEUE.dlq_key,
        defers_to=DELIVERY_QUEUE.key,  # a batch journey's first wait
    ),
    FunctionSpec(
        "deliver",
        "functions.deliver.handler.handler",
        "Guards (caps, quiet hours, consent, holdout), renders and sends one message exactly once.",
        tables={
            # a batch's profiles in one read, then its ledgers with their kept records and send-log
            # entries in another; one by one if that read fails
            PROFILES.key: access("BatchGetItem", "GetItem"),
            # decisions (a conditional put each), then the batch's outcomes in one write
            MESSAGES.key: access("BatchGetItem", "GetItem", "PutItem", "BatchWriteItem"),
            INBOX.key: access("PutItem"),
            # the claim: the send's record, caps decided, in one conditional update
            LEDGER.key: access("BatchGetItem", "GetItem", "UpdateItem"),
            PRIVACY.key: access("GetItem", "BatchGetItem"),
            # a journey's wake-up (it rides the delivery queue): the instance it moves
            JOURNEYS.key: access("GetItem", "PutItem"),
            # experiments: the live weights (read per container every few minutes); a batch's sends
            MODELS.key: access("BatchGetItem", "UpdateItem"),
            # the products a message shows (its cart's, its event's, product("id")): one read
            CATALOG.key: access("BatchGetItem"),
        },
        sends_to=(DELIVERY_QUEUE.key,),  # a woken journey's send steps
        parks_in=DELIVERY_QUEUE.dlq_key,
        sends_email=True,
        sends_push=True,
        defers_to=DELIVERY_QUEUE.key,
        signs_links=True,
        pseudonymizes=True,
    ),
    FunctionSpec(
        "feedback",
        "functions.feedback.handler.handler",
        "Suppresses bounced or complaining addresses; folds deliveries, opens and clicks into the send log.",
        memory_mb=256,
        tables={
            # suppressions; the claim of a send whose outcome an SES event reconciles
            LEDGER.key: access("UpdateItem", "GetItem"),
            MESSAGES.key: access("Query", "UpdateItem"),
            PRIVACY.key: access("GetItem", "UpdateItem"),
        },
        parks_in=FEEDBACK_DLQ_KEY,
        on_failure=FEEDBACK_DLQ_KEY,
        pseudonymizes=True,
    ),
    FunctionSpec(
        "preferences",
        "functions.preferences.handler.handler",
        "Serves signed one-click unsubscribe links (RFC 8058).",
        memory_mb=256,
        tables={LEDGER.key: access("UpdateItem"), PRIVACY.key: access("GetItem", "UpdateItem")},
        signs_links=True,
        pseudonymizes=True,
    ),
    FunctionSpec(
        "inbox",
        "functions.inbox.handler.handler",
        "The in-app inbox API: a signed-in shopper's unread messages; mark read or dismissed.",
        memory_mb=256,
        tables={INBOX.key: access("Query", "UpdateItem"), MESSAGES.key: access("Query", "UpdateItem")},
    ),
    FunctionSpec(
        "privacy",
        "functions.privacy.handler.handler",
        "Erases a signed-in shopper's data (GDPR right to erasure).",
        memory_mb=256,
        # finds the shopper's items (by key, or a query where the table has a sort key), then
        # deletes them in batches
        tables={t.key: access("Query" if t.sort_key else "GetItem", "BatchWriteItem") for t in SHOPPER_TABLES}
        | {PRIVACY.key: access("UpdateItem")},
        cancels_deferrals=True,
        pseudonymizes=True,
        purges=SHOPPER_DEAD_LETTER_QUEUES,
    ),
    FunctionSpec(
        "score_planner",
        "functions.score_planner.handler.handler",
        "Starts a scoring run: one census task per profile scan segment; reviews the experiments.",
        memory_mb=256,
        # the latest model; every experiment's item read, each changed state written once per run
        tables={MODELS.key: access("Query", "BatchGetItem", "UpdateItem")},
        sends_to=(SCORE_QUEUE.key,),
        on_failure=PLANNER_DLQ_KEY,
    ),
    FunctionSpec(
        "scorer",
        "functions.scorer.handler.handler",
        "Census, then scores (RFM, propensity, churn, best hour, categories) for one profile segment.",
        memory_mb=1024,
        timeout_s=900,
        tables={
            PROFILES.key: access("Scan", "UpdateItem"),
            MODELS.key: access("GetItem", "Query", "PutItem", "UpdateItem"),
            # a segment journey's entry, for a shopper whose new scores start matching its segment
            JOURNEYS.key: access("GetItem", "PutItem"),
        },
        sends_to=(SCORE_QUEUE.key, DELIVERY_QUEUE.key),
        defers_to=DELIVERY_QUEUE.key,
        parks_in=SCORE_QUEUE.dlq_key,
    ),
    FunctionSpec(
        "catalog_feed",
        "functions.catalog_feed.handler.handler",
        "Loads the catalog feed object from the feed bucket (daily, and when it is replaced).",
        timeout_s=900,
        # the feed's products read 100 at a time, the changed ones written 25 at a time
        tables={CATALOG.key: access("BatchGetItem", "BatchWriteItem")},
        on_failure=PLANNER_DLQ_KEY,
        reads_feed=True,
        announces=True,  # the feed's price drops and restocks (shared/catalog/announcements.py)
        seals=True,  # ... sealed with the catalog key
    ),
)
FUNCTIONS_BY_KEY = {f.key: f for f in FUNCTIONS}
QUEUES_BY_KEY = {q.key: q for q in QUEUES}


@dataclass(frozen=True)
class RouteSpec:
    """A route of the HTTP API; ``authorized`` routes need the shopper's JWT (user id = its subject)."""

    method: str
    path: str
    function: str
    authorized: bool


HTTP_ROUTES = (
    RouteSpec("GET", "/inbox", "inbox", authorized=True),
    RouteSpec("POST", "/inbox/{message_key}/read", "inbox", authorized=True),
    RouteSpec("POST", "/inbox/{message_key}/dismiss", "inbox", authorized=True),
    RouteSpec("DELETE", "/me", "privacy", authorized=True),
    # Signed links in emails: the HMAC token is the authorization (nobody can unsubscribe someone else).
    RouteSpec("GET", "/unsubscribe", "preferences", authorized=False),
    RouteSpec("POST", "/unsubscribe", "preferences", authorized=False),
)
UNSUBSCRIBE_PATH = "/unsubscribe"
# A shopper waits on these: they run with SnapStart (infra/function.py), their handlers prepare and
# renew their ports around the snapshot (shared.platform.wiring.snapstart).
SNAPSTART_FUNCTIONS = frozenset(route.function for route in HTTP_ROUTES)
# The event path: SnapStart for it is a deployment's choice (-c event_path_snapstart=true, infra/settings.py;
# its price: docs/performance.md); its handlers prepare and renew their ports as the HTTP functions do.
EVENT_PATH_SNAPSTART_FUNCTIONS = frozenset({"ingest", "trigger", "deliver"})


TABLES_BY_KEY = {t.key: t for t in TABLES}
