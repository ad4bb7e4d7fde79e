"""Cold starts: each handler's import, and import plus building its adapters, in fresh interpreters."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path

from nudge.bench.measuring import FAKE_CREDENTIALS
from shared.campaigns.loader import Catalog
from shared.deployment import environment, topology

IMPORT_RUNS = 5
IMPORT_ONLY = "import time; t = time.perf_counter(); import {module}; print((time.perf_counter() - t) * 1000)"
# What a cold start really pays before the first record: the import plus building the function's
# adapters (boto3 clients, the bundled campaign catalog), which the handlers defer to first use.
IMPORT_AND_PORTS = (
    "import time; t = time.perf_counter(); import {module} as handler; handler.default_ports(); "
    "print((time.perf_counter() - t) * 1000)"
)


def _median_ms(code: str, env: dict[str, str]) -> float:
    runs = [
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
            ).stdout
        )
        for _ in range(IMPORT_RUNS)
    ]
    return round(statistics.median(runs), 1)


def measure_imports(catalog: Catalog, workdir: Path) -> dict[str, dict[str, float]]:
    """Per handler, in fresh interpreters: the module import, and the import plus building its adapters."""
    from shared.campaigns.bundle import write_bundle

    write_bundle(catalog, workdir)
    env = {
        **os.environ,
        **FAKE_CREDENTIALS,
        "CAMPAIGN_CATALOG_DIR": str(workdir),
        "SENDER_EMAIL": "no-reply@shop.example.com",
    }
    for spec in topology.FUNCTIONS:
        for name, reference in environment.function_environment(spec).items():
            env[name] = (
                f"https://sqs.us-east-1.amazonaws.com/123456789012/{reference}"
                if "URL" in name
                else reference
            )
    imports: dict[str, float] = {}
    cold_starts: dict[str, float] = {}
    for spec in topology.FUNCTIONS:
        module = spec.handler.rsplit(".", 1)[0]
        imports[spec.key] = _median_ms(IMPORT_ONLY.format(module=module), env)
        cold_starts[spec.key] = _median_ms(IMPORT_AND_PORTS.format(module=module), env)
    return {"import_ms": imports, "cold_start_ms": cold_starts}
