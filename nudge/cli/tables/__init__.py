"""Presentation: the Rich tables and reports the commands print (the commands compute, these show).

One module per command group: ``run`` (demo, bench, soak), ``campaigns`` (validate, audience,
preview, simulate), ``models`` (score, train, evaluate), ``operations`` (why, erase, dlq list),
and ``report``, the measurement report that ``demo`` and ``report`` both print.
"""
