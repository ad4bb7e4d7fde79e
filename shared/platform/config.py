"""Function configuration, validated once at cold start from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, Field

from shared.deployment.environment import deployment_environment, function_environment
from shared.deployment.topology import (
    AUDIENCE_QUEUE,
    BUS_ENV,
    CATALOG,
    CONVERSIONS,
    DELIVERY_QUEUE,
    FEED_BUCKET_ENV,
    FEED_KEY_ENV,
    FUNCTIONS_BY_KEY,
    INBOX,
    INTEREST,
    JOURNEYS,
    LEDGER,
    MESSAGES,
    MODELS,
    PRIVACY,
    PROFILES,
    PUSH_APPLICATIONS_ENV,
    SCORE_QUEUE,
    SHOPPER_DEAD_LETTER_QUEUES,
    TRUSTED_SOURCES_ENV,
    FunctionSpec,
    dead_letter_env_var,
)
from shared.events.sources import APP_EVENT_SOURCE

BUNDLE_ROOT = Path(__file__).resolve().parents[2]  # shared/platform/config.py -> the bundle root


class MissingConfiguration(RuntimeError):
    """A function started without a variable the topology says it needs."""


# Deployment values that may be set but empty (no configuration set, no trusted source, no push app).
MAY_BE_EMPTY = frozenset({"SES_CONFIGURATION_SET", TRUSTED_SOURCES_ENV, PUSH_APPLICATIONS_ENV, FEED_KEY_ENV})


def missing_for(spec: FunctionSpec, env: Mapping[str, str]) -> list[str]:
    """The variables ``spec``'s function needs (its resources and its deployment values) that ``env``
    lacks, or holds empty where a value is required."""
    wanted = set(function_environment(spec)) | set(
        deployment_environment(
            spec, sender_email="-", ses_configuration_set=None, trusted_event_sources=(), push_applications=()
        )
    )
    return sorted(v for v in wanted if v not in env or (not env[v] and v not in MAY_BE_EMPTY))


class Settings(BaseModel):
    """Everything a function reads from its environment; absent values are ``None``."""

    profiles_table: str | None = None
    messages_table: str | None = None
    inbox_table: str | None = None
    conversions_table: str | None = None
    journeys_table: str | None = None
    catalog_table: str | None = None
    interest_table: str | None = None
    event_bus_name: str | None = None  # where ingest announces the catalog's changes
    ledger_table: str | None = None
    privacy_table: str | None = None
    privacy_key_arn: str | None = None
    purged_queue_urls: dict[str, str] = Field(default_factory=dict)
    deferral_group: str | None = None
    deferral_queue_arn: str | None = None
    deferral_dlq_arn: str | None = None
    deferral_role_arn: str | None = None
    signing_secret_arn: str | None = None
    catalog_key_arn: str | None = None  # seals the catalog's announcements (shared/catalog/announcements.py)
    unsubscribe_url: str | None = None
    delivery_queue_url: str | None = None
    audience_queue_url: str | None = None
    models_table: str | None = None
    score_queue_url: str | None = None
    scoring_segments: int = Field(default=8, ge=1, le=1_000_000)
    dead_letter_queue_url: str | None = None
    sender_email: str | None = None
    ses_configuration_set: str | None = None
    audience_segments: int | None = Field(
        default=None, ge=1, le=1_000_000, description="A fixed segment count; unset: sized from the table."
    )
    audience_profiles_per_segment: int = Field(default=50_000, ge=100)
    audience_enqueue_threads: int = Field(default=8, ge=1, le=32)
    catalog_dir: Path = BUNDLE_ROOT / "campaigns"
    feed_bucket: str | None = None
    feed_key: str | None = None  # set but empty: no feed object configured
    trusted_event_sources: tuple[str, ...] = Field(
        default=(APP_EVENT_SOURCE,),
        description="EventBridge sources whose identify calls may set contact points (docs/security.md).",
    )
    push_application_arns: tuple[str, ...] = Field(
        default=(), description="This stack's SNS platform applications: push goes only to their endpoints."
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings in ``env``; for a Nudge function (``POWERTOOLS_SERVICE_NAME`` ``nudge-<key>``),
        every variable the topology gives that function must be there, or the cold start fails
        naming them all (:class:`MissingConfiguration`) instead of the first request that needs one."""
        env = os.environ if env is None else env
        function = env.get("POWERTOOLS_SERVICE_NAME", "").removeprefix("nudge-")
        if function in FUNCTIONS_BY_KEY:
            missing = missing_for(FUNCTIONS_BY_KEY[function], env)
            if missing:
                raise MissingConfiguration(
                    f"function {function}: missing environment {', '.join(missing)} "
                    "(the stack sets them from shared/deployment/topology.py)"
                )
        values: dict[str, object] = {
            "profiles_table": env.get(PROFILES.env_var),
            "messages_table": env.get(MESSAGES.env_var),
            "inbox_table": env.get(INBOX.env_var),
            "conversions_table": env.get(CONVERSIONS.env_var),
            "journeys_table": env.get(JOURNEYS.env_var),
            "catalog_table": env.get(CATALOG.env_var),
            "interest_table": env.get(INTEREST.env_var),
            "event_bus_name": env.get(BUS_ENV),
            "ledger_table": env.get(LEDGER.env_var),
            "privacy_table": env.get(PRIVACY.env_var),
            "privacy_key_arn": env.get("PRIVACY_KEY_ARN"),
            "purged_queue_urls": {
                key: env[dead_letter_env_var(key)]
                for key in SHOPPER_DEAD_LETTER_QUEUES
                if env.get(dead_letter_env_var(key))
            },
            "deferral_group": env.get("DEFERRAL_GROUP"),
            "deferral_queue_arn": env.get("DEFERRAL_QUEUE_ARN"),
            "deferral_dlq_arn": env.get("DEFERRAL_DLQ_ARN"),
            "deferral_role_arn": env.get("DEFERRAL_ROLE_ARN"),
            "signing_secret_arn": env.get("SIGNING_SECRET_ARN"),
            "catalog_key_arn": env.get("CATALOG_KEY_ARN"),
            "unsubscribe_url": env.get("UNSUBSCRIBE_URL"),
            "delivery_queue_url": env.get(DELIVERY_QUEUE.env_var),
            "audience_queue_url": env.get(AUDIENCE_QUEUE.env_var),
            "models_table": env.get(MODELS.env_var),
            "score_queue_url": env.get(SCORE_QUEUE.env_var),
            "dead_letter_queue_url": env.get("DEAD_LETTER_QUEUE_URL"),
            "sender_email": env.get("SENDER_EMAIL"),
            "ses_configuration_set": env.get("SES_CONFIGURATION_SET") or None,
            "feed_bucket": env.get(FEED_BUCKET_ENV),
            "feed_key": env.get(FEED_KEY_ENV),
        }
        for name in ("audience_segments", "audience_profiles_per_segment", "audience_enqueue_threads"):
            if env.get(name.upper()):
                values[name] = env[name.upper()]
        if env.get("SCORING_SEGMENTS"):
            values["scoring_segments"] = env["SCORING_SEGMENTS"]
        for name, variable in (
            ("trusted_event_sources", TRUSTED_SOURCES_ENV),
            ("push_application_arns", PUSH_APPLICATIONS_ENV),
        ):
            if env.get(variable) is not None:  # set but empty: none
                values[name] = tuple(p.strip() for p in env[variable].split(",") if p.strip())
        if env.get("CAMPAIGN_CATALOG_DIR"):
            values["catalog_dir"] = env["CAMPAIGN_CATALOG_DIR"]
        return cls.model_validate(values)

    def require(self, *names: str) -> None:
        missing = [n for n in names if getattr(self, n) in (None, "")]
        if missing:
            raise RuntimeError(f"missing configuration: {', '.join(missing)} (set by the CDK stack)")
