"""What gets deployed, declared once: tables, queues, functions, rules, schedules (topology) and their
names.
"""
