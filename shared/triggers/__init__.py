"""L4 real-time: an event matched to a campaign becomes a delivery job, now or after its delay."""
