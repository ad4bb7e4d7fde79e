"""``nudge why`` names the variant a shopper drew beside the campaign of each logged decision."""

from __future__ import annotations

import pytest

from nudge.cli.tables import operations


def test_why_shows_the_variant_beside_the_campaign(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(operations.console, "_width", 200)
    entries = [
        {
            "at": "2026-11-07T03:00:00",
            "campaign_id": "sale",
            "level": "L1",
            "channel": "email",
            "status": "sent",
            "variant": "free-shipping",
        },
        {
            "at": "2026-11-08T03:00:00",
            "campaign_id": "other",
            "level": "L1",
            "channel": None,
            "status": "withheld_global_control",
            "reason": "global control 5%",
            "group": "global_control",
        },
    ]
    operations.print_why("u1", entries)
    lines = capsys.readouterr().out.splitlines()
    assert any("sale · variant free-shipping" in line and "sent" in line for line in lines)
    assert any(
        "other " in line and "withheld_global_control" in line and "global control 5%" in line
        for line in lines
    )
    assert sum("variant" in line for line in lines) == 1
