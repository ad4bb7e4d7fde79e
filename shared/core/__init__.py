"""What every layer may use and that uses nothing of ours: the clock, error types, money, reserved ids,
queue ports.
"""
