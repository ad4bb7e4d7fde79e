"""The product catalog: what each product is, costs and has in stock now, kept current from the events
that carry products and from a feed, read by templates at send time (docs/catalog.md)."""
