"""The tables, queues and bucket of ``shared.deployment.topology``: DynamoDB tables, work queues and
their dead-letter queues, the catalog feed's bucket; all encrypted, tables and bucket retained."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from shared.deployment import topology

# Replaced feed objects are kept this long (versioning), to load an older feed again by hand.
FEED_NONCURRENT_DAYS = 30
FEED_ACCESS_LOG_DAYS = 90


def table(scope: Construct, spec: topology.TableSpec) -> dynamodb.Table:
    """On-demand, point-in-time recovery on, kept when the stack goes (RETAIN); its indexes keys only."""
    built = dynamodb.Table(
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
    for index in spec.indexes:
        built.add_global_secondary_index(
            index_name=index.name,
            partition_key=dynamodb.Attribute(name=index.partition_key, type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name=index.sort_key, type=dynamodb.AttributeType.NUMBER),
            projection_type=dynamodb.ProjectionType.KEYS_ONLY,
        )
    return built


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


def feed_bucket(scope: Construct) -> s3.Bucket:
    """The catalog feed's bucket (docs/catalog.md): S3-managed encryption, no public access, TLS only,
    versioned (a replaced feed is kept FEED_NONCURRENT_DAYS), its server access logs in a bucket of
    their own, its events on the default bus (a put loads the feed: ``invocations.catalog_feed_rule``),
    both kept when the stack goes (RETAIN)."""
    access_logs = s3.Bucket(
        scope,
        f"Bucket-{topology.FEED_BUCKET}-access-logs",
        encryption=s3.BucketEncryption.S3_MANAGED,  # the only encryption S3 server access logging writes to
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        lifecycle_rules=[s3.LifecycleRule(expiration=Duration.days(FEED_ACCESS_LOG_DAYS))],
        removal_policy=RemovalPolicy.RETAIN,
    )
    bucket = s3.Bucket(
        scope,
        f"Bucket-{topology.FEED_BUCKET}",
        encryption=s3.BucketEncryption.S3_MANAGED,
        block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
        enforce_ssl=True,
        versioned=True,
        object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
        server_access_logs_bucket=access_logs,
        server_access_logs_prefix="feed/",
        lifecycle_rules=[
            s3.LifecycleRule(
                noncurrent_version_expiration=Duration.days(FEED_NONCURRENT_DAYS),
                abort_incomplete_multipart_upload_after=Duration.days(1),
            )
        ],
        removal_policy=RemovalPolicy.RETAIN,
    )
    # S3 → EventBridge set on the bucket itself (the L2's event_bridge_enabled adds a custom-resource
    # function with an AWS managed policy to do the same at deploy time).
    cfn_bucket: s3.CfnBucket = bucket.node.default_child  # type: ignore[assignment]
    cfn_bucket.notification_configuration = s3.CfnBucket.NotificationConfigurationProperty(
        event_bridge_configuration=s3.CfnBucket.EventBridgeConfigurationProperty(event_bridge_enabled=True)
    )
    return bucket
