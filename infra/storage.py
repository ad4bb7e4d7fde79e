"""The tables and queues of ``shared.deployment.topology``: DynamoDB tables, work queues and their
dead-letter queues, encrypted and (tables) retained."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from shared.deployment import topology


def table(scope: Construct, spec: topology.TableSpec) -> dynamodb.Table:
    """On-demand, point-in-time recovery on, kept when the stack goes (RETAIN)."""
    return dynamodb.Table(
        scope,
        f"Table-{spec.key}",
        partition_key=dynamodb.Attribute(name=spec.partition_key, type=dynamodb.AttributeType.STRING),
        sort_key=dynamodb.Attribute(name=spec.sort_key, type=dynamodb.AttributeType.STRING)
        if spec.sort_key
        else None,
        time_to_live_attribute=spec.ttl_attribute,
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        removal_policy=RemovalPolicy.RETAIN,
    )


def dead_letter_queue(scope: Construct, key: str) -> sqs.Queue:
    return sqs.Queue(
        scope,
        f"Queue-{key}",
        retention_period=Duration.days(topology.DLQ_RETENTION_DAYS),
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
    )


def work_queue(scope: Construct, spec: topology.QueueSpec, dlq: sqs.IQueue) -> sqs.Queue:
    """A work queue whose messages go to ``dlq`` after ``spec.max_receive_count`` receives."""
    return sqs.Queue(
        scope,
        f"Queue-{spec.key}",
        visibility_timeout=Duration.seconds(spec.visibility_timeout_s),
        retention_period=Duration.days(spec.retention_days),
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        dead_letter_queue=sqs.DeadLetterQueue(queue=dlq, max_receive_count=spec.max_receive_count),
    )
