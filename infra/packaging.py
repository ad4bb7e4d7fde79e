"""Builds the one code asset every function shares, without Docker.

The asset holds our code (``shared/``, ``functions/``), the campaign catalog written at synth time
(validated by the same models as the CLI; as JSON and in the compiled form a cold start loads,
``shared/campaigns/bundle.py``), and the pure-Python libraries the Powertools
layer does not carry (Jinja2, MarkupSafe — whose C speed-ups are left out so the arm64 runtime
falls back to the pure-Python implementation), all compiled to bytecode for the runtime's Python
(``infra/bytecode.py``: /var/task is read-only, so what ships as source is compiled at every cold start).
"""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

from infra.bytecode import compile_asset
from shared.campaigns.bundle import write_bundle
from shared.campaigns.loader import Catalog

ROOT = Path(__file__).resolve().parent.parent
OUR_PACKAGES = ("shared", "functions")
VENDORED = ("jinja2", "markupsafe")
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so", "*.pyd", "py.typed")


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{name} is not installed; run 'make install'")
    return Path(next(iter(spec.submodule_search_locations)))


def build_lambda_asset(catalog: Catalog, out_dir: Path) -> Path:
    """Lay the asset out in ``out_dir`` (replacing what was there) and return it."""
    if out_dir.exists():
        shutil.rmtree(out_dir)
    out_dir.mkdir(parents=True)
    for package in OUR_PACKAGES:
        shutil.copytree(ROOT / package, out_dir / package, ignore=_IGNORE)
    for package in VENDORED:
        shutil.copytree(_package_dir(package), out_dir / package, ignore=_IGNORE)
    write_bundle(catalog, out_dir / "campaigns")
    compile_asset(out_dir)
    return out_dir
