"""Campaigns as code: the file model, the audience language, schedules, the delivery policy, templates,
the loader and catalog.
"""
