"""Session fixtures for the infra tests: the Nudge stack synthesized once, and its template on disk."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:  # pytest's default (prepend) import mode does this already; other modes do not
    sys.path.insert(0, HERE)

from synth import Deployment, Synthesized, synthesize_deployments, synthesized_for, write_template  # noqa: E402


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    """``NudgeStack`` built from ``campaigns/`` in eu-west-1, with its template and catalog."""
    return synthesized_for(tmp_path_factory)


@pytest.fixture(scope="session")
def template(synthesized: Synthesized) -> Any:
    """The ``aws_cdk.assertions.Template`` of the one session synth."""
    return synthesized.template


@pytest.fixture(scope="session")
def template_file(synthesized: Synthesized, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthesized template written as JSON, for cfn-lint."""
    return write_template(synthesized, tmp_path_factory.mktemp("cfn-template"))


@pytest.fixture(scope="session")
def deployments(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Deployment]:
    """The stacks of ``synth.DEPLOYMENTS`` (a second stack, China, GovCloud), synthesized together once."""
    return synthesize_deployments(tmp_path_factory.getbasetemp() / "nudge-lambda-asset-deployments")
