"""Test-wide settings: fake AWS credentials and a fixed region, so nothing can reach real AWS."""

from __future__ import annotations

import os
from typing import Any

import botocore.loaders
import pytest

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SECURITY_TOKEN="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION="1",
)
os.environ.pop("AWS_PROFILE", None)
# The CLI's rich console (nudge.cli.common) would take a terminal size found in the environment when it
# is created, at import, and keep it: then the CLI tests' own COLUMNS (CliRunner's env) would be
# ignored. Readline puts COLUMNS=80 and LINES=24 there in a pytest-xdist worker; a shell may too.
os.environ.pop("COLUMNS", None)
os.environ.pop("LINES", None)

# Property tests and fuzzers draw the same cases on every run, so CI is repeatable and a failure can
# be replayed; set HYPOTHESIS_EXPLORE=1 to draw fresh cases (and keep any failure it finds as a test).
from hypothesis import settings

settings.register_profile("repeatable", derandomize=True, print_blob=True)
settings.register_profile("explore", derandomize=False, print_blob=True)
settings.load_profile("explore" if os.environ.get("HYPOTHESIS_EXPLORE") else "repeatable")


# -- botocore's data files, read once per process ------------------------------------------------------
# Each `mock_aws` hands boto3 a new default session, whose new loader lists the ~400 service folders
# and decompresses and parses every service model and the endpoint data again: ~0.3 s for the clients
# of one LocalRuntime, in hundreds of tests. The files do not change during a run, so each folder is
# listed and each file parsed once, and the result shared, as botocore itself shares it between the
# clients of one session (after loading, only botocore's merge of its SDK extras writes to a model,
# and merging the same extras again changes nothing).
_load_data_file = botocore.loaders.JSONFileLoader.load_file
_list_services = botocore.loaders.Loader.list_available_services
_data_files: dict[str, Any] = {}
_services: dict[tuple[tuple[str, ...], str], Any] = {}


def _load_data_file_once(self: botocore.loaders.JSONFileLoader, file_path: str) -> Any:
    if file_path not in _data_files:
        _data_files[file_path] = _load_data_file(self, file_path)
    return _data_files[file_path]


def _list_services_once(self: botocore.loaders.Loader, type_name: str) -> Any:
    key = (tuple(self.search_paths), type_name)
    if key not in _services:
        _services[key] = _list_services(self, type_name)
    return _services[key]


botocore.loaders.JSONFileLoader.load_file = _load_data_file_once
botocore.loaders.Loader.list_available_services = _list_services_once


# -- parallel runs (make test: pytest-xdist, --dist loadgroup) ---------------------------------------------
# A worker is a process of its own, so what a session- or module-scoped fixture builds is built again in
# every worker that runs a test using it. Tests sharing such a fixture therefore go to one worker:
# every test of the synth (tests/infra/synth.py: `synthesized` and `deployments`, cached per process)
# to the group below, so the stack is synthesized once per run; the tests using a module's own
# module-scoped fixture (a demo run, a moto world) to that module's group, and every test of a module
# that memoizes a helper of its own (`functools.cache`: a soak per seed, say) too, since any of its
# tests may be the one that fills the memo the others read. Without xdist the marks do nothing.
SYNTH_GROUP = "cdk-synth"
SYNTH_FIXTURES = frozenset({"synthesized", "deployments"})
SHARED_SCOPES = frozenset({"module", "class", "package"})


def _shares_a_module_fixture(item: pytest.Item) -> bool:
    infos = getattr(item, "_fixtureinfo", None)
    if infos is None:
        return False
    return any(
        definition.scope in SHARED_SCOPES
        for definitions in infos.name2fixturedefs.values()
        for definition in definitions
    )


def _memoizes(module: Any) -> bool:
    """Whether a test module defines a memoized function (functools.cache / lru_cache) of its own."""
    return module is not None and any(
        callable(value)
        and hasattr(value, "cache_info")
        and getattr(value, "__module__", None) == module.__name__
        for value in vars(module).values()
    )


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the marks
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    uses_synth = {item.path for item in items if SYNTH_FIXTURES & set(getattr(item, "fixturenames", ()))}
    memoizing = {item.path for item in items if _memoizes(getattr(item, "module", None))}
    for item in items:
        module_group = SYNTH_GROUP if item.path in uses_synth else item.nodeid.split("::")[0]
        if SYNTH_FIXTURES & set(getattr(item, "fixturenames", ())):
            group = SYNTH_GROUP
        elif item.path in memoizing or _shares_a_module_fixture(item):
            # a module that also synthesizes keeps its shared state with the synth's worker
            group = module_group
        else:
            continue
        item.add_marker(pytest.mark.xdist_group(group))
