"""`nudge bench`: what an event and a message cost — requests counted on moto, CPU measured, priced.

Requests are counted with a botocore ``before-call`` hook on every client the handlers use. CPU is
process time inside the handler minus process time spent inside botocore (which, against moto,
includes moto itself), so it is our code's cost alone. Lambda duration for the cost model is that
CPU plus the counted requests times a typical in-region latency (``benchmarks/prices.py``).

``runner.run_bench`` runs the families in turn and keeps the JSON keys ``make bench`` writes:
``ingest``, ``trigger``, ``delivery``, ``audience`` (evaluation and the worker), ``imports`` (cold
starts) on moto or in fresh interpreters; then ``cost`` prices what they measured. ``measuring``
holds what they share: the fixed start, moto's credentials, the request meter, DynamoDB item sizes.
"""
