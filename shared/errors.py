"""Failures that retrying cannot fix: the message is parked with the reason instead."""

from __future__ import annotations


class PermanentDeliveryError(ValueError):
    """A job that can never succeed (unknown campaign, invalid job): park it, don't retry it."""


class TemplateProblem(ValueError):
    """A template that cannot be compiled or rendered; names the campaign, channel and field."""
