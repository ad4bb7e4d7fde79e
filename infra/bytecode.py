"""The code asset's bytecode, compiled at synth time by the Python the functions run on.

Lambda's ``/var/task`` is read-only, so a module shipped without its ``__pycache__`` is compiled from
source at every cold start and never cached: for deliver (our code and the vendored Jinja2) that
was about 110 ms of CPU before its first record (docs/performance.md#cold-starts). The asset
therefore carries bytecode compiled by a ``python3.13`` (the runtime's version: bytecode is
version-specific) with ``unchecked-hash`` invalidation (PEP 552): the interpreter uses it without
comparing the source's timestamp, which need not survive the zip, and the bytes depend only on the
source, so the same code gives the same asset hash. Where no python3.13 is found the asset goes
without, as before, with a warning.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
from pathlib import Path

LAMBDA_PYTHON = (3, 13)
DEPLOYED_ROOT = "/var/task"  # the file names tracebacks show, whatever directory the asset was built in


class LambdaPythonMissing(RuntimeError):
    pass


def _version(executable: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run(
            [executable, "-c", "import sys; print(*sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return (int(out[0]), int(out[1])) if len(out) == 2 else None


def find_python() -> str:
    """``python3.13`` from PATH (or NUDGE_LAMBDA_PYTHON). A pyenv shim that answers "command not
    found" because 3.13 is installed but not selected is looked through to the installed version."""
    candidates = [os.environ.get("NUDGE_LAMBDA_PYTHON", ""), shutil.which("python3.13") or ""]
    pyenv_root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    candidates += sorted(glob.glob(os.path.join(pyenv_root, "versions", "3.13*", "bin", "python3.13")))
    for candidate in filter(None, candidates):
        if _version(candidate) == LAMBDA_PYTHON:
            return candidate
    raise LambdaPythonMissing(
        "python3.13 is not on PATH (nor set in NUDGE_LAMBDA_PYTHON): the Lambda parity test runs the "
        "handlers on the python3.13 runtime the functions deploy to. Install Python 3.13 "
        "(e.g. `apt-get install python3.13` or `pyenv install 3.13`)."
    )


def compile_asset(asset: Path) -> bool:
    """Write ``__pycache__/*.cpython-313.pyc`` beside every module of ``asset``; False (and a warning
    on stderr) when there is no python3.13 to compile with."""
    try:
        python = find_python()
    except LambdaPythonMissing as missing:
        print(
            f"warning: the code asset ships without bytecode (slower cold starts): {missing}", file=sys.stderr
        )
        return False
    command = [python, "-I", "-m", "compileall", "-q", "-j", "1", "--invalidation-mode", "unchecked-hash"]
    command += ["-s", str(asset), "-p", DEPLOYED_ROOT, str(asset)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(
            f"compiling the code asset failed: {' '.join(command)}\n{result.stdout}{result.stderr}"
        )
    return True
