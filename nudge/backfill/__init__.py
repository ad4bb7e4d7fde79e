"""``nudge import``: load a history export through the same ingest code as live traffic, without firing
an L4 trigger or sending anything (``formats`` reads the files, ``run`` feeds ingest)."""
