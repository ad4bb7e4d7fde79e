"""Delivery channels: SES v2 email, SNS mobile push, and the in-app inbox."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, timedelta
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from html import escape as html_escape
from typing import Any

from shared.adapters.dynamo.messages import DynamoInbox
from shared.campaigns.render import RenderedMessage
from shared.core.errors import PermanentDeliveryError
from shared.core.vocabulary import EMAIL_TRAIT
from shared.delivery.ses_tags import email_tags
from shared.deployment.topology import push_endpoints_of

UNSUBSCRIBE_FOOTER = (
    '<p style="font-size:12px;color:#666">Don\'t want these emails? '
    '<a href="{url}">Unsubscribe</a> with one click.</p>'
)


class SesEmailChannel:
    """SES v2 with a MIME message we build, so the RFC 8058 one-click unsubscribe headers are ours to set.

    The message carries tags (campaign, shopper, send key; ``shared.delivery.ses_tags``, encoded so they map
    back exactly) that SES repeats in its events, which is how feedback finds the shopper to suppress
    and the send-log entry to update without storing addresses twice.
    """

    def __init__(self, client: Any, sender: str, configuration_set: str | None = None) -> None:
        self._client = client
        self._sender = sender
        self._configuration_set = configuration_set

    def mime(self, message: RenderedMessage, recipient: Mapping[str, Any]) -> bytes:
        mail = EmailMessage(policy=SMTP)
        mail["From"] = self._sender
        try:
            mail["To"] = Address(addr_spec=str(recipient[EMAIL_TRAIT]))
            # Line breaks were removed when rendering; any left (U+2028, NEL, ...) would break the
            # header when folded, so they become spaces here too rather than a message never sent.
            mail["Subject"] = subject = " ".join(message.title.splitlines())
            decoded = str(mail["Subject"])
            if "\x00" in decoded or decoded.splitlines() != [decoded]:
                # The email package decodes RFC 2047 words ("=?utf-8?q?=0D=0ABcc...?=") in the value it
                # is given, which would put a header break back: such a word is sent as typed instead.
                del mail["Subject"]
                mail["Subject"] = subject.replace("=?", "= ?")
        except (ValueError, MessageError) as error:
            raise PermanentDeliveryError(f"cannot address the email: {type(error).__name__}") from None
        unsubscribe = recipient.get("unsubscribe_url")
        html = message.body_html or ""
        if unsubscribe:
            mail["List-Unsubscribe"] = f"<{unsubscribe}>"
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
            if unsubscribe not in html and html_escape(unsubscribe) not in html:
                html += UNSUBSCRIBE_FOOTER.format(url=html_escape(unsubscribe))
        mail.set_content(message.body_text or " ", charset="utf-8")
        mail.add_alternative(html, subtype="html", charset="utf-8")
        return mail.as_bytes()

    def send(self, message: RenderedMessage, recipient: Mapping[str, Any]) -> str:
        kwargs: dict[str, Any] = {
            # A raw message's recipients are its To header: one address, checked when it was built.
            "FromEmailAddress": self._sender,
            "Content": {"Raw": {"Data": self.mime(message, recipient)}},
            "EmailTags": email_tags(message.campaign_id, str(recipient["user_id"]), message.send_key),
        }
        if self._configuration_set:
            kwargs["ConfigurationSetName"] = self._configuration_set
        response = self._client.send_email(**kwargs)
        return str(response["MessageId"])


class SnsPushChannel:
    """Publishes to the shopper's SNS platform endpoint, with payloads for FCM and APNs.

    The endpoint comes from a trait, so it is checked before each publish: it must belong to one of
    this stack's platform applications (``applications``; none declared: no push) and carry the
    shopper's id as its ``CustomUserData``, which the shop's backend sets when the shopper's device
    registers. One GetEndpointAttributes per push sent: a device that changes hands is caught too.
    """

    def __init__(self, client: Any, applications: Sequence[str] = ()) -> None:
        self._client = client
        self._endpoint_prefixes = tuple(push_endpoints_of(a) for a in applications if ":app/" in a)

    def verify(self, endpoint: str, user_id: str) -> None:
        """Raise :class:`PermanentDeliveryError` unless ``endpoint`` is this stack's and ``user_id``'s."""
        if not endpoint.startswith(self._endpoint_prefixes):
            raise PermanentDeliveryError("push endpoint is not one of this stack's platform applications'")
        try:
            attributes = self._client.get_endpoint_attributes(EndpointArn=endpoint)["Attributes"]
        except self._client.exceptions.NotFoundException:
            raise PermanentDeliveryError("push endpoint no longer exists") from None
        if attributes.get("CustomUserData") != user_id:
            raise PermanentDeliveryError("push endpoint is registered to another shopper (CustomUserData)")
        if str(attributes.get("Enabled", "true")).lower() == "false":
            raise PermanentDeliveryError("push endpoint is disabled")

    def send(self, message: RenderedMessage, recipient: Mapping[str, Any]) -> str:
        self.verify(str(recipient["push_endpoint"]), str(recipient["user_id"]))
        data = {"campaign_id": message.campaign_id, "deep_link": message.deep_link}
        payload = {
            "default": f"{message.title}: {message.body_text}",
            "GCM": json.dumps(
                {
                    "notification": {"title": message.title, "body": message.body_text},
                    "data": data,
                }
            ),
            "APNS": json.dumps(
                {"aps": {"alert": {"title": message.title, "body": message.body_text}}, **data}
            ),
        }
        response = self._client.publish(
            TargetArn=recipient["push_endpoint"], Message=json.dumps(payload), MessageStructure="json"
        )
        return str(response["MessageId"])


class InboxChannel:
    def __init__(self, inbox: DynamoInbox) -> None:
        self._inbox = inbox

    def send(self, message: RenderedMessage, recipient: Mapping[str, Any]) -> str:
        sent_at = recipient["now"]
        # Time-ordered and URL-safe (the inbox API takes it as a path segment), unique per send key.
        digest = hashlib.sha256(message.send_key.encode()).hexdigest()[:20]
        message_key = f"{sent_at.astimezone(UTC):%Y%m%dT%H%M%SZ}-{digest}"
        self._inbox.put(
            recipient["user_id"],
            message_key,
            {
                "campaign_id": message.campaign_id,
                "title": message.title,
                "body": message.body_text,
                "cta_label": message.cta_label,
                "cta_url": message.cta_url,
                "created_at": sent_at.isoformat(),
            },
            expires_at=int((sent_at + timedelta(days=message.expires_after_days)).timestamp()),
        )
        return message_key
