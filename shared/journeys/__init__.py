"""Journeys at run time: a shopper's instance of a journey, moved step by step with one conditional write
per transition (docs/journeys.md). The journey as written is :mod:`shared.campaigns.journey`."""
