"""Product recommendations: item-to-item co-occurrence learnt in the daily scoring run, a shopper's top-N.

- :mod:`shared.recommendations.cooccurrence`: what each scan segment counts (:class:`ItemSketch`,
  mergeable and bounded) and the model made of the merged counts (:class:`ItemModel`: each product's
  nearest products, the most bought ones, each product's category).
- :mod:`shared.recommendations.ranking`: a shopper's top-N from their recent products
  (:mod:`shared.profiles.products`).
"""
