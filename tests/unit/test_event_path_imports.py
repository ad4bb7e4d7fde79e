"""What the event path's handlers do not load at import (docs/performance.md, "The event path's import"):
each module here once came in through a constant or a type and cost every cold start, while no request
of the function uses it. Checked in a fresh interpreter per handler, as a cold start imports it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Synth's and the CLI's: the campaign calendar, the YAML files, the template checker; and the SDK, which
# comes with the first AWS call (clients on first use).
NOT_AT_IMPORT = (
    "shared.campaigns.expiry",
    "shared.campaigns.schedules",
    "shared.campaigns.cron",
    "shared.campaigns.template_check",
    "yaml",
    "boto3",
    # The rules' module, for the name of a journey's event kind (now in shared.deployment.naming).
    "shared.deployment.invocations",
    # The experiments' review (the sequential test, the bandit): a stored state loads it, a review runs it.
    "shared.experiments.review",
    "shared.experiments.sequential",
    "shared.experiments.bandit",
    # The journey engine and the instance's models: the wiring builds the engine with the ports (the
    # trigger's only for a catalog with journeys), a wake-up loads its model.
    "shared.journeys.engine",
    "shared.journeys.instance",
)


def _loaded(handler: str, watched: tuple[str, ...]) -> list[str]:
    code = f"import sys, {handler}; print(' '.join(m for m in {watched!r} if m in sys.modules))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT, env={}
    ).stdout
    return out.split()


@pytest.mark.parametrize("function", ["ingest", "trigger", "deliver"])
def test_an_event_path_handler_imports_none_of_what_a_first_request_may_not_need(function: str) -> None:
    assert _loaded(f"functions.{function}.handler", NOT_AT_IMPORT) == []


def test_deliver_does_not_load_the_event_contract() -> None:
    """Deliver validates no event: the bus source name and the rejection error live outside the contract."""
    assert _loaded("functions.deliver.handler", ("shared.events.contract",)) == []
    assert _loaded("functions.ingest.handler", ("shared.events.contract",)) == ["shared.events.contract"]
