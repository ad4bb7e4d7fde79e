"""L3 predictions: RFM, purchase propensity, expected orders, churn risk, best send hour, categories.

Everything here is pure Python (``math`` only) because it runs inside the scorer Lambda: the
models are cheap closed forms once trained. Training needs numpy/scipy and happens offline in
``nudge.predictions`` (``nudge train``), which publishes a versioned :class:`ModelArtefact`. The one
fit that runs in Lambda is the label-free fallback's BG/NBD (``label_free``, ``bgnbd_fit``), on a
bounded sample of the shop's buyers, for a shop with no trained model that fits its history.
"""
