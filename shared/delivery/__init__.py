"""From a job to a guarded, rendered, exactly-once send: caps, quiet hours, holdouts, links, feedback,
preferences.
"""
