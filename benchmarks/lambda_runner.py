"""Run inside the Lambda-shaped Python 3.13 (``python3.13 -I -S lambda_runner.py ...``): one invocation.

Usage: lambda_runner.py TASK_ROOT LAYER_DIR RUNTIME_DIR HANDLER < request.json

The module path is Lambda's: the code asset (/var/task), then the layer (/opt/python), then what the
runtime ships (boto3), then the standard library — ``-S`` keeps the interpreter's own site-packages
out. The handler is imported by its template ``Handler`` string and called once with the request's
event and a context like Lambda's. The function's logs go to stderr; stdout carries one JSON reply:
the result or the traceback, where every loaded module came from, and which of the code asset's
modules had to be compiled from source (the asset ships their bytecode: infra/bytecode.py).
"""

import importlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import sysconfig
import time
import traceback

task_root, layer_dir, runtime_dir, handler_name = sys.argv[1:5]
request = json.loads(sys.stdin.read())

reply_stream = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)  # the function's own prints and logs (Powertools writes to stdout) go to stderr
sys.stdout = sys.stderr
sys.path[:0] = [task_root, layer_dir, runtime_dir]


compiled: list[str] = []
_source_to_code = importlib.machinery.SourceFileLoader.source_to_code


def _tracked_source_to_code(loader, data, path, *, _optimize=-1):  # type: ignore[no-untyped-def]
    if os.path.realpath(str(path)).startswith(os.path.realpath(task_root) + os.sep):
        compiled.append(os.path.relpath(str(path), task_root))
    return _source_to_code(loader, data, path, _optimize=_optimize)


importlib.machinery.SourceFileLoader.source_to_code = _tracked_source_to_code  # type: ignore[method-assign]


class Context:
    """The attributes of Lambda's context object that Powertools and the handlers read."""

    def __init__(self, fields: dict[str, object]) -> None:
        self.__dict__.update(fields)
        self._deadline = time.monotonic() + float(str(fields["timeout_s"]))

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


def origins() -> dict[str, str]:
    """Top-level module -> the place it was loaded from (task, layer, runtime, stdlib or elsewhere)."""
    places = {
        "task": os.path.realpath(task_root),
        "layer": os.path.realpath(layer_dir),
        "runtime": os.path.realpath(runtime_dir),
        "stdlib": os.path.realpath(sysconfig.get_paths()["stdlib"]),
        "stdlib-ext": os.path.realpath(sysconfig.get_paths()["platstdlib"]),
    }
    found = {}
    for name, module in list(sys.modules.items()):
        # this script, and its alias once multiprocessing is imported (boto3's S3 client imports it)
        if "." in name or name in ("__main__", "__mp_main__"):
            continue
        path = getattr(module, "__file__", None)
        if not path:
            found[name] = "builtin"
            continue
        real = os.path.realpath(path)
        found[name] = next((p for p, root in places.items() if real.startswith(root + os.sep)), real)
    return found


reply: dict[str, object] = {"python": list(sys.version_info[:3])}
try:
    module_name, attribute = handler_name.rsplit(".", 1)
    handler = getattr(importlib.import_module(module_name), attribute)
    reply["absent"] = [name for name in request.get("absent", []) if importlib.util.find_spec(name) is None]
    reply["result"] = handler(request["event"], Context(request["context"]))
    reply["ok"] = True
except BaseException:
    reply["ok"] = False
    reply["error"] = traceback.format_exc()
reply["origins"] = origins()
reply["compiled"] = compiled
reply_stream.write(json.dumps(reply, default=str))
reply_stream.flush()
