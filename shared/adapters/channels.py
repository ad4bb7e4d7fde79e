"""Delivery channels: SES v2 email, SNS mobile push, and the in-app inbox."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from shared.adapters.dynamo import DynamoInbox
from shared.render import RenderedMessage


class SesEmailChannel:
    def __init__(self, client: Any, sender: str, configuration_set: str | None = None) -> None:
        self._client = client
        self._sender = sender
        self._configuration_set = configuration_set

    def send(self, message: RenderedMessage, recipient: Mapping[str, Any]) -> str:
        body: dict[str, Any] = {"Html": {"Data": message.body_html or "", "Charset": "UTF-8"}}
        if message.body_text:
            body["Text"] = {"Data": message.body_text, "Charset": "UTF-8"}
        kwargs: dict[str, Any] = {
            "FromEmailAddress": self._sender,
            "Destination": {"ToAddresses": [recipient["email"]]},
            "Content": {"Simple": {"Subject": {"Data": message.title, "Charset": "UTF-8"}, "Body": body}},
            "EmailTags": [
                {"Name": "campaign", "Value": message.campaign_id},
                {"Name": "send_key", "Value": message.tag_safe_send_key},
            ],
        }
        if self._configuration_set:
            kwargs["ConfigurationSetName"] = self._configuration_set
        response = self._client.send_email(**kwargs)
        return str(response["MessageId"])


class SnsPushChannel:
    """Publishes to the shopper's SNS platform endpoint, with payloads for FCM and APNs."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def send(self, message: RenderedMessage, recipient: Mapping[str, Any]) -> str:
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
        message_key = f"{sent_at.isoformat()}#{message.send_key}"
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
