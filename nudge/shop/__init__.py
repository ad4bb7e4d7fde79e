"""The synthetic shop: a seeded fashion store whose shoppers browse, cart, abandon and buy, as
Segment-Spec events (``nudge demo``, ``simulate``, ``soak``, ``bench`` and the model evaluation run it).

``store`` merges the shoppers' days into one timeline, ``visits`` says when a shopper visits
(daily visits, comebacks), ``funnel`` what they do in a visit (browse, cart, checkout), ``calls``
the Segment calls their devices send, ``shoppers`` who shops and where, ``catalog`` what they buy
and the event shapes, ``defects`` the malformed payloads injected on purpose, ``randomness`` the
seeded helpers. One seed always yields byte-identical events.
"""
