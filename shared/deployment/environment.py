"""What each function finds in its environment: the variables the topology's resources fill
(:func:`function_environment`, resolved by the stack and the local runtime alike) and those the
deployment's settings fill (:func:`deployment_environment`)."""

from __future__ import annotations

from shared.deployment.topology import (
    BUS_ENV,
    FEED_BUCKET,
    FEED_BUCKET_ENV,
    FEED_KEY_ENV,
    INGEST_QUEUE,
    PUSH_APPLICATIONS_ENV,
    QUEUES_BY_KEY,
    TABLES_BY_KEY,
    TRUSTED_SOURCES_ENV,
    UNSUBSCRIBE_PATH,
    FunctionSpec,
    dead_letter_env_var,
)


def function_environment(spec: FunctionSpec) -> dict[str, str]:
    """Which env vars a function reads, mapped to the resource keys that fill them."""
    env = {TABLES_BY_KEY[t].env_var: f"table:{t}" for t in spec.tables}
    env.update({QUEUES_BY_KEY[q].env_var: f"queue:{q}" for q in spec.sends_to})
    if spec.parks_in:
        env["DEAD_LETTER_QUEUE_URL"] = f"queue:{spec.parks_in}"
    if spec.defers_to:
        env["DEFERRAL_GROUP"] = "schedule-group:deferral"
        env["DEFERRAL_QUEUE_ARN"] = f"queue-arn:{spec.defers_to}"
        env["DEFERRAL_DLQ_ARN"] = f"queue-arn:{QUEUES_BY_KEY[spec.defers_to].dlq_key}"
        env["DEFERRAL_ROLE_ARN"] = "role:deferral"
    if spec.cancels_deferrals:
        env["DEFERRAL_GROUP"] = "schedule-group:deferral"
    if spec.signs_links:
        env["SIGNING_SECRET_ARN"] = "secret:signing"
    if spec.seals:
        env["CATALOG_KEY_ARN"] = "secret:catalog"
    if spec.pseudonymizes:
        env["PRIVACY_KEY_ARN"] = "secret:privacy"
    env.update({dead_letter_env_var(q): f"queue:{q}" for q in spec.purges})
    if spec.announces:
        env[BUS_ENV] = "bus:own"
    if spec.key == "deliver":
        env["UNSUBSCRIBE_URL"] = f"api-url:{UNSUBSCRIBE_PATH}"
    if spec.reads_feed:
        env[FEED_BUCKET_ENV] = f"bucket:{FEED_BUCKET}"
    return env


def deployment_environment(
    spec: FunctionSpec,
    *,
    sender_email: str,
    ses_configuration_set: str | None,
    trusted_event_sources: tuple[str, ...],
    push_applications: tuple[str, ...],
    catalog_feed_key: str | None = None,
) -> dict[str, str]:
    """The env vars a function gets from the deployment's settings rather than from a resource (the
    stack and the local runtime both add these to :func:`function_environment`'s). ``catalog_feed_key``:
    the feed object's key in the feed bucket (context ``catalog_feed_key``; None: no feed, empty)."""
    env = {}
    if spec.sends_email:
        env["SENDER_EMAIL"] = sender_email
        env["SES_CONFIGURATION_SET"] = ses_configuration_set or ""
    if spec.key == INGEST_QUEUE.consumer:
        env[TRUSTED_SOURCES_ENV] = ",".join(trusted_event_sources)
    if spec.sends_push:
        env[PUSH_APPLICATIONS_ENV] = ",".join(push_applications)
    if spec.reads_feed:
        env[FEED_KEY_ENV] = catalog_feed_key or ""
    return env
