"""Malformed payloads the store injects on purpose, each with one field wrong: ingest must park each
with a reason."""

from __future__ import annotations

from typing import Final

from nudge.shop.catalog import Event


def _missing_message_id(e: Event) -> Event:
    del e["messageId"]
    return {**e, "_why": "messageId is missing, so the event cannot be deduplicated"}


def _track_without_name(e: Event) -> Event:
    del e["event"]
    return {**e, "_why": "track call without an event name"}


def _timestamp_yesterday(e: Event) -> Event:
    return {**e, "timestamp": "yesterday", "_why": "timestamp 'yesterday' is not ISO-8601"}


def _user_id_list(e: Event) -> Event:
    return {**e, "userId": [e["userId"]], "_why": "userId is a list, not a string"}


def _no_identity(e: Event) -> Event:
    del e["userId"]
    return {**e, "_why": "neither userId nor anonymousId, so the event belongs to nobody"}


def _unknown_type(e: Event) -> Event:
    return {**e, "type": "purchase", "_why": "type 'purchase' is not a Segment call type"}


def _properties_list(e: Event) -> Event:
    return {**e, "properties": [e["properties"]], "_why": "properties is a list, not an object"}


def _empty_message_id(e: Event) -> Event:
    return {**e, "messageId": "", "_why": "messageId is an empty string"}


def _numeric_event_name(e: Event) -> Event:
    return {**e, "event": 42, "_why": "event name is a number, not a string"}


def _impossible_date(e: Event) -> Event:
    return {**e, "timestamp": "2026-13-45T25:61:00Z", "_why": "timestamp is not a real date (month 13)"}


def _missing_type(e: Event) -> Event:
    del e["type"]
    return {**e, "_why": "type is missing"}


def _traits_string(e: Event) -> Event:
    del e["event"], e["properties"]
    why = "identify traits is a string, not an object"
    return {**e, "type": "identify", "traits": "vip customer", "_why": why}


DEFECTS: Final = (
    _missing_message_id,
    _track_without_name,
    _timestamp_yesterday,
    _user_id_list,
    _no_identity,
    _unknown_type,
    _properties_list,
    _empty_message_id,
    _numeric_event_name,
    _impossible_date,
    _missing_type,
    _traits_string,
)
