"""L1-L3 scheduled campaigns: plan an occurrence into scan segments, select each segment's audience."""
