"""What messages earned: last-touch attribution of goal events to sent decisions, and its ports."""
