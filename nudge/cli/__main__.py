"""``python -m nudge.cli``: the same commands as the ``nudge`` script."""

from nudge.cli import app

app()
