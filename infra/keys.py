"""Nudge's three HMAC keys in Secrets Manager: the unsubscribe links' signing key, the privacy key of
erasure markers, and the catalog key that seals the catalog's announcements. None rotates, and why is
written on each (cdk-nag SMG4)."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import nag
from shared.deployment.naming import ResourceNames


def _hmac_secret(
    scope: Construct, construct_id: str, name: str, description: str, not_rotated: str, retained: bool = False
) -> secretsmanager.Secret:
    """A 64-character HMAC key, generated at deploy; why it does not rotate goes to cdk-nag (SMG4)."""
    secret = secretsmanager.Secret(
        scope,
        construct_id,
        secret_name=name,
        description=description,
        generate_secret_string=secretsmanager.SecretStringGenerator(
            password_length=64, exclude_punctuation=True
        ),
        removal_policy=RemovalPolicy.RETAIN if retained else None,
    )
    nag.accept(secret, "SMG4", not_rotated)
    return secret


def signing_key(scope: Construct, names: ResourceNames) -> secretsmanager.Secret:
    """The key of the one-click unsubscribe links (read by deliver and preferences only)."""
    return _hmac_secret(
        scope,
        "SigningKey",
        names.signing_secret,
        "HMAC key for Nudge's one-click unsubscribe links.",
        "Rotating the HMAC key would void the unsubscribe links in every email already sent, and they "
        "must keep working (RFC 8058, CAN-SPAM's 30 days); only deliver and preferences may read it.",
    )


def catalog_key(scope: Construct, names: ResourceNames) -> secretsmanager.Secret:
    """The key that seals the catalog's price-drop and restock announcements
    (shared/catalog/announcements.py): read by the functions that announce (ingest, catalog_feed) and
    the one that checks the seals (trigger)."""
    return _hmac_secret(
        scope,
        "CatalogKey",
        names.catalog_key,
        "HMAC key that seals Nudge's catalog announcements (price drops, restocks).",
        "An announcement lives seconds on the bus, but a rotation would reject the ones in flight (their "
        "shoppers not messaged) for no gain: only ingest, catalog_feed and trigger may read the key, and "
        "a deploy can replace it.",
    )


def privacy_key(scope: Construct, names: ResourceNames) -> secretsmanager.Secret:
    """The key of erasure markers and of the suppressions kept after erasure: retained with the tables."""
    return _hmac_secret(
        scope,
        "PrivacyKey",
        names.privacy_key,
        "HMAC key of Nudge's erasure markers and the suppressions kept after erasure.",
        "The privacy table holds HMACs under this key: a new key would orphan every erasure marker and "
        "every suppression kept after erasure (erased shoppers' old events would be stored again, "
        "opted-out addresses mailed). Retained with the tables; readable only by the functions that "
        "write or honour those records.",
        retained=True,
    )
