"""One duration syntax, two unit sets: campaign files (m, h, d) and audience expressions (also w)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from shared.campaigns.audience.parser import parse_rule
from shared.campaigns.audience.vocabulary import AudienceRuleError
from shared.core.durations import CAMPAIGN_PATTERN, duration_parts, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30m", timedelta(minutes=30)),
        ("1h", timedelta(hours=1)),
        ("7d", timedelta(days=7)),
        (" 12 h ", timedelta(hours=12)),
        ("0m", timedelta(0)),
        ("999999999d", timedelta(days=999999999)),
    ],
)
def test_a_campaign_duration_is_a_whole_number_of_minutes_hours_or_days(
    text: str, expected: timedelta
) -> None:
    assert parse_duration(text) == expected
    assert re.match(CAMPAIGN_PATTERN, text)


@pytest.mark.parametrize("text", ["2w", "1.5h", "h", "", "-1d", "1hh", "1 d x", "30s", "1H"])
def test_anything_else_is_refused_naming_the_text(text: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"{text!r} is not a duration like 30m, 1h or 7d")):
        parse_duration(text)
    assert not re.match(CAMPAIGN_PATTERN, text)


def test_a_duration_past_what_a_timedelta_holds_is_refused_not_crashed() -> None:
    with pytest.raises(ValueError, match="'1000000000d' is longer than any duration Nudge can wait"):
        parse_duration("1000000000d")


def test_audience_expressions_also_take_weeks() -> None:
    assert duration_parts("2w", "mhdw") == (2, "w")
    assert duration_parts("2w") is None
    assert parse_duration("2w", "mhdw") == timedelta(weeks=2)
    assert str(parse_rule('count("Product Viewed", 4w) >= 3')) == 'count("Product Viewed", 4w) >= 3'
    assert str(parse_rule('count("Product Viewed", 00007d) >= 3')) == 'count("Product Viewed", 7d) >= 3'
    with pytest.raises(AudienceRuleError, match="expected a duration such as 30m, 12h, 7d or 2w"):
        parse_rule('count("Product Viewed", 123456d) >= 3')  # at most five digits
