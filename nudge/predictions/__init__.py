"""Offline side of L3 predictions: fitting (numpy/scipy), event exports, scoring and evaluation.

Nothing here runs in Lambda. The scorer only needs ``shared.predictions`` (pure Python) and the
artefact this package trains.
"""
