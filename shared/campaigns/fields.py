"""The checked pieces a campaign file is built from: event names and audience rules read against the
shop's vocabulary (its own, passed as validation context, or the built-in one), durations, and the
strict base every part of a file shares (unknown keys refused, frozen once read)."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationInfo

from shared.campaigns.audience.selection import AudienceRule
from shared.campaigns.audience.vocabulary import AudienceRuleError, Vocabulary, default_vocabulary
from shared.core.durations import CAMPAIGN_PATTERN

__all__ = ["AudienceText", "Duration", "EventName", "Strict", "known_event"]


class Strict(BaseModel):
    """A part of a campaign file: unknown keys are refused, and it never changes once read.

    Its schema is built when a file is first validated, not when the class is made: a Lambda loads
    the catalog validated at synth (:mod:`shared.campaigns.bundle`) and never validates a campaign."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


def _vocabulary(info: ValidationInfo) -> Vocabulary:
    """The vocabulary a file is checked against: the shop's own (passed as context) or the built-in one."""
    context = info.context if isinstance(info.context, dict) else {}
    vocabulary = context.get("vocabulary")
    return vocabulary if isinstance(vocabulary, Vocabulary) else default_vocabulary()


def known_event(name: str, info: ValidationInfo) -> str:
    try:
        _vocabulary(info).check_event(name)
    except AudienceRuleError as error:
        raise ValueError(str(error)) from None
    return name


def _valid_rule(rule: str, info: ValidationInfo) -> str:
    try:
        AudienceRule.parse(rule, _vocabulary(info))
    except AudienceRuleError as error:
        raise ValueError(str(error)) from None
    except RecursionError:
        raise ValueError(f"{rule[:60]!r}...: nested too deeply to read") from None
    return rule


EventName = Annotated[str, Field(min_length=1), AfterValidator(known_event)]


AudienceText = Annotated[
    str,
    Field(
        min_length=1,
        description="One audience rule, e.g. 'country in [ID, MY]', 'count(\"Product Viewed\", 7d) >= 3', "
        "'last(\"Order Completed\") older_than 60d', 'sum(revenue, 90d) > 100', "
        "'any(rfm.segment in [champions, loyal], purchase_propensity >= 0.6)'. See README.",
    ),
    AfterValidator(_valid_rule),
]


Duration = Annotated[str, Field(pattern=CAMPAIGN_PATTERN, description="e.g. 20m, 1h, 7d")]
