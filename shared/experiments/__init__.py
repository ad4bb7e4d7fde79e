"""Experiments: variants of a send step, who gets which, and which one wins (issue 21).

The statistics are pure Python (no numpy or scipy inside Lambda): intervals for a proportion and for
the difference of two (:mod:`.intervals`, which the report uses too), a sequential test that stays
valid however often it is looked at (:mod:`.sequential`), Thompson sampling and the probability of
being best (:mod:`.bandit`), and the deterministic assignment of a shopper to a variant or to the
global control group (:mod:`.assignment`). See docs/experiments.md."""
