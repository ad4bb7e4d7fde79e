"""Events into profiles: one write per shopper per batch, exactly once, and conversions recorded."""
