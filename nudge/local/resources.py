"""The moto resources the local runtime creates from the topology, as the stack creates them on AWS:
tables, queues with their redrive, the bus and its rules, schedule group, feed bucket, secrets, SES and
SNS."""

from __future__ import annotations

import json
import uuid
from typing import Any

from nudge.local.account import FEED_BUCKET_NAME, NAMES, SENDER, physical_name
from shared.deployment import topology


# -- resources -------------------------------------------------------------------------------
def create_resources(runtime: Any) -> None:
    dynamodb, sqs, events = runtime.client("dynamodb"), runtime.client("sqs"), runtime.client("events")
    for spec in topology.TABLES:
        keys = [(spec.partition_key, "HASH")] + ([(spec.sort_key, "RANGE")] if spec.sort_key else [])
        types = {n: "S" for n, _ in keys} | {i.partition_key: "S" for i in spec.indexes}
        types |= {i.sort_key: "N" for i in spec.indexes}
        indexes = [
            {
                "IndexName": i.name,
                "KeySchema": [
                    {"AttributeName": i.partition_key, "KeyType": "HASH"},
                    {"AttributeName": i.sort_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "KEYS_ONLY"},
            }
            for i in spec.indexes
        ]
        dynamodb.create_table(
            TableName=runtime.table_names[spec.key],
            KeySchema=[{"AttributeName": n, "KeyType": t} for n, t in keys],
            AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in types.items()],
            BillingMode="PAY_PER_REQUEST",
            **({"GlobalSecondaryIndexes": indexes} if indexes else {}),
        )
        if spec.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=runtime.table_names[spec.key],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
            )
    for key in topology.DEAD_LETTER_QUEUES:
        runtime.queue_urls[key] = sqs.create_queue(QueueName=physical_name(key))["QueueUrl"]
    for queue in topology.QUEUES:
        dlq_arn = runtime.queue_arn(queue.dlq_key)
        runtime.queue_urls[queue.key] = sqs.create_queue(
            QueueName=physical_name(queue.key),
            Attributes={
                "VisibilityTimeout": str(queue.visibility_timeout_s),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count}
                ),
            },
        )["QueueUrl"]
    events.create_event_bus(Name=NAMES.bus)
    for rule in runtime.rules:
        events.put_rule(
            Name=physical_name(rule.key),
            EventBusName=NAMES.event_bus(rule.bus),
            EventPattern=json.dumps(rule.pattern),
            State="ENABLED",
            Description=rule.description,
        )
    runtime.client("scheduler").create_schedule_group(Name=NAMES.deferral_group)
    s3 = runtime.client("s3")
    s3.create_bucket(Bucket=FEED_BUCKET_NAME)
    s3.put_bucket_versioning(Bucket=FEED_BUCKET_NAME, VersioningConfiguration={"Status": "Enabled"})
    runtime.signing_secret_arn = runtime.client("secretsmanager").create_secret(
        Name=NAMES.signing_secret, SecretString=uuid.uuid4().hex + uuid.uuid4().hex
    )["ARN"]
    runtime.privacy_key_arn = runtime.client("secretsmanager").create_secret(
        Name=NAMES.privacy_key, SecretString=uuid.uuid4().hex + uuid.uuid4().hex
    )["ARN"]
    runtime.catalog_key_arn = runtime.client("secretsmanager").create_secret(
        Name=NAMES.catalog_key, SecretString=uuid.uuid4().hex + uuid.uuid4().hex
    )["ARN"]
    runtime.client("sesv2").create_email_identity(EmailIdentity=SENDER.split("@", 1)[1])
    runtime.client("sesv2").create_configuration_set(ConfigurationSetName=NAMES.configuration_set)
    sns = runtime.client("sns")
    runtime.push_apps = {
        platform: sns.create_platform_application(
            Name=NAMES.of(f"shop-{platform.lower()}"),
            Platform=platform,
            Attributes={"PlatformCredential": "local-test-credential"},
        )["PlatformApplicationArn"]
        for platform in ("GCM", "APNS")
    }
