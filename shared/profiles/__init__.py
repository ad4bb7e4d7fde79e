"""A shopper's state: the profile (aggregates of their events) and the contact ledger (sends,
suppressions), and the stores' ports.
"""
