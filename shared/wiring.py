"""Builds the AWS adapters a function needs from its settings (the composition root for Lambdas).

Clients are created once per container and reused across invocations. The local runtime does not
use this module: it builds the same adapters on moto clients and passes them to the handlers.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from shared.adapters.channels import InboxChannel, SesEmailChannel, SnsPushChannel
from shared.adapters.dynamo import DynamoInbox, DynamoProfileStore, DynamoSendLog
from shared.adapters.sqs import SqsDeadLetters, SqsQueue
from shared.campaigns import Catalog
from shared.config import Settings
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
    return Catalog.load_bundled(settings().catalog_dir)


def profile_store() -> DynamoProfileStore:
    settings().require("profiles_table")
    return DynamoProfileStore(client("dynamodb"), str(settings().profiles_table))


def send_log() -> DynamoSendLog:
    settings().require("messages_table")
    return DynamoSendLog(client("dynamodb"), str(settings().messages_table))


def queue(url_setting: str) -> SqsQueue:
    settings().require(url_setting)
    return SqsQueue(client("sqs"), str(getattr(settings(), url_setting)))


def dead_letters() -> SqsDeadLetters:
    settings().require("dead_letter_queue_url")
    return SqsDeadLetters(client("sqs"), str(settings().dead_letter_queue_url))


def channels() -> dict[str, MessageChannel]:
    config = settings()
    config.require("sender_email", "inbox_table")
    return {
        "email": SesEmailChannel(client("sesv2"), str(config.sender_email), config.ses_configuration_set),
        "push": SnsPushChannel(client("sns")),
        "in_app": InboxChannel(DynamoInbox(client("dynamodb"), str(config.inbox_table))),
    }
