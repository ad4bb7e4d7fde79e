"""Running a batch of queue records: partial failures, parking what cannot succeed with a reason."""
