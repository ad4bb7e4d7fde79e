"""L3 predictions: RFM, purchase propensity, expected orders, churn risk, best send hour, categories.

Everything here is pure Python (``math`` only) because it runs inside the scorer Lambda: the
models are cheap closed forms once trained. Fitting them needs numpy/scipy and happens offline in
``nudge.predictions`` (``nudge train``), which publishes a versioned :class:`ModelArtefact`.
"""
