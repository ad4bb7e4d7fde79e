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


def test_why_shows_a_variants_planned_send_time(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(operations.console, "_width", 220)
    planned = "2026-11-07T12:00:00+00:00"
    entries = [
        {
            "at": "2026-11-07T03:00:00",
            "campaign_id": "sale",
            "status": "deferred_send_time",
            "variant": "evening",
            "send_at": planned,
            "reason": f"variant evening: at 19:00 Asia/Jakarta, until {planned}",
        },
        {
            "at": "2026-11-07T12:00:00",
            "campaign_id": "sale",
            "status": "sent",
            "variant": "evening",
            "send_at": planned,
        },
    ]
    operations.print_why("u1", entries)
    lines = capsys.readouterr().out.splitlines()
    assert sum("sale · variant evening at 2026-11-07 12:00" in line for line in lines) == 2
    assert any("deferred_send_time" in line and "at 19:00 Asia/Jakarta" in line for line in lines)
