"""Run inside the Lambda-shaped Python 3.13 (``python3.13 -I -S cold_runner.py ...``): one cold start, timed.

Usage: cold_runner.py TASK_ROOT LAYER_DIR RUNTIME_DIR HANDLER < request.json

The module path is Lambda's (the code asset, the layer, the runtime's boto3, the standard library).
Three phases, each timed as process CPU and as wall time: importing the handler's module, building
its ports (``default_ports()``: clients, settings, the catalog), and the first request (the
request's ``event``, when it has one). With ``"snapstart": true`` the runner plays a SnapStart
function instead: after the import, the hooks Lambda runs before taking the snapshot (``snapshot``)
and after restoring it (``restore``), then the first request. stdout carries one JSON reply, which
also names the campaign models whose schema the process built (none, where the catalog comes from
the bundle: ``shared/campaigns/bundle.py``); the function's logs go to stderr.
"""

import importlib
import json
import os
import sys
import time
import traceback

task_root, layer_dir, runtime_dir, handler_name = sys.argv[1:5]
request = json.loads(sys.stdin.read())

reply_stream = os.fdopen(os.dup(1), "w")
os.dup2(2, 1)  # the function's own output (Powertools logs to stdout) goes to stderr
sys.stdout = sys.stderr
sys.path[:0] = [task_root, layer_dir, runtime_dir]


class Context:
    """The attributes of Lambda's context object that Powertools and the handlers read."""

    def __init__(self, fields: dict[str, object]) -> None:
        self.__dict__.update(fields)
        self._deadline = time.monotonic() + float(str(fields["timeout_s"]))

    def get_remaining_time_in_millis(self) -> int:
        return int((self._deadline - time.monotonic()) * 1000)


cpu_ms: dict[str, float] = {}
wall_ms: dict[str, float] = {}


def timed(phase: str, work):  # type: ignore[no-untyped-def]
    cpu, wall = time.process_time(), time.perf_counter()
    result = work()
    cpu_ms[phase] = round((time.process_time() - cpu) * 1000, 2)
    wall_ms[phase] = round((time.perf_counter() - wall) * 1000, 2)
    return result


def campaign_schemas_built() -> list[str]:
    """The campaign models (kinds of ``shared.campaigns.fields.Strict``) whose schema this process built:
    none, where the catalog comes from the bundle and no request validates a campaign."""
    fields = sys.modules.get("shared.campaigns.fields")
    kinds, todo = set(), [fields.Strict] if fields else []
    while todo:
        kind = todo.pop()
        kinds.add(kind)
        todo += kind.__subclasses__()
    return sorted(kind.__name__ for kind in kinds if kind.__pydantic_complete__)


reply: dict[str, object] = {"python": list(sys.version_info[:3])}
try:
    module_name, attribute = handler_name.rsplit(".", 1)
    module = timed("import", lambda: importlib.import_module(module_name))
    handler = getattr(module, attribute)
    reply["modules_after_import"] = len(sys.modules)
    if request.get("snapstart"):
        from shared.platform import snapshots

        timed("snapshot", snapshots.snapshot)
        timed("restore", snapshots.restore)
    else:
        timed("ports", module.default_ports)
    if request.get("event") is not None:
        reply["result"] = timed("request", lambda: handler(request["event"], Context(request["context"])))
        reply["modules_after_request"] = len(sys.modules)
    reply["ok"] = True
except BaseException:
    reply["ok"] = False
    reply["error"] = traceback.format_exc()
reply["campaign_schemas_built"] = campaign_schemas_built()
reply["cpu_ms"] = cpu_ms
reply["wall_ms"] = wall_ms
reply_stream.write(json.dumps(reply, default=str))
reply_stream.flush()
