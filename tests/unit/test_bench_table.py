"""`nudge bench`'s table of cold starts: the dev venv's import, and the Lambda-shaped Python 3.13's import,
ports, first request and (SnapStart functions) restored first request, per handler."""

from __future__ import annotations

from typing import Any

import pytest

from nudge.cli.common import console
from nudge.cli.tables.run import print_bench


def results() -> dict[str, Any]:
    handlers = ("ingest", "inbox")
    return {
        "ingest_cpu_ms_per_event": 0.2235,
        "import_ms": dict(zip(handlers, (224.1, 247.6), strict=True)),
        "cold_start_ms": dict(zip(handlers, (349.2, 245.9), strict=True)),
        "cold_start_python": "python3.13, Lambda-shaped",
        "import_ms_lambda_env": {"ingest": 206.4, "inbox": 270.2},
        "ports_ms_lambda_env": {"ingest": 304.3, "inbox": 270.9},
        "first_request_ms": {"ingest": 376.2, "inbox": 341.4},
        "first_request_after_restore_ms": {"inbox": 7.4},
        "cost_per_million_events_breakdown": {"eventbridge": 1.0},
        "cost_usd_per_million_events": 1.765,
        "cost_per_million_messages_breakdown": {"sqs": 0.12},
        "cost_usd_per_million_messages": 1.485,
        "channel_fees_usd_per_million": {"email": 100.0, "push": 0.5, "in_app": 0.625},
    }


def test_each_handler_shows_its_cold_start_in_both_interpreters(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A wide terminal as the console sees it (COLUMNS), never `console.width = ...`: setting the width
    # pins it for the rest of the process, and later CLI tests' COLUMNS would be ignored.
    monkeypatch.setenv("COLUMNS", "200")
    assert console.width == 200
    print_bench(results())
    rows = {
        line.split("│")[1].strip(): line
        for line in capsys.readouterr().out.splitlines()
        if line.count("│") > 6
    }
    cells = {name: [c.strip() for c in row.split("│")[2:-1]] for name, row in rows.items()}
    assert cells["ingest"] == ["224", "349", "206", "304", "376", ""]
    assert cells["inbox"] == ["248", "246", "270", "271", "341", "7"]
