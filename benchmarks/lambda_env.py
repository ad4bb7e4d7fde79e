"""A Lambda-shaped Python 3.13: the runtime's boto3 and the Powertools layer's packages at the versions
pinned in constraints/, and nothing else — built with pip from PyPI and cached between runs.

The cache is ``.cache/lambda-env/<key>`` in the repository (git-ignored), keyed by the constraints
files and the interpreter, so a second ``make test`` reuses it and a changed pin builds a new one.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import platform
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.bytecode import LambdaPythonMissing, find_python

ROOT = Path(__file__).resolve().parents[1]
CONSTRAINTS = (ROOT / "constraints" / "lambda-layer.txt", ROOT / "constraints" / "lambda-runtime.txt")
CACHE = ROOT / ".cache" / "lambda-env"
RUNNER = Path(__file__).resolve().parent / "lambda_runner.py"
# What each part of a Lambda function's module path holds: the runtime ships the SDK, the layer
# Powertools and pydantic (their own dependencies come along, within the constraints).
RUNTIME_PACKAGES = ("boto3",)
LAYER_PACKAGES = ("aws-lambda-powertools", "pydantic")


@dataclass(frozen=True)
class LambdaEnv:
    python: str
    layer: Path
    runtime: Path
    built: bool  # False: taken from the cache

    def installed(self) -> dict[str, str]:
        """Distribution name -> version, for everything in the layer and runtime directories."""
        found = {}
        for directory in (self.layer, self.runtime):
            for info in directory.glob("*.dist-info"):
                name, version = info.name.removesuffix(".dist-info").rsplit("-", 1)
                found[_normal(name)] = version
        return found


def _normal(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def pinned() -> dict[str, str]:
    """Every ``name==version`` of the constraints files."""
    pins = {}
    for path in CONSTRAINTS:
        for line in path.read_text().splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                name, version = line.split("==")
                pins[_normal(name)] = version
    return pins


def cache_key(python: str) -> str:
    digest = hashlib.sha256()
    for path in CONSTRAINTS:
        digest.update(path.read_bytes())
    identity = subprocess.run(
        [python, "-c", "import sys, sysconfig; print(sys.version, sysconfig.get_platform())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    digest.update(identity.encode() + platform.machine().encode())
    return digest.hexdigest()[:16]


def _pip_install(python: str, target: Path, packages: tuple[str, ...]) -> None:
    command = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile"]
    command += ["--root-user-action=ignore", "--target", str(target)]
    for path in CONSTRAINTS:
        command += ["-c", str(path)]
    result = subprocess.run([*command, *packages], capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        raise RuntimeError(f"building the Lambda environment failed: {' '.join(command)}\n{result.stderr}")


def lambda_env() -> LambdaEnv:
    """The cached environment for the current constraints, built (into a temporary directory moved
    into place, so a parallel run never sees half of one) when there is none. Processes asking at
    the same time (the workers of a parallel ``make test``) take turns: one builds, the others wait
    for it and take its copy instead of building their own."""
    python = find_python()
    home = CACHE / cache_key(python)
    if (home / "complete").exists():
        return LambdaEnv(python, home / "layer", home / "runtime", built=False)
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f"{home.name}.lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if (home / "complete").exists():  # built by the process that held the lock before
            return LambdaEnv(python, home / "layer", home / "runtime", built=False)
        return _build(python, home)


def _build(python: str, home: Path) -> LambdaEnv:
    staging = Path(tempfile.mkdtemp(prefix="building-", dir=CACHE))
    try:
        _pip_install(python, staging / "layer", LAYER_PACKAGES)
        _pip_install(python, staging / "runtime", RUNTIME_PACKAGES)
        (staging / "complete").write_text(json.dumps({"python": python}))
        try:
            staging.rename(home)
        except OSError:  # another run finished first: use its copy
            if not (home / "complete").exists():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return LambdaEnv(python, home / "layer", home / "runtime", built=True)


def invoke(
    env: LambdaEnv,
    task_root: Path,
    handler: str,
    event: Any,
    context: dict[str, Any],
    environment: dict[str, str],
    absent: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Import ``handler`` in a fresh Lambda-shaped process and call it once; the runner's reply."""
    request = json.dumps({"event": event, "context": context, "absent": list(absent)}, default=str)
    result = subprocess.run(
        [env.python, "-I", "-S", str(RUNNER), str(task_root), str(env.layer), str(env.runtime), handler],
        input=request,
        capture_output=True,
        text=True,
        env=environment,
        timeout=300,
    )
    if not result.stdout:
        raise RuntimeError(f"{handler}: the Lambda process died (exit {result.returncode}):\n{result.stderr}")
    reply: dict[str, Any] = json.loads(result.stdout)
    reply["logs"] = result.stderr
    return reply


__all__ = ["LambdaEnv", "LambdaPythonMissing", "find_python", "invoke", "lambda_env", "pinned"]
