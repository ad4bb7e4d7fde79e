"""Erasure: pseudonyms, the markers and suppressions kept after erasure, and the erase-a-shopper
request.
"""
