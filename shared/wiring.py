"""Builds the AWS adapters a function needs from its settings (the composition root for Lambdas).

Clients are created once per container and reused across invocations. Adapters are imported
where they are built, so each function loads only what it uses at cold start (ingest never loads
the renderer or the channels). The local runtime does not use this module: it builds the same
adapters on moto clients and passes them to the handlers.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from shared.config import Settings

if TYPE_CHECKING:
    from shared.adapters.dynamo import (
        DynamoConversions,
        DynamoInbox,
        DynamoLedgerStore,
        DynamoModelRegistry,
        DynamoProfileStore,
        DynamoSendLog,
    )
    from shared.adapters.privacy import DynamoUserData
    from shared.adapters.scheduler import SchedulerDeferrals, SchedulerPendingJobs
    from shared.adapters.sqs import SqsDeadLetterQueue, SqsDeadLetters, SqsQueue
    from shared.campaigns import Catalog
    from shared.erasure import Erasures, Pseudonyms
    from shared.links import LinkSigner
    from shared.ports import MessageChannel


@cache
def client(service: str) -> Any:
    import boto3

    return boto3.client(service)


@cache
def settings() -> Settings:
    return Settings.from_env()


@cache
def catalog() -> Catalog:
    from shared.campaigns import Catalog

    return Catalog.load_bundled(settings().catalog_dir)


def profile_store() -> DynamoProfileStore:
    from shared.adapters.dynamo import DynamoProfileStore

    settings().require("profiles_table")
    return DynamoProfileStore(client("dynamodb"), str(settings().profiles_table), settings().privacy_table)


def profile_count() -> int:
    """The profile table's approximate item count (DynamoDB refreshes it about every six hours)."""
    from shared.adapters.dynamo import item_count

    settings().require("profiles_table")
    return item_count(client("dynamodb"), str(settings().profiles_table))


def model_registry() -> DynamoModelRegistry:
    from shared.adapters.dynamo import DynamoModelRegistry

    settings().require("models_table")
    return DynamoModelRegistry(client("dynamodb"), str(settings().models_table))


def send_log() -> DynamoSendLog:
    from shared.adapters.dynamo import DynamoSendLog

    settings().require("messages_table")
    return DynamoSendLog(client("dynamodb"), str(settings().messages_table))


def conversions() -> DynamoConversions:
    from shared.adapters.dynamo import DynamoConversions

    settings().require("conversions_table")
    return DynamoConversions(client("dynamodb"), str(settings().conversions_table))


def queue(url_setting: str) -> SqsQueue:
    from shared.adapters.sqs import SqsQueue

    settings().require(url_setting)
    return SqsQueue(client("sqs"), str(getattr(settings(), url_setting)))


def dead_letters() -> SqsDeadLetters:
    from shared.adapters.sqs import SqsDeadLetters

    settings().require("dead_letter_queue_url")
    return SqsDeadLetters(client("sqs"), str(settings().dead_letter_queue_url))


def channels() -> dict[str, MessageChannel]:
    from shared.adapters.channels import InboxChannel, SesEmailChannel, SnsPushChannel
    from shared.adapters.dynamo import DynamoInbox

    config = settings()
    config.require("sender_email", "inbox_table")
    return {
        "email": SesEmailChannel(client("sesv2"), str(config.sender_email), config.ses_configuration_set),
        "push": SnsPushChannel(client("sns"), config.push_application_arns),
        "in_app": InboxChannel(DynamoInbox(client("dynamodb"), str(config.inbox_table))),
    }


def ledger_store() -> DynamoLedgerStore:
    from shared.adapters.dynamo import DynamoLedgerStore

    settings().require("ledger_table")
    return DynamoLedgerStore(client("dynamodb"), str(settings().ledger_table), settings().privacy_table)


def inbox() -> DynamoInbox:
    from shared.adapters.dynamo import DynamoInbox

    settings().require("inbox_table")
    return DynamoInbox(client("dynamodb"), str(settings().inbox_table))


def deferrals() -> SchedulerDeferrals:
    from shared.adapters.scheduler import SchedulerDeferrals

    config = settings()
    config.require("deferral_group", "deferral_queue_arn", "deferral_dlq_arn", "deferral_role_arn")
    return SchedulerDeferrals(
        client("scheduler"),
        group=str(config.deferral_group),
        queue_arn=str(config.deferral_queue_arn),
        dead_letter_arn=str(config.deferral_dlq_arn),
        role_arn=str(config.deferral_role_arn),
    )


def pending_jobs() -> SchedulerPendingJobs:
    from shared.adapters.scheduler import SchedulerPendingJobs

    settings().require("deferral_group")
    return SchedulerPendingJobs(client("scheduler"), str(settings().deferral_group))


@cache
def link_signer() -> LinkSigner:
    """The unsubscribe-link key, read from Secrets Manager on first use, once per container."""
    from shared.links import LinkSigner

    settings().require("signing_secret_arn")
    secret_arn = str(settings().signing_secret_arn)

    def key() -> bytes:
        return str(client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]).encode()

    return LinkSigner(key)


def user_data() -> DynamoUserData:
    from shared.adapters.privacy import DynamoUserData
    from shared.topology import SHOPPER_TABLES

    config = settings()
    names = {t.key: getattr(config, f"{t.key}_table") for t in SHOPPER_TABLES}
    config.require(*(f"{t.key}_table" for t in SHOPPER_TABLES))
    return DynamoUserData(client("dynamodb"), names)


@cache
def pseudonyms() -> Pseudonyms:
    """The erasure key, read from Secrets Manager on first use, once per container."""
    from shared.erasure import Pseudonyms

    settings().require("privacy_key_arn")
    secret_arn = str(settings().privacy_key_arn)

    def key() -> bytes:
        return str(client("secretsmanager").get_secret_value(SecretId=secret_arn)["SecretString"]).encode()

    return Pseudonyms(key)


def erasures() -> Erasures:
    from shared.adapters.privacy import DynamoKeptRecords
    from shared.erasure import Erasures

    settings().require("privacy_table")
    return Erasures(pseudonyms(), DynamoKeptRecords(client("dynamodb"), str(settings().privacy_table)))


def purged_dead_letter_queues() -> dict[str, SqsDeadLetterQueue]:
    from shared.adapters.sqs import SqsDeadLetterQueue

    return {key: SqsDeadLetterQueue(client("sqs"), url) for key, url in settings().purged_queue_urls.items()}
