"""The ``nudge`` command line, one module per command group.

``common`` holds the app and what the groups share; ``tables`` prints (Rich), the groups compute.
Importing a group registers its commands; the order below is the order ``nudge --help`` lists them.
"""

from importlib import import_module

from nudge.cli.common import app

GROUPS = (
    "run",
    "campaigns",
    "models",
    "backfill",
    "operations",
    "catalog",
)  # demo · validate · score · import · why · catalog
for _group in GROUPS:
    import_module(f"nudge.cli.{_group}")

__all__ = ["app"]
