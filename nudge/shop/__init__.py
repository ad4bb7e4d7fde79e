"""The synthetic shop: a seeded fashion store whose shoppers browse, cart, abandon and buy, as
Segment-Spec events (``nudge demo``, ``simulate``, ``soak``, ``bench`` and the model evaluation run it).

``store`` runs the fortnight (sessions, carts, comebacks), ``shoppers`` says who shops and where,
``catalog`` what they buy and the event shapes, ``defects`` the malformed payloads injected on
purpose, ``randomness`` the seeded helpers. One seed always yields byte-identical events.
"""
